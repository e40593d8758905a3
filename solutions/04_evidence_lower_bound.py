"""Solutions to the exercises of lesson 04, the evidence lower bound.

One function or value per self-checked exercise, named as in the notebook; CHECKS lists them
for tests/test_solutions.py.
"""

from __future__ import annotations

import math

import torch


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


def open_exercise_harder_posterior(
    mixes: tuple = ([[1.0, 0.8], [0.0, 0.5]], [[1.0, 0.95], [0.0, 0.2]]),
    noises: tuple = (0.5, 0.1),
    seed: int = 0,
) -> dict:
    """Exercise 3 (open): how the true posterior's correlation and the diagonal floor change.

    For the lesson's model (mix ``[[1, 0.8], [0, 0.5]]``, noise 0.5) and harder ones (nearly
    parallel columns of W, and/or lower noise), computes in closed form the posterior precision
    ``Lambda = I + W^T Psi^-1 W``, the posterior correlation of z_1 and z_2, the diagonal floor
    ``0.5 (sum_j log Lambda_jj - log det Lambda)`` (the smallest gap a diagonal q can reach) and
    the diagonal q's best variances ``1 / Lambda_jj``. Returns ``{(mix index, noise): {...}}``.

    What it shows: the more parallel W's columns and the less noise, the more the data pin
    down a combination of z_1 and z_2 rather than each: the posterior correlation should move
    towards -1 (or +1), and the floor should grow, since a diagonal q must shrink its
    variances to ``1 / Lambda_jj``, much smaller than the posterior's marginal variances. The
    IWAE bound ``L_k`` then needs larger k to close the diagonal encoder's gap, and a Monte
    Carlo ELBO in training adds noise to the gap curve without changing where it settles.
    """
    from vaelib import linear_gaussian as lg

    out = {}
    for i, mix in enumerate(mixes):
        for noise in noises:
            g = torch.Generator().manual_seed(seed)
            base = lg.random_model(5, 2, generator=g, noise=noise)
            w = base.W @ torch.tensor(mix, dtype=torch.float64)
            psi = base.psi.expand(w.shape[0]) if base.psi.dim() == 0 else base.psi
            precision = torch.eye(2, dtype=torch.float64) + w.T @ (w / psi[:, None])
            cov = torch.linalg.inv(precision)
            corr = cov[0, 1] / (cov[0, 0] * cov[1, 1]).sqrt()
            floor = 0.5 * (precision.diagonal().log().sum() - torch.linalg.slogdet(precision)[1])
            out[(i, noise)] = {
                "correlation": float(corr),
                "diagonal_floor": float(floor),
                "diagonal_variances": (1 / precision.diagonal()).tolist(),
            }
    return out


CHECKS = [
    ("vaelib.exercises.elbo", "check_elbo_1d", elbo_1d),
    ("vaelib.exercises.elbo", "check_prior_gap", prior_gap),
]
