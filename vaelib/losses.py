"""The course's losses: the deck's reconstruction losses and the VAE's negative ELBO.

- ``reconstruction_loss`` (Bernoulli BCE), ``reconstruction_loss_with_logits`` (its stable form)
  and ``mse_reconstruction_loss``: summed over an image's pixels and over the batch, as in the
  lecture deck (``F.binary_cross_entropy(x_hat, x, reduction="sum")``).
- ``negative_elbo``: the VAE's loss, the one place vaelib writes it, per image (N,).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.nn import functional as F

from vaelib import validate as check
from vaelib.kl import kl_gaussian

_SAME = "pass tensors of the same shape (N, 1, H, W); a target is never broadcast."
_BCE_RANGE = "scale images by 1/255, or use mse_reconstruction_loss for unbounded data"


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
) -> NegativeELBO:
    """The one home of the VAE's loss: ``-ELBO(x) = -log p(x|z) + beta * KL(q(z|x) || N(0, I))``
    per image, with z one sample of q(z|x) already decoded into ``logits``.

    x: (N, 1, H, W) in [0, 1]; logits: (N, 1, H, W), ``x_hat = sigmoid(logits)``; mu, logvar:
    (N, D). recon = ``BCE(x, sigmoid(logits))`` summed over pixels (computed stably from the
    logits), kl = ``-0.5 * sum_d (1 + logvar - mu^2 - exp(logvar))``; beta = 1 is the VAE, other
    values the beta-VAE. Returns ``NegativeELBO(loss, recon, kl)``, each (N,).
    """
    _check_elbo_inputs(x, logits, mu, logvar, beta)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    kl = kl_gaussian(mu, logvar)
    return NegativeELBO(recon + beta * kl, recon, kl)


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
