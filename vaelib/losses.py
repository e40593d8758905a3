"""The course's losses: the deck's reconstruction losses and the VAE's negative ELBO.

- ``reconstruction_loss`` (Bernoulli BCE), ``reconstruction_loss_with_logits`` (its stable form)
  and ``mse_reconstruction_loss``: summed over an image's pixels and over the batch, as in the
  lecture deck (``F.binary_cross_entropy(x_hat, x, reduction="sum")``).
- ``negative_elbo``: the VAE's loss, the one place vaelib writes it, per image (N,).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch.nn import functional as F

from vaelib import validate as check
from vaelib.kl import kl_gaussian

_SAME = "pass tensors of the same shape (N, 1, H, W); a target is never broadcast."
_BCE_RANGE = "scale images by 1/255, or use mse_reconstruction_loss for unbounded data"
_LOG_2PI = math.log(2 * math.pi)


def reconstruction_loss(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """The deck's reconstruction loss: ``-sum x log x_hat + (1 - x) log(1 - x_hat)``.

    x, x_hat: (N, 1, H, W) in [0, 1]; returns a scalar, summed over pixels and batch.
    """
    check.floating(x, "x"), check.floating(x_hat, "x_hat")
    check.same_shape(x, x_hat, ("x", "x_hat"), _SAME)
    check.unit_interval(x, "x (the targets)", _BCE_RANGE)
    check.unit_interval(x_hat, "x_hat (the reconstructions)", _BCE_RANGE)
    return F.binary_cross_entropy(x_hat, x, reduction="sum")


def reconstruction_loss_with_logits(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """The same BCE sum computed from the decoder's logits, ``x_hat = sigmoid(logits)``.

    Stable where ``x_hat`` rounds to 0 or 1 (``F.binary_cross_entropy`` clamps log at -100
    there); this is the form training uses. x: (N, 1, H, W) in [0, 1]; returns a scalar.
    """
    check.floating(x, "x"), check.floating(logits, "logits")
    check.same_shape(x, logits, ("x", "logits"), _SAME)
    check.unit_interval(x, "x (the targets)", _BCE_RANGE)
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum")


def mse_reconstruction_loss(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """The deck's ``||x - x_hat||^2``, summed over pixels and batch. x, x_hat: (N, ...)."""
    check.floating(x, "x"), check.floating(x_hat, "x_hat")
    check.same_shape(x, x_hat, ("x", "x_hat"), _SAME)
    return (x - x_hat).pow(2).sum()


class NegativeELBO(NamedTuple):
    """The negative ELBO of each image and its two terms, each (N,), in nats."""

    loss: torch.Tensor  # recon + beta * kl: what training minimises (its mean over the batch)
    recon: torch.Tensor  # -log p(x|z): the Bernoulli BCE summed over an image's pixels
    kl: torch.Tensor  # KL(q(z|x) || p(z)) = -0.5 * sum_d (1 + logvar - mu^2 - exp(logvar))


def negative_elbo(
    x: torch.Tensor,
    logits: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    beta: float = 1.0,
    free_bits: float = 0.0,
    z: torch.Tensor | None = None,
    log_prior: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> NegativeELBO:
    """The one home of the VAE's loss: ``-ELBO(x) = -log p(x|z) + beta * KL(q(z|x) || p(z))``
    per image, with z one sample of q(z|x) already decoded into ``logits``.

    x: (N, 1, H, W) in [0, 1]; logits: (N, 1, H, W), ``x_hat = sigmoid(logits)``; mu, logvar:
    (N, D). recon = ``BCE(x, sigmoid(logits))`` summed over pixels (computed stably from the
    logits), kl = ``-0.5 * sum_d (1 + logvar - mu^2 - exp(logvar))`` for the prior N(0, I);
    beta = 1 is the VAE, other values the beta-VAE. Returns ``NegativeELBO(loss, recon, kl)``,
    each (N,).

    Two keyword-only extensions (lesson 08), both off by default:

    - ``log_prior``: a callable ``z (N, D) -> log p(z) (N,)`` for any other prior, with ``z``
      (N, D) the sample decoded into ``logits``. There is no closed form for
      ``KL(q || p)`` against, e.g., a mixture, so kl is the one-sample Monte Carlo estimate
      ``log q(z|x) - log p(z)``, unbiased for the KL.
    - ``free_bits = lambda > 0`` (Kingma et al. 2016): the loss charges each dimension at least
      lambda nats, ``loss = recon + beta * sum_d max(lambda, KL_d)`` with ``KL_d`` the closed-form
      KL of dimension d of each image; kl still reports the true KL. Below lambda a dimension's
      KL costs nothing, so the encoder may use it for free.
    """
    _check_elbo_inputs(x, logits, mu, logvar, beta)
    _check_elbo_extensions(mu, free_bits, z, log_prior)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    if log_prior is not None:
        log_q = -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + _LOG_2PI).sum(1)
        kl = log_q - log_prior(z)
        return NegativeELBO(recon + beta * kl, recon, kl)
    kl = kl_gaussian(mu, logvar)
    if free_bits > 0:
        kl_d = kl_gaussian(mu.unsqueeze(-1), logvar.unsqueeze(-1))  # (N, D): one KL per dimension
        return NegativeELBO(recon + beta * kl_d.clamp(min=free_bits).sum(1), recon, kl)
    return NegativeELBO(recon + beta * kl, recon, kl)


def _check_elbo_extensions(mu, free_bits, z, log_prior) -> None:
    if not free_bits >= 0:
        raise ValueError(f"free_bits must be a non-negative number of nats, got {free_bits!r}.")
    if log_prior is None:
        if z is not None:
            raise ValueError("z is used only with log_prior: pass log_prior=prior.log_prob too.")
        return
    if not callable(log_prior):
        raise TypeError(f"log_prior must be a callable z (N, D) -> (N,), got {type(log_prior)}.")
    if z is None or z.shape != mu.shape:
        got = None if z is None else tuple(z.shape)
        raise ValueError(
            f"log_prior needs z, the sample decoded into logits, of mu's shape {tuple(mu.shape)}; "
            f"got {got}: pass z=mu + exp(0.5 * logvar) * eps."
        )
    if free_bits > 0:
        raise ValueError(
            "free_bits needs the closed-form KL of each dimension, which a general log_prior "
            "does not have: use free_bits with the N(0, I) prior (log_prior=None)."
        )


def _check_elbo_inputs(x, logits, mu, logvar, beta) -> None:
    """Shapes and dtypes (free); the [0, 1] range of x only on the CPU (no sync on a GPU)."""
    check.floating(x, "x"), check.floating(logits, "logits", half=True)
    if x.shape != logits.shape:
        raise ValueError(
            f"x has shape {tuple(x.shape)} but logits has shape {tuple(logits.shape)}: pass the "
            "decoder's logits for the same batch, shape (N, 1, H, W)."
        )
    if mu.shape != logvar.shape or mu.dim() != 2 or mu.shape[0] != x.shape[0]:
        raise ValueError(
            f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must both have shape "
            f"(N, D) with N = {x.shape[0]} (x's batch size): pass the encoder's two outputs."
        )
    check.number(beta, "beta", minimum=0)
    if check.on_host(x):
        check.unit_interval(x, "x")
