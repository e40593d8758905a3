"""Solutions to lesson 08's self-checked exercises (beta, posterior collapse, learned priors)."""

from __future__ import annotations

import torch


def count_active_units(mu: torch.Tensor, logvar: torch.Tensor, threshold: float) -> int:
    """KL of each dimension to N(0, 1), ``0.5 * (mu^2 + exp(logvar) - 1 - logvar)``, averaged
    over the images (dim 0), then counted above the threshold. Why KL_d and not Var(mu_d): a
    dimension whose mean never moves but whose variance differs from 1 still costs nats (and
    Burda's activity would call it inactive); the KL sees both."""
    kl_d = (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean(0)  # (D,)
    return int((kl_d > threshold).sum())


CHECKS = [("vaelib.exercises.collapse", "check_active_units", count_active_units)]
