"""Solutions to the exercises of lesson 07 (notebooks/07_bic_curves.ipynb).

One function per self-checked exercise, named as in the notebook; ``CHECKS`` lists what each
check receives. Try the exercise first: the checks' hints are written for your mistakes.
"""

from __future__ import annotations

import math

import torch


def n_parameters_full(k: int, d: int) -> int:
    """Exercise 1. A mixture of k full-covariance Gaussians in d dimensions has

    - k - 1 free weights: the k weights pi_j sum to 1, so the last one is fixed;
    - k d means;
    - k d (d + 1) / 2 covariance entries: each Sigma_j is symmetric, so only its diagonal and
      one triangle are free.

    One more component in 20-D adds 1 + 20 + 210 = 231 parameters (the weight too).
    """
    return (k - 1) + k * d + k * d * (d + 1) // 2


def nats_per_component(d: int, n: int) -> float:
    """Exercise 2. BIC = -2 log L + p log n falls only if -2 log L falls by more than the
    penalty grows: adding q parameters needs a gain in log L above q log(n) / 2 nats. One more
    full component adds q = 1 + d + d (d + 1) / 2 parameters (weight, mean, covariance)."""
    q = 1 + d + d * (d + 1) // 2
    return q * math.log(n) / 2


def sample_mixture(
    weights: torch.Tensor,
    means: torch.Tensor,
    covariances: torch.Tensor,
    n: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Exercise 3. Ancestral sampling, the mixture's two steps: a component j ~ Categorical(pi)
    per code, then z = mu_j + L_j eps with eps ~ N(0, I) and L_j L_j^T = Sigma_j (Cholesky), so
    that Cov[z | j] = L_j Cov[eps] L_j^T = Sigma_j. Every draw uses ``generator``."""
    j = torch.multinomial(weights, n, replacement=True, generator=generator)  # (n,)
    chol = torch.linalg.cholesky(covariances)  # (k, d, d)
    eps = torch.randn(n, means.shape[1], generator=generator, dtype=means.dtype)  # (n, d)
    return means[j] + (chol[j] @ eps.unsqueeze(-1)).squeeze(-1)


def em_step(x, weights, means, variances):
    """Exercise 4: one EM step for a 1-D Gaussian mixture; returns (weights, means, variances).

    E-step: the responsibility of component k for point n, r_nk = pi_k N(x_n; m_k, v_k) /
    sum_j pi_j N(x_n; m_j, v_j), computed in logs (softmax over k of log pi_k + log N_k), so a
    point far from every component (each N = exp(-thousands) = 0) still gets responsibilities
    that sum to 1. M-step: with N_k = sum_n r_nk, the weighted maximum-likelihood estimates
    pi_k = N_k / N, m_k = sum_n r_nk x_n / N_k and v_k = sum_n r_nk (x_n - m_k)^2 / N_k with the
    new m_k. Each step cannot lower the log-likelihood (Dempster, Laird and Rubin 1977).
    """
    log_n = -0.5 * ((x[:, None] - means) ** 2 / variances + torch.log(2 * math.pi * variances))
    r = torch.softmax(torch.log(weights) + log_n, dim=1)  # (N, K)
    nk = r.sum(0)
    new_means = (r * x[:, None]).sum(0) / nk
    new_variances = (r * (x[:, None] - new_means) ** 2).sum(0) / nk
    return nk / x.shape[0], new_means, new_variances


def open_exercise_covariance_types(n: int = 1000, d: int = 4, seed: int = 0) -> dict:
    """Exercise 4 (open): which covariance type the BIC prefers, and with how many components.

    A small stand-in for the AE's codes that shows the mechanism in seconds: n points from one
    Gaussian in d dimensions whose dimensions are strongly correlated (covariance
    ``0.1 I + v v^T`` with v all ones). Fits ``bic.bic_curve`` for k = 1 ... 6 with each of
    "full", "tied", "diag" and "spherical" and returns ``{type: (best k, lowest BIC)}``.

    What it shows: the full (and tied) mixture should need only k = 1 component, since one
    full covariance matrix describes the correlation exactly, and reach the lowest BIC. A
    diagonal or spherical mixture cannot tilt its components, so it can only imitate the
    correlation by placing several small components along the long axis: its curve should keep
    falling past k = 1 and its best k should be larger, at a higher BIC. On the real codes
    the same effect adds components to the diagonal curves; the VAE's samples of q(z) should
    need fewer components than its means mu(x), because the noise E[sigma^2] smooths the
    aggregate posterior.
    """
    import numpy as np

    from vaelib import bic

    g = torch.Generator().manual_seed(seed)
    v = torch.ones(d)
    cov = 0.1 * torch.eye(d) + torch.outer(v, v)
    z = torch.randn(n, d, generator=g) @ torch.linalg.cholesky(cov).T
    out = {}
    for kind in ("full", "tied", "diag", "spherical"):
        curve = bic.bic_curve(z, range(1, 7), kind, n_init=2, seed=seed)
        i = int(np.argmin(curve.bic))
        out[kind] = (curve.ks[i], float(curve.bic[i]))
    return out


CHECKS = [
    ("vaelib.exercises.bic", "check_n_parameters_full", n_parameters_full),
    ("vaelib.exercises.bic", "check_nats_per_component", nats_per_component),
    ("vaelib.exercises.bic", "check_sample_mixture", sample_mixture),
    ("vaelib.exercises.bic", "check_em_step", em_step),
]
