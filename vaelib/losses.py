"""Reconstruction losses: the deck's Bernoulli BCE (and its stable form on logits) and MSE.

Every loss here is summed over an image's pixels and over the batch, as in the lecture deck
(``F.binary_cross_entropy(x_hat, x, reduction="sum")``); divide by N for a per-image value.
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


class _BCEWithLogitsSum(torch.autograd.Function):
    """``sum(max(l, 0) - x * l + log(1 + exp(-|l|)))`` with the gradient ``sigmoid(l) - x``.

    The same value as ``F.binary_cross_entropy_with_logits(l, x, reduction="sum")``: torch's
    CPU ``log1p``, which that uses, is not vectorised (~8x slower than ``log``, measured), and
    ``log(1 + e)`` is as accurate here since ``e = exp(-|l|)`` lies in (0, 1].
    """

    @staticmethod
    def forward(ctx, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(logits, x)
        softplus = torch.relu(logits).add_(torch.exp(-logits.abs()).add_(1).log_())
        return softplus.sub_(x * logits).sum()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        logits, x = ctx.saved_tensors
        return torch.sigmoid(logits).sub_(x).mul_(grad), None


def bce_with_logits_sum(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """``reconstruction_loss_with_logits`` without its input checks (a host sync on a GPU), for
    the training loop, whose data ``DeviceLoader`` checks once: a scalar, summed. On the CPU
    it uses a faster exact kernel (``_BCEWithLogitsSum``). Shapes are checked (free)."""
    check.same_shape(x, logits, ("x", "logits"), _SAME)
    if logits.device.type == "cpu" and logits.dtype == torch.float32:
        return _BCEWithLogitsSum.apply(logits, x)
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum")


def mse_reconstruction_loss(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """The deck's ``||x - x_hat||^2``, summed over pixels and batch. x, x_hat: (N, ...)."""
    check.floating(x, "x"), check.floating(x_hat, "x_hat")
    check.same_shape(x, x_hat, ("x", "x_hat"), _SAME)
    return (x - x_hat).pow(2).sum()


def vae_loss(
    x: torch.Tensor,
    x_hat: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    beta: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The deck's VAE loss, the negative ELBO: ``L = L_recon + beta * L_KL``, summed over the batch.

    x, x_hat: (N, 1, H, W) in [0, 1]; mu, logvar: (N, D), the encoder's q(z|x). Returns
    ``(total, recon, kl)``: recon = ``F.binary_cross_entropy(x_hat, x, reduction="sum")``,
    kl = ``sum_n KL(N(mu_n, exp(logvar_n)) || N(0, I))``, total = recon + beta * kl.
    beta = 1 is the VAE; other values give the beta-VAE.
    """
    if mu.shape != logvar.shape or mu.dim() != 2 or mu.shape[0] != x.shape[0]:
        raise ValueError(
            f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must both have shape "
            f"(N, D) with N = {x.shape[0]} (x's batch size): pass the encoder's two outputs."
        )
    check.number(beta, "beta", minimum=0)
    recon = reconstruction_loss(x, x_hat)
    kl = kl_gaussian(mu, logvar).sum()
    return recon + beta * kl, recon, kl


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
