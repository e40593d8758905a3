"""Solutions to lesson 08's self-checked exercises (beta, posterior collapse, learned priors)."""

from __future__ import annotations

import torch


def count_active_units(mu: torch.Tensor, logvar: torch.Tensor, threshold: float) -> int:
    """Burda et al.'s (2016) active units: the variance over the images (dim 0) of each
    dimension's posterior mean, ``A_d = Var_x(mu_d)``, counted above the threshold. logvar is
    not needed: a dimension whose mean never moves carries nothing about x, whatever its
    variance (its KL_d, the rate it costs, may still be large)."""
    return int((mu.var(0) > threshold).sum())


CHECKS = [("vaelib.exercises.collapse", "check_active_units", count_active_units)]
