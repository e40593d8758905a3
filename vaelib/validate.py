"""One home for input checks: every public vaelib function validates through these.

Each check raises a ``ValueError`` or ``TypeError`` whose message names the argument, what it
got, and the fix, e.g. ``x is uint8 (0..255 pixels): pass vaelib.data.to_float(x)``.
Wrong kinds of input (a list for a tensor, an int tensor, a float ``k``) raise
``InputTypeError``, a ``TypeError`` that is also a ``ValueError`` (what the course raised
before, so ``except ValueError`` keeps working).

Checks that read a value back (``unit_interval``, ``finite``, ``positive``, ``symmetric_psd``)
make the host wait for the device on a GPU (a sync): student-facing helpers may call them,
a training loop must not call them per batch. Shape and dtype checks are free.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import torch

TO_FLOAT = "pass vaelib.data.to_float(x) (uint8 0..255 -> float32 in [0, 1])"
SYMMETRY_ULPS = 1000  # |cov - cov^T| <= 1000 eps(dtype) max|cov|: rounding, not a wrong matrix


class InputTypeError(TypeError, ValueError):
    """The wrong kind of input (a TypeError), catchable as ValueError as well."""


def tensor(t: object, name: str) -> torch.Tensor:
    """``t`` itself when it is a tensor; else an ``InputTypeError`` naming ``name``."""
    if not isinstance(t, torch.Tensor):
        raise InputTypeError(
            f"{name} must be a floating-point tensor, got {type(t).__name__}: wrap it with "
            f"torch.as_tensor({name}, dtype=torch.float32)."
        )
    return t


def floating(t: object, name: str, *, half: bool = False) -> torch.Tensor:
    """``t`` when it is a float32/float64 tensor (float16/bfloat16 too when ``half``).

    uint8 (0..255 pixels), other integers, bool and (unless ``half``) half precision raise an
    ``InputTypeError`` that says how to convert: integers silently wrap or truncate in the
    formulas, and half precision rounds sums of 784 pixels to a few significant digits.
    """
    tensor(t, name)
    if t.dtype == torch.uint8:
        raise InputTypeError(
            f"{name} must be a floating-point tensor, got uint8 (0..255 pixels?): "
            f"{TO_FLOAT.replace('(x)', f'({name})')}, or {name}.float() if it is not an image."
        )
    if not t.is_floating_point():
        raise InputTypeError(
            f"{name} must be a floating-point tensor, got {t.dtype}: use {name}.float() "
            "(and divide by 255 if it holds 0..255 pixels)."
        )
    if not half and t.dtype in (torch.float16, torch.bfloat16):
        raise InputTypeError(
            f"{name} must be a floating-point tensor of float32 or float64, got {t.dtype}: use "
            f"{name}.float() (half precision rounds sums over many pixels)."
        )
    return t


def same_shape(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str], fix: str = "") -> None:
    """Equal shapes, no broadcasting: a (1, ...) target against a (N, ...) batch is an error."""
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} has shape {tuple(a.shape)} but {names[1]} has shape {tuple(b.shape)}: "
            + (fix or "pass tensors of the same shape (a target is never broadcast).")
        )


def batch(t: torch.Tensor, name: str, dims: int | None = None, what: str = "(N, ...)") -> None:
    """``t`` has ``dims`` dimensions (any >= 1 when None) and at least one row."""
    if (dims is not None and t.dim() != dims) or t.dim() < 1 or t.shape[0] < 1:
        raise ValueError(
            f"{name} must have shape {what} with N >= 1, got {tuple(t.shape)}: "
            "pass a batch (x[None] for a single example)."
        )


def finite(t: torch.Tensor, name: str, fix: str = "") -> None:
    """No nan or inf in ``t`` (a sync on a GPU)."""
    if t.numel() and not bool(torch.isfinite(t.detach()).all()):
        n_bad = int((~torch.isfinite(t.detach())).sum())
        raise ValueError(
            f"{name} contains nan or inf ({n_bad} values): "
            + (fix or f"drop them or find where they came from (torch.isfinite({name})).")
        )


def unit_interval(t: torch.Tensor, name: str, fix: str = "") -> None:
    """Every entry of ``t`` in [0, 1] and none nan (a sync on a GPU)."""
    if not t.numel():
        return
    t = t.detach()
    arg = name.split()[0]  # "x (the targets)" -> x
    if bool(torch.isnan(t).any()):
        raise ValueError(
            f"{name} contains nan: pixels must lie in [0, 1]; find the nan "
            f"(torch.isnan({arg}).nonzero()) and drop or fix that image."
        )
    lo, hi = float(t.min()), float(t.max())
    if lo < 0 or hi > 1:
        hint = fix or (
            f"divide 0..255 pixels by 255 ({TO_FLOAT.replace('(x)', f'({arg})')})"
            if hi > 1 and lo >= 0
            else f"map {name} into [0, 1] first"
        )
        raise ValueError(f"{name} must lie in [0, 1], got values in [{lo:.3g}, {hi:.3g}]: {hint}.")


def on_host(t: torch.Tensor) -> bool:
    """True where a value check is cheap: a CPU tensor outside ``torch.compile``. Building
    blocks of the training step check values only there (no sync, no graph break)."""
    return t.device.type == "cpu" and not torch.compiler.is_compiling()


def positive(t: torch.Tensor | float, name: str, fix: str = "") -> None:
    """Every entry > 0 (a scale: sigma, a standard deviation, a width)."""
    t = torch.as_tensor(t).detach()
    if t.numel() and not bool((t > 0).all()):
        raise ValueError(
            f"{name} must be positive everywhere, got min {float(t.min()):.3g}: "
            + (fix or f"pass a standard deviation > 0 (e.g. {name}.abs() or exp(0.5 * logvar)).")
        )


def symmetric_psd(cov: torch.Tensor, name: str = "cov", *, definite: bool = True) -> None:
    """``cov`` (D, D) symmetric up to rounding (``SYMMETRY_ULPS``) and positive (semi-)definite."""
    if cov.dim() != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"{name} must be a square matrix (D, D), got {tuple(cov.shape)}.")
    finite(cov, name)
    tol = SYMMETRY_ULPS * torch.finfo(cov.dtype if cov.is_floating_point() else torch.float32).eps
    c = cov.double()
    scale = max(float(c.abs().max()), 1e-300)
    asym = float((c - c.T).abs().max())
    if asym > tol * scale:
        raise ValueError(
            f"{name} is not symmetric (max |{name} - {name}.T| = {asym:.3g}): a covariance "
            f"matrix is symmetric; pass ({name} + {name}.T) / 2 or recompute it (code_moments)."
        )
    eig_min = float(torch.linalg.eigvalsh(c).min())
    if eig_min < 0 or (definite and eig_min <= 0):
        kind = "definite" if definite else "semi-definite"
        raise ValueError(
            f"{name} is not positive {kind} (smallest eigenvalue {eig_min:.3g}): the codes lie on "
            "a lower-dimensional set; drop the dead dimensions or add a small multiple of the "
            "identity."
        )


def integer(value: object, name: str, minimum: int | None = 1, what: str = "") -> int:
    """``value`` as an int >= ``minimum`` (any int when None): a float (even 2.0), a bool or a
    string is refused, never truncated."""
    req = "an int" + (f" >= {minimum}" if minimum is not None else "")
    req = "a positive int" if minimum == 1 else req
    about = f" ({what})" if what else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(
            f"{name} must be {req}{about}, got {type(value).__name__} {value!r}: pass a whole "
            f"number, e.g. {name}=int(round(...))."
        )
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be {req}{about}, got {value}.")
    return int(value)


def integers(values: Iterable[object], name: str, minimum: int | None = 1) -> list[int]:
    """Every element of ``values`` an int >= ``minimum`` (``range(1, 11)``, a list of ints)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise InputTypeError(
            f"{name} must be an iterable of ints, got {type(values).__name__}: e.g. range(1, 11)."
        )
    out = []
    for v in values:
        if isinstance(v, torch.Tensor) and v.dim() == 0 and not v.is_floating_point():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise InputTypeError(
                f"{name} must hold ints, got {type(v).__name__} {v!r}: floats are not truncated "
                f"silently; pass whole numbers, e.g. {name}=range(1, 11)."
            )
        if minimum is not None and v < minimum:
            raise ValueError(f"{name} must hold ints >= {minimum}, got {v}.")
        out.append(int(v))
    return out


def number(
    value: object, name: str, *, minimum: float | None = None, strict: bool = False
) -> float:
    """``value`` as a finite real number (> or >= ``minimum`` when given)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{name} must be a number, got {type(value).__name__} {value!r}.")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        req = {(0, False): "a non-negative number", (0, True): "a positive number"}.get(
            (minimum, strict), f"a number {'>' if strict else '>='} {minimum:g}"
        )
        raise ValueError(f"{name} must be {req}, got {value!r}.")
    return value


def rows(t: object, name: str, minimum: int = 1) -> int:
    """The number of rows N of a tensor ``t`` (N, ...), refused below ``minimum``."""
    tensor(t, name)
    if t.dim() < 1 or t.shape[0] < minimum:
        raise ValueError(
            f"{name} must have shape (N, ...) with N >= {minimum}, got {tuple(t.shape)}."
        )
    return int(t.shape[0])


def codes(z: object, name: str = "z", *, dim: int | None = None, minimum: int = 1) -> torch.Tensor:
    """``z`` when it is a float tensor of codes ``(N, D)``, one per row, with N >= ``minimum``,
    D >= 1 (and D = ``dim`` when given)."""
    floating(z, name, half=True)
    if z.dim() != 2 or z.shape[0] < minimum or z.shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (N, D) with N >= {minimum}, D >= 1, got {tuple(z.shape)}: "
            f"one code per row ({name}.reshape(len({name}), -1))."
        )
    if dim is not None and z.shape[1] != dim:
        raise ValueError(
            f"{name} has {z.shape[1]} dimensions per code, expected D = {dim}: draw or encode "
            "it in the same latent space."
        )
    return z


def posterior(
    mu: object, logvar: object, names: tuple[str, str] = ("mu", "logvar"), *, minimum: int = 1
) -> None:
    """An encoder's output pair: ``mu`` and ``logvar`` float tensors of one shape ``(N, D)``
    (N >= ``minimum``), the parameters of ``q(z|x_n) = N(mu_n, diag exp(logvar_n))``."""
    for t, name in zip((mu, logvar), names, strict=True):
        if not isinstance(t, torch.Tensor):
            raise InputTypeError(
                f"{names[0]} and {names[1]} must be tensors (N, D), the encoder's two outputs; "
                f"{name} is {type(t).__name__}."
            )
        floating(t, name, half=True)
    if mu.dim() != 2 or mu.shape != logvar.shape or mu.shape[0] < minimum or mu.shape[1] < 1:
        raise ValueError(
            f"{names[0]} {tuple(mu.shape)} and {names[1]} {tuple(logvar.shape)} must both have "
            f"shape (N, D) with N >= {minimum}: the encoder's two outputs, one row per image."
        )
