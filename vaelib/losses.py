"""Reconstruction losses: the deck's Bernoulli BCE (and its stable form on logits) and MSE.

Every loss here is summed over an image's pixels and over the batch, as in the lecture deck
(``F.binary_cross_entropy(x_hat, x, reduction="sum")``); divide by N for a per-image value.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def _check_pair(x: torch.Tensor, other: torch.Tensor, other_name: str) -> None:
    if x.shape != other.shape:
        raise ValueError(
            f"x has shape {tuple(x.shape)} but {other_name} has shape {tuple(other.shape)}: "
            "pass tensors of the same shape (N, 1, H, W)."
        )


def _check_unit_interval(t: torch.Tensor, name: str) -> None:
    if t.numel() and (t.min() < 0 or t.max() > 1 or torch.isnan(t).any()):
        raise ValueError(
            f"{name} must lie in [0, 1] for binary cross-entropy, got values in "
            f"[{t.min().item():.3g}, {t.max().item():.3g}]: scale images by 1/255, or use "
            "mse_reconstruction_loss for unbounded data."
        )


def reconstruction_loss(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """The deck's reconstruction loss: ``-sum x log x_hat + (1 - x) log(1 - x_hat)``.

    x, x_hat: (N, 1, H, W) in [0, 1]; returns a scalar, summed over pixels and batch.
    """
    _check_pair(x, x_hat, "x_hat")
    _check_unit_interval(x, "x (the targets)")
    _check_unit_interval(x_hat, "x_hat (the reconstructions)")
    return F.binary_cross_entropy(x_hat, x, reduction="sum")


def reconstruction_loss_with_logits(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """The same BCE sum computed from the decoder's logits, ``x_hat = sigmoid(logits)``.

    Stable where ``x_hat`` rounds to 0 or 1 (``F.binary_cross_entropy`` clamps log at -100
    there); this is the form training uses. x: (N, 1, H, W) in [0, 1]; returns a scalar.
    """
    _check_pair(x, logits, "logits")
    _check_unit_interval(x, "x (the targets)")
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum")


def mse_reconstruction_loss(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """The deck's ``||x - x_hat||^2``, summed over pixels and batch. x, x_hat: (N, ...)."""
    _check_pair(x, x_hat, "x_hat")
    return (x - x_hat).pow(2).sum()
