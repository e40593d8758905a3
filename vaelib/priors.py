"""Priors p(z) for a VAE (lesson 08); their log-densities come from ``vaelib.densities``, and
the prior hole (prior mass where no code lies) is measured in ``vaelib.holes``.

Every prior has ``log_prob(z)``: z (N, D) -> (N,) in nats, and ``sample(n, generator)`` -> (n, D).

- ``StandardNormalPrior``: the VAE's ``N(0, I)``, ``log p(z) = -0.5 * sum_d (z_d^2 + log 2 pi)``.
- ``MixturePrior``: a learnable mixture of diagonal Gaussians,
  ``log p(z) = logsumexp_j (log pi_j + log N(z; m_j, diag exp(s_j)))``; attach it to the model
  (``model.prior = MixturePrior(...)``) so the optimiser trains it with the VAE.
- ``VampPrior`` (Tomczak and Welling 2018): the mixture of the encoder's own posteriors at K
  learnable pseudo-inputs u_k, ``p(z) = (1/K) sum_k q(z|u_k)``.

No closed form gives ``KL(q(z|x) || p(z))`` for a mixture prior, so training uses the one-sample
Monte Carlo estimate ``log q(z|x) - log p(z)`` (``losses.negative_elbo(..., z=z, log_prior=...)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from vaelib.densities import log_mixture_diag, log_normal_diag, log_standard_normal


def _check_z(z: torch.Tensor, latent_dim: int) -> None:
    if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != latent_dim:
        got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise ValueError(f"z must have shape (N, {latent_dim}), got {got}.")


def _check_n(n: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int (the number of samples), got {n!r}.")


class StandardNormalPrior(nn.Module):
    """``p(z) = N(0, I)`` in ``latent_dim`` dimensions (no parameters)."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be at least 1, got {latent_dim}.")
        self.latent_dim = latent_dim

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, D) -> (N,): ``-0.5 * sum_d (z_d^2 + log 2 pi)``."""
        _check_z(z, self.latent_dim)
        return log_standard_normal(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws ``z ~ N(0, I)``: (n, D), float32 on the CPU."""
        _check_n(n)
        return torch.randn(n, self.latent_dim, generator=generator)


class MixturePrior(nn.Module):
    """A learnable mixture of K diagonal Gaussians in D dimensions.

    ``p(z) = sum_j pi_j N(z; m_j, diag exp(s_j))`` with ``pi = softmax(weight_logits)``;
    parameters: weight_logits (K,), means (K, D), logvars (K, D). ``from_gmm`` starts it
    from a mixture fitted to the codes (e.g. the one BIC chose, lesson 07).
    """

    def __init__(self, n_components: int, latent_dim: int, *, seed: int = 0) -> None:
        super().__init__()
        if n_components < 1 or latent_dim < 1:
            raise ValueError(
                f"n_components and latent_dim must be at least 1, got {n_components}, {latent_dim}."
            )
        g = torch.Generator().manual_seed(seed)
        self.latent_dim = latent_dim
        self.weight_logits = nn.Parameter(torch.zeros(n_components))
        self.means = nn.Parameter(torch.randn(n_components, latent_dim, generator=g))
        self.logvars = nn.Parameter(torch.zeros(n_components, latent_dim))

    @classmethod
    def from_gmm(cls, gmm) -> MixturePrior:
        """A ``MixturePrior`` with the weights, means and variances of a fitted scikit-learn
        ``GaussianMixture`` with ``covariance_type="diag"`` (its covariances_ are (K, D))."""
        if getattr(gmm, "covariance_type", None) != "diag":
            raise ValueError(
                "gmm must be a fitted GaussianMixture with covariance_type='diag': a "
                "MixturePrior has diagonal components (fit with bic.bic_curve(z, ks, 'diag'))."
            )
        k, d = gmm.means_.shape
        prior = cls(k, d)
        with torch.no_grad():
            prior.weight_logits.copy_(torch.from_numpy(np.log(gmm.weights_)))
            prior.means.copy_(torch.from_numpy(gmm.means_))
            prior.logvars.copy_(torch.from_numpy(np.log(gmm.covariances_)))
        return prior

    @property
    def weights(self) -> torch.Tensor:
        """The mixture weights pi: (K,), positive, summing to 1."""
        return torch.softmax(self.weight_logits, dim=0)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, D) -> (N,): ``logsumexp_j (log pi_j + log N(z; m_j, diag exp(s_j)))``."""
        _check_z(z, self.latent_dim)
        log_pi = torch.log_softmax(self.weight_logits, dim=0)  # (K,)
        return log_mixture_diag(z, log_pi, self.means, self.logvars)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws: a component ``j ~ Categorical(pi)``, then ``z = m_j + exp(s_j / 2) * eps``."""
        _check_n(n)
        j = torch.multinomial(self.weights.cpu(), n, replacement=True, generator=generator)
        eps = torch.randn(n, self.latent_dim, generator=generator)
        return self.means.cpu()[j] + torch.exp(0.5 * self.logvars.cpu()[j]) * eps


class VampPrior(nn.Module):
    """``p(z) = (1/K) sum_k q(z|u_k)``: the encoder's posteriors at K learnable pseudo-inputs.

    ``encode``: the VAE's encoder, x (K, 1, H, W) -> (mu, logvar), each (K, D); it is held as
    a plain callable (not a submodule: the model owns the encoder, the prior only calls it).
    The pseudo-inputs are ``u = sigmoid(pseudo_logits)``, images in [0, 1], (K, 1, H, W).
    """

    def __init__(
        self,
        encode: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
        n_components: int,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        *,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not callable(encode):
            raise TypeError(f"encode must be the encoder, a callable; got {type(encode)}.")
        if n_components < 1:
            raise ValueError(f"n_components must be at least 1, got {n_components}.")
        g = torch.Generator().manual_seed(seed)
        object.__setattr__(self, "encode", encode)  # not registered: no cycle in the module tree
        self.pseudo_logits = nn.Parameter(
            0.1 * torch.randn(n_components, *image_shape, generator=g)
        )

    def components(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The K components' (mu, logvar), each (K, D): ``encode(sigmoid(pseudo_logits))``."""
        return self.encode(torch.sigmoid(self.pseudo_logits))

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, D) -> (N,): ``logsumexp_k log q(z|u_k) - log K``."""
        mu, logvar = self.components()
        _check_z(z, mu.shape[1])
        log_q = log_normal_diag(z[:, None], mu, logvar)  # (N, K)
        return torch.logsumexp(log_q, dim=1) - math.log(mu.shape[0])

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws: ``k`` uniform, then ``z = mu_k + exp(logvar_k / 2) * eps``."""
        _check_n(n)
        mu, logvar = (t.cpu() for t in self.components())
        k = torch.randint(mu.shape[0], (n,), generator=generator)
        return mu[k] + torch.exp(0.5 * logvar[k]) * torch.randn(n, mu.shape[1], generator=generator)
