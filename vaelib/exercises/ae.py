"""Self-checks for lesson 01 (limitations of autoencoders): each prints right or wrong and
returns a bool."""

from __future__ import annotations

from collections.abc import Callable

import torch

from vaelib.exercises.feedback import call_student, report


def check_interpolate(fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> bool:
    """``fn(z0, z1, steps)`` with z0, z1 (D,) must return (steps, D): the points
    ``z(t) = (1 - t) z0 + t z1`` for ``t = 0, 1/(steps - 1), ..., 1``."""
    z0 = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    z1 = torch.tensor([3.0, 2.0, 0.5], dtype=torch.float64)
    t = torch.linspace(0, 1, 5, dtype=torch.float64).unsqueeze(1)
    expected = (1 - t) * z0 + t * z1
    got = call_student(fn, z0, z1, 5)
    if isinstance(got, str):
        return report(False, got)
    if got.shape != expected.shape:
        return report(False, f"return one row per step, shape (5, 3), got {tuple(got.shape)}.")
    if torch.allclose(got, expected.flip(0), atol=1e-6):
        return report(False, "start at z0 (t = 0) and end at z1 (t = 1): swap the weights.")
    ok = torch.allclose(got, expected, atol=1e-6)
    return report(ok, "t = torch.linspace(0, 1, steps)[:, None]; return (1 - t) * z0 + t * z1.")


def check_standardize(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """``fn(z)`` with codes z (N, D) must return ``(z - mean) / std`` with the mean and the
    standard deviation of each dimension (column) over the N codes, so every column of the
    result has mean 0 and standard deviation 1."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(400, 2, generator=g, dtype=torch.float64) * torch.tensor(
        [3.0, 0.5], dtype=torch.float64
    ) + torch.tensor([10.0, -4.0], dtype=torch.float64)
    expected = (z - z.mean(0)) / z.std(0)
    got = call_student(fn, z.clone())
    if isinstance(got, str):
        return report(False, got)
    if got.shape != z.shape:
        return report(False, f"return one row per code, shape (400, 2), got {tuple(got.shape)}.")
    if not torch.allclose(got.mean(0), torch.zeros(2, dtype=torch.float64), atol=1e-6):
        return report(False, "subtract each column's mean: z.mean(dim=0).")
    # unbiased (N - 1) or biased (N) standard deviation: both are fine here
    ok = torch.allclose(got, expected, rtol=5e-3, atol=1e-6)
    return report(ok, "divide each column by its own standard deviation: z.std(dim=0).")
