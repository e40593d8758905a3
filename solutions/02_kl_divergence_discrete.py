"""Solutions to lesson 02's exercises (notebooks/02_kl_divergence_discrete.ipynb).

Try each exercise first: its self-check tells you whether you are right and, if not, where to
look. Each solution is written out and says in its docstring why it is right.
"""

from __future__ import annotations

import math

import torch

from vaelib import kl

P_FAIR = [1 / 6] * 6
Q_SKEWED = [0.05, 0.1, 0.15, 0.2, 0.2, 0.3]  # vaelib.exercises.kl.SKEWED_DIE

die_kl = sum(p * math.log(p / q) for p, q in zip(P_FAIR, Q_SKEWED, strict=True))
"""Exercise 1: ``D_KL(P || Q) = sum_x P(x) log(P(x) / Q(x))`` with P the fair die, in nats.

Why: the weights in front of the log come from P (the world), the natural log gives nats. The
faces that Q under-rates (face 1: 1/6 against 0.05) cost the most; face 6, which Q over-rates,
gives a negative term, and the sum stays positive (Gibbs)."""


def kl_bits(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Exercise 2: ``D_KL(P || Q)`` in bits, p, q (..., K) -> (...,).

    Why: ``D_KL(P || Q) = H(P, Q) - H(P)``, the expected excess surprise, and both entropies
    come in nats; one bit is ``log 2`` nats, so dividing by ``math.log(2)`` converts. Both
    functions reduce the last dimension only, so batches of any shape work.
    """
    return (kl.cross_entropy(p, q) - kl.entropy(p)) / math.log(2)


# Exercise 3: the Gaussian minimising D_KL(P || Q) for P = 0.2 N(-3, 0.5^2) + 0.8 N(1, 1).
_w, _mu, _sigma = (0.2, 0.8), (-3.0, 1.0), (0.5, 1.0)
forward_mu = sum(w * m for w, m in zip(_w, _mu, strict=True))
forward_sigma = math.sqrt(
    sum(w * (s**2 + m**2) for w, m, s in zip(_w, _mu, _sigma, strict=True)) - forward_mu**2
)
forward_fit = (forward_mu, forward_sigma)
"""Exercise 3: ``(mu, sigma)`` = P's mean and standard deviation.

Why: for a Gaussian Q, ``D_KL(P || Q) = -H(P) + E_P[-log Q(x)]`` and ``E_P[-log Q]`` depends on
P only through its mean and variance; setting its derivatives to zero gives ``mu = E_P[x]`` and
``sigma^2 = Var_P[x] = sum_j w_j (sigma_j^2 + mu_j^2) - mu^2``. The variance includes the
spread *between* the modes, which is why the forward fit stretches over both."""


CHECKS = [
    ("vaelib.exercises.kl", "check_die_kl", die_kl),
    ("vaelib.exercises.kl", "check_kl_bits", kl_bits),
    ("vaelib.exercises.kl", "check_forward_fit", forward_fit),
]
