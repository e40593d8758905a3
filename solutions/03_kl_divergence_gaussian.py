"""Solutions to lesson 03's exercises (notebooks/03_kl_divergence_gaussian.ipynb).

Try each exercise first: its self-check tells you whether you are right and, if not, where to
look. Each solution is written out (no call to ``kl.kl_gaussian``, which the check refuses) and
says in its docstring why it is right.
"""

from __future__ import annotations

import math

import torch

gaussian_kl = 0.5 * (2.0**2 + 1.0**2 - 1 - math.log(2.0**2))
"""Exercise 1: ``D_KL(N(1, 2^2) || N(0, 1)) = 0.5 (sigma^2 + mu^2 - 1 - log sigma^2)``, nats.

Why: the closed form against N(0, 1) with mu = 1 and the *variance* sigma^2 = 4: the mean
costs mu^2 / 2 = 0.5 nats, the too-wide distribution 0.5 (4 - 1 - log 4) more."""


def vae_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Exercise 2: ``-0.5 * sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))``; (N, D) -> (N,).

    Why: a diagonal Gaussian's KL to N(0, I) is the sum over dimensions of the 1-D closed form
    ``0.5 (sigma^2 + mu^2 - 1 - log sigma^2)``; with ``logvar = log sigma^2`` the variance is
    ``exp(logvar)``. Summing over ``dim=-1`` only leaves one KL per row (image).
    """
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1)


samples_needed = 400 * (0.05 / 0.02) ** 2
"""Exercise 3: ``n = 400 (0.05 / 0.02)^2 = 2500`` samples.

Why: the standard error is ``c / sqrt(n)``; the measurement gives ``c = 0.05 sqrt(400) = 1``,
and ``1 / sqrt(n) = 0.02`` gives n = 2500: an error 2.5 times smaller costs 2.5^2 = 6.25
times the samples."""


CHECKS = [
    ("vaelib.exercises.kl", "check_gaussian_kl", gaussian_kl),
    ("vaelib.exercises.kl", "check_vae_kl_term", vae_kl),
    ("vaelib.exercises.kl", "check_samples_needed", samples_needed),
]
