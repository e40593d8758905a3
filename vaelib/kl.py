"""KL divergence: discrete distributions, diagonal Gaussians, and Monte Carlo estimates."""

from __future__ import annotations

import torch


def kl_gaussian(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    mu_prior: torch.Tensor | None = None,
    logvar_prior: torch.Tensor | None = None,
) -> torch.Tensor:
    """KL( N(mu, exp(logvar)) || N(mu_prior, exp(logvar_prior)) ), summed over the last dim.

    mu, logvar: (..., D); returns (...,) in nats. Per dimension
    ``0.5 * (logvar_p - logvar + (exp(logvar) + (mu - mu_p)^2) / exp(logvar_p) - 1)``;
    with the default prior N(0, I) this is ``-0.5 * sum(1 + logvar - mu^2 - exp(logvar))``.
    """
    if mu_prior is None and logvar_prior is None:
        return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1)
    mu_prior = torch.zeros_like(mu) if mu_prior is None else mu_prior
    logvar_prior = torch.zeros_like(logvar) if logvar_prior is None else logvar_prior
    per_dim = logvar_prior - logvar + (logvar.exp() + (mu - mu_prior).pow(2)) / logvar_prior.exp()
    return 0.5 * torch.sum(per_dim - 1, dim=-1)
