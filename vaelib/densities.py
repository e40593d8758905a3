"""The one home of every Gaussian log-density in the course, in nats (floor 0).

- ``log_normal_diag(z, mu, logvar)``: ``log N(z; mu, diag exp(logvar))``, the encoder's
  ``log q(z|x)`` and each component of a mixture;
- ``log_standard_normal(z)``: ``log N(z; 0, I)``, the VAE's prior ``log p(z)``;
- ``log_mixture_diag(z, log_weights, means, logvars)``: ``log sum_k pi_k N(z; m_k, diag s_k)``,
  a mixture prior, a VampPrior and the aggregate posterior ``q(z)``.

All three sum over the last dimension D and broadcast over the leading ones. They do no value
checks (they run inside training steps, where a check would make a GPU wait): callers check
their inputs once, at their own boundary. ``losses``, ``evaluate``, ``linear_gaussian``,
``priors``, ``holes`` and the lessons call them.
"""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def log_normal_diag(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``log N(z; mu, diag exp(logvar)) = -0.5 * sum_d ((z_d - mu_d)^2 / exp(logvar_d) + logvar_d
    + log 2 pi)``.

    z, mu, logvar: (..., D), broadcast against each other; returns (...,).
    """
    return -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + LOG_2PI).sum(-1)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """``log N(z; 0, I) = -0.5 * sum_d (z_d^2 + log 2 pi)``: z (..., D) -> (...,)."""
    return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)


def log_mixture_diag(
    z: torch.Tensor, log_weights: torch.Tensor, means: torch.Tensor, logvars: torch.Tensor
) -> torch.Tensor:
    """``log p(z) = logsumexp_k (log pi_k + log N(z; m_k, diag exp(s_k)))`` for K diagonal
    Gaussians.

    z: (N, D); log_weights: (K,), ``log pi_k`` (normalised: ``logsumexp = 0``; e.g.
    ``log_softmax(logits)``, or ``-log K`` each for an equal mixture); means, logvars: (K, D).
    Returns (N,).
    """
    return torch.logsumexp(log_weights + log_normal_diag(z[:, None], means, logvars), dim=1)
