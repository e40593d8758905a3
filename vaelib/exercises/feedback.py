"""How every self-check answers, in one voice: ``Right: <why>`` or ``Not yet: <hint>``.

A check calls the student's code safely (``call_student``), compares numbers with a tolerance
(``is_close``: Python floats, NumPy and tensor scalars alike), refuses the library shortcut
while it runs (``refuse_shortcut``), and prints one line through ``right`` or ``not_yet``,
returning the bool it printed.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Callable, Iterator
from types import ModuleType

import numpy as np
import torch


class ShortcutError(RuntimeError):
    """Raised by a library function the student was asked to write themselves."""


def right(why: str) -> bool:
    """Print ``Right: <why>`` (one line on why the answer is right); return True."""
    print(f"Right: {why}")
    return True


def not_yet(hint: str) -> bool:
    """Print ``Not yet: <hint>`` (a hint that points at the mistake); return False."""
    print(f"Not yet: {hint}")
    return False


def unanswered(answer: object, what: str) -> bool:
    """True (and say what to fill in) while the exercise's placeholder ``None`` is untouched."""
    if answer is None:
        print(f"No answer yet: replace None with {what}, then run the cell again.")
        return True
    return False


def as_float(answer: object, name: str = "answer") -> float:
    """``answer`` as a float: a Python number, a NumPy scalar or a one-element tensor/array.

    Raises TypeError naming ``name`` for anything else (a string, a list, a bigger tensor).
    """
    if isinstance(answer, bool):
        raise TypeError(f"{name} must be a number, got the bool {answer!r}.")
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        return float(answer.detach().reshape(()).item())
    if isinstance(answer, np.ndarray) and answer.size == 1:
        return float(answer.reshape(()))
    if isinstance(answer, numbers.Real | np.generic):
        return float(answer)
    raise TypeError(
        f"{name} must be a single number (a float, a NumPy scalar or a one-element tensor), "
        f"got {type(answer).__name__}: {answer!r:.80}."
    )


def as_floats(answer: object, n: int, name: str = "answer") -> list[float]:
    """``answer`` as ``n`` floats: a tuple or list of ``n`` numbers (Python, NumPy or one-element
    tensors), or a NumPy array / tensor of ``n`` elements. Raises TypeError naming ``name``."""
    if isinstance(answer, torch.Tensor):
        answer = answer.detach().reshape(-1).tolist()
    elif isinstance(answer, np.ndarray):
        answer = answer.reshape(-1).tolist()
    if not isinstance(answer, tuple | list) or len(answer) != n:
        raise TypeError(
            f"{name} must be {n} numbers, e.g. a tuple (a, b), got {type(answer).__name__}: "
            f"{answer!r:.80}."
        )
    return [as_float(a, f"each number of {name}") for a in answer]


def is_close(answer: object, target: float, rtol: float = 1e-6, atol: float = 0.0) -> bool:
    """``|answer - target| <= max(rtol * |target|, atol)`` for a finite numeric answer."""
    value = as_float(answer)
    return math.isfinite(value) and math.isclose(value, target, rel_tol=rtol, abs_tol=atol)


def call_student(
    fn: Callable[..., object],
    *args: object,
    dtype: torch.dtype = torch.float64,
    none_hint: str = "write its body.",
) -> torch.Tensor | str:
    """``fn(*args)`` as a tensor of ``dtype``, or a hint (a str) saying what went wrong: it
    raised (a ``ShortcutError`` says which library function it called), returned None, or
    returned something that is no tensor."""
    try:
        got = fn(*args)
        if got is None:
            return f"your function returns None: {none_hint}"
        return torch.as_tensor(got, dtype=dtype)
    except ShortcutError as err:
        return str(err)
    except Exception as err:  # noqa: BLE001 - the student's code may fail in any way
        return f"your function raised {type(err).__name__}: {err}"


@contextlib.contextmanager
def refuse_shortcut(
    fn: Callable[..., object], *targets: tuple[ModuleType, str]
) -> Iterator[Callable[..., object]]:
    """While the block runs, each ``(module, "name")`` in ``targets`` raises ShortcutError
    ("write it yourself"), whether the student's ``fn`` reaches it as ``module.name`` or
    through a name imported into the notebook (``from module import name``).

    Yields the function to call inside the block: ``fn`` itself, or a refusing stand-in when
    ``fn`` *is* one of the library functions (the student passed ``latent.interpolate``)::

        with refuse_shortcut(fn, (latent, "interpolate")) as student:
            got = call_student(student, z0, z1, 5)
    """
    patched: list[tuple[object, str, object]] = []
    namespace = getattr(fn, "__globals__", {})
    student = fn
    for module, attr in targets:
        original = getattr(module, attr)

        def refuse(*_args: object, _name: str = f"{module.__name__}.{attr}", **_kw: object):
            raise ShortcutError(
                f"write it yourself: the check refuses {_name}, the library's version of "
                "what this exercise asks you to write."
            )

        if fn is original:
            student = refuse
        patched.append((module, attr, original))
        setattr(module, attr, refuse)
        for key, value in list(namespace.items()):
            if value is original:
                patched.append((namespace, key, original))
                namespace[key] = refuse
    try:
        yield student
    finally:
        for owner, key, original in reversed(patched):
            if isinstance(owner, dict):
                owner[key] = original
            else:
                setattr(owner, key, original)
