"""Self-checks for lesson 01 (the limitations of plain autoencoders).

Each ``check_*`` prints ``Right: <why>`` or ``Not yet: <hint>`` (``vaelib.exercises.feedback``)
and returns a bool. The student's function is tested on inputs the lesson never shows (other
dimensions, dtypes, the fewest steps, equal end points), with ``vaelib.latent``'s own version
refused while the check runs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vaelib import latent
from vaelib.exercises.feedback import call_student, not_yet, refuse_shortcut, right, unanswered


def _interpolate_cases() -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    g = torch.Generator().manual_seed(1)
    f64 = {"generator": g, "dtype": torch.float64}
    same = torch.full((4,), 3.0, dtype=torch.float64)
    return [
        (torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64), torch.randn(3, **f64), 5),
        (torch.randn(20, **f64), torch.randn(20, **f64), 7),  # a 20-D latent space
        (torch.randn(2, **f64), torch.randn(2, **f64), 2),  # the two end points only
        (torch.randn(1, **f64), torch.randn(1, **f64), 11),  # one dimension
        (same, same.clone(), 4),  # z0 = z1: a constant path
        (torch.randn(2, generator=g), torch.randn(2, generator=g), 6),  # float32 codes
    ]


def check_interpolate(fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> bool:
    """``fn(z0, z1, steps)`` with z0, z1 (D,) must return (steps, D): the points
    ``z(t) = (1 - t) z0 + t z1`` for ``t = 0, 1/(steps - 1), ..., 1`` (``latent.interpolate``
    is refused: write it yourself)."""
    if unanswered(fn, "your function"):
        return False
    with refuse_shortcut(fn, (latent, "interpolate")) as student:
        for z0, z1, steps in _interpolate_cases():
            a, b = z0.double(), z1.double()
            t = torch.linspace(0, 1, steps, dtype=torch.float64).unsqueeze(1)
            expected = (1 - t) * a + t * b
            got = call_student(
                student, z0.clone(), z1.clone(), steps, none_hint="return the points."
            )
            if isinstance(got, str):
                return not_yet(got)
            shape = (steps, len(z0))
            if got.shape != shape:
                if got.shape == shape[::-1]:
                    return not_yet(
                        f"one row per step: shape {shape}, not {shape[::-1]}; use t[:, None]."
                    )
                return not_yet(
                    f"for D = {len(z0)} and steps = {steps} return shape {shape}, got "
                    f"{tuple(got.shape)}: one row z(t) per step."
                )
            tol = {"rtol": 1e-6 if z0.dtype == torch.float64 else 1e-5, "atol": 1e-6}
            if torch.allclose(got, expected, **tol):
                continue
            if torch.allclose(got, expected.flip(0), **tol):
                return not_yet("start at z0 (t = 0) and end at z1 (t = 1): swap the weights.")
            if torch.allclose(got[0], a, **tol) and not torch.allclose(got[-1], b, **tol):
                return not_yet(
                    "the last row must be z1 (t = 1): t = k / (steps - 1) for k = 0 ... "
                    "steps - 1, e.g. torch.linspace(0, 1, steps)."
                )
            return not_yet(
                f"wrong for D = {len(z0)}, steps = {steps}: row k is (1 - t) z0 + t z1 with "
                "t = k / (steps - 1)."
            )
    return right(
        "t = linspace(0, 1, steps)[:, None] broadcasts against z0, z1 of shape (D,), so one "
        "line gives every point, in any dimension."
    )


def _standardize_cases() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    f64 = {"generator": g, "dtype": torch.float64}
    scale = torch.tensor([3.0, 0.5], dtype=torch.float64)
    shift = torch.tensor([10.0, -4.0], dtype=torch.float64)
    return [
        torch.randn(400, 2, **f64) * scale + shift,  # two columns on very different scales
        torch.randn(50, 5, **f64) * torch.arange(1, 6) + 7,  # five dimensions
        torch.randn(30, 1, **f64) * 100,  # one dimension
    ]


def check_standardize(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """``fn(z)`` with codes z (N, D) must return ``(z - mean) / std`` with the mean and the
    standard deviation of each dimension (column) over the N codes, so every column of the
    result has mean 0 and standard deviation 1 (either the N or the N - 1 convention)."""
    if unanswered(fn, "your function"):
        return False
    for z in _standardize_cases():
        got = call_student(fn, z.clone(), none_hint="return the standardised codes.")
        if isinstance(got, str):
            return not_yet(got)
        if got.shape != z.shape:
            return not_yet(
                f"return one row per code, shape {tuple(z.shape)}, got {tuple(got.shape)}."
            )
        centred = z - z.mean(0)
        right_answers = [centred / z.std(0), centred / z.std(0, correction=0)]
        if any(torch.allclose(got, r, rtol=1e-6, atol=1e-9) for r in right_answers):
            continue
        if torch.allclose(got, centred, rtol=1e-6, atol=1e-9):
            return not_yet("the columns are centred; now divide each by its standard deviation.")
        if torch.allclose(got, centred / z.var(0), rtol=1e-6, atol=1e-9):
            return not_yet("divide by the standard deviation (z.std(dim=0)), not the variance.")
        if not torch.allclose(got.mean(0), torch.zeros_like(got[0]), atol=1e-6):
            return not_yet(
                "each column needs its own mean: z.mean(dim=0), shape (D,), not z.mean() "
                "over all numbers or dim=1 over each row."
            )
        return not_yet("each column needs its own standard deviation: z.std(dim=0), shape (D,).")
    return right(
        "statistics over dim=0 have shape (D,) and broadcast over the N rows: every dimension "
        "now has mean 0 and standard deviation 1."
    )
