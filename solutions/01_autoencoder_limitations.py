"""Solutions to lesson 01's exercises (notebooks/01_autoencoder_limitations.ipynb).

Try each exercise first: its self-check tells you whether you are right and, if not, where to
look. Each solution is written out (no call to the vaelib function it re-implements, which the
check refuses) and says in its docstring why it is right.
"""

from __future__ import annotations

import torch


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """``z(t) = (1 - t) z0 + t z1`` for ``t = 0, 1/(steps - 1), ..., 1``; z0, z1 (D,) -> (steps, D).

    Why: ``torch.linspace(0, 1, steps)`` gives the ``steps`` values of t with both ends included;
    as a column ``t[:, None]`` of shape (steps, 1) it broadcasts against codes of shape (D,), so
    one line computes every point in any dimension, row 0 = z0 and the last row = z1.
    """
    t = torch.linspace(0, 1, steps, dtype=z0.dtype, device=z0.device)[:, None]  # (steps, 1)
    return (1 - t) * z0 + t * z1


def standardize(z: torch.Tensor) -> torch.Tensor:
    """``(z - mean) / std`` per dimension; z (N, D) -> (N, D).

    Why: the statistics over the N codes (``dim=0``) have shape (D,) and broadcast over the rows,
    so every column ends with mean 0 and standard deviation 1. It is an affine map: it moves and
    stretches the codes, and so it keeps every hole where it was (the open exercise measures it).
    """
    return (z - z.mean(dim=0)) / z.std(dim=0)


CHECKS = [
    ("vaelib.exercises.ae", "check_interpolate", interpolate),
    ("vaelib.exercises.ae", "check_standardize", standardize),
]
