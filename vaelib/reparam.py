"""The reparameterization trick: z = mu + sigma * eps, eps ~ N(0, I)."""

from __future__ import annotations

import torch


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw z ~ N(mu, exp(logvar)) as ``z = mu + exp(0.5 * logvar) * eps``, differentiably.

    mu, logvar: (..., D); returns z of the same shape. eps ~ N(0, I) is drawn from
    ``generator`` (on mu's device) when given, so the draw is reproducible.
    """
    # logvar, not sigma: unconstrained and stable.
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps
