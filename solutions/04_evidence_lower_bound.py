"""Solutions to the exercises of lesson 04, the evidence lower bound.

One function or value per self-checked exercise, named as in the notebook; CHECKS lists them
for tests/test_solutions.py.
"""

from __future__ import annotations

import math


def elbo_1d(x, mu, logvar, w, b, sigma2):
    """Exercise 1: the ELBO of q = N(mu, exp(logvar)) in p(z) = N(0, 1), p(x|z) = N(w z + b, sigma2).

    Why: log p(x|z) is quadratic in z, so its expectation under q needs only q's mean and
    variance, E_q[(x - w z - b)^2] = (x - w mu - b)^2 + w^2 sigma_q^2 (the spread of q is
    charged too); the KL to N(0, 1) is lesson 03's closed form. ELBO = reconstruction - KL.
    """
    var = logvar.exp()
    reconstruction = -0.5 * math.log(2 * math.pi * sigma2) - (
        (x - w * mu - b) ** 2 + w**2 * var
    ) / (2 * sigma2)
    kl = 0.5 * (var + mu**2 - 1 - logvar)
    return reconstruction - kl


def _prior_gap(x: float = 1.0, w: float = 2.0, b: float = 0.0, sigma2: float = 1.0) -> float:
    """log p(x) - ELBO for q = p(z): log N(x; b, w^2 + sigma2) minus E_{N(0,1)}[log p(x|z)]."""
    log_px = -0.5 * math.log(2 * math.pi * (w**2 + sigma2)) - (x - b) ** 2 / (2 * (w**2 + sigma2))
    elbo = -0.5 * math.log(2 * math.pi * sigma2) - ((x - b) ** 2 + w**2) / (2 * sigma2)  # KL = 0
    return log_px - elbo


prior_gap = _prior_gap()
"""Exercise 2: about 1.595 nats. Why: q = p(z) costs no KL, but it ignores x; the gap is
KL(p(z) || p(z|x)) with the posterior N(0.4, 0.2): log p(x) = log N(1; 0, 5) and the ELBO is
the expected log-likelihood under N(0, 1), -0.5 log(2 pi) - (1 + 4) / 2."""

CHECKS = [
    ("vaelib.exercises.elbo", "check_elbo_1d", elbo_1d),
    ("vaelib.exercises.elbo", "check_prior_gap", prior_gap),
]
