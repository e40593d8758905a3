"""Self-checks for lesson 06 (training a VAE): each prints right or wrong and returns a bool."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from vaelib.exercises.feedback import call_student, report
from vaelib.losses import negative_elbo


def check_vae_loss(fn: Callable[..., torch.Tensor]) -> bool:
    """``fn(x, x_hat, mu, logvar)`` must return the deck's loss, summed over the batch:
    ``BCE(x_hat, x, reduction="sum") + sum KL(N(mu, exp(logvar)) || N(0, I))``."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 1, 28, 28, generator=g)
    logits = torch.randn(5, 1, 28, 28, generator=g)
    mu, logvar = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    expected, recon, kl = (t.sum() for t in negative_elbo(x, logits, mu, logvar))
    x_hat = torch.sigmoid(logits)
    got = call_student(fn, x, x_hat, mu, logvar, dtype=torch.float32)
    if isinstance(got, str):
        return report(False, got)
    if got.numel() != 1:
        return report(
            False, f"return one number (sum over the batch), got shape {tuple(got.shape)}."
        )
    if torch.isclose(got, recon / 5, rtol=1e-3) or torch.isclose(got, expected / 5, rtol=1e-3):
        return report(False, "sum over the batch, as the deck does (reduction='sum'), not mean.")
    if torch.isclose(got, recon, rtol=1e-4):
        return report(False, "add the KL term -0.5 * sum(1 + logvar - mu^2 - exp(logvar)).")
    if torch.isclose(got, recon - kl, rtol=1e-4):
        return report(False, "the KL term is added (it is >= 0): check its sign.")
    return report(
        bool(torch.isclose(got, expected, rtol=1e-4)),
        "compare with vaelib.losses.negative_elbo (per image: sum it).",
    )


def check_half_decoder_nats(answer: float) -> bool:
    """The loss in nats of one 28x28 image under a decoder that outputs 0.5 everywhere."""
    expected = 784 * math.log(2)
    if answer is None:
        return report(False, "set answer to a number of nats.")
    ok = isinstance(answer, (int, float)) and math.isclose(answer, expected, rel_tol=1e-3)
    return report(ok, "each pixel costs -[x log 0.5 + (1 - x) log 0.5] = log 2, whatever x is.")


def check_log_mean_exp(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """``fn(log_w)`` with log_w (N, k) must return ``log((1/k) sum_i exp(log_w_i))``, (N,),
    without overflow (the IWAE estimate from its log-weights)."""
    log_w = torch.tensor([[-1000.0, -1000.0], [0.0, math.log(3.0)], [5.0, 5.0]])
    expected = torch.tensor([-1000.0, math.log(2.0), 5.0])
    got = call_student(fn, log_w, dtype=torch.float32)
    if isinstance(got, str):
        return report(False, got)
    if got.shape != expected.shape:
        return report(False, f"return one value per row, shape (3,), got {tuple(got.shape)}.")
    if not torch.isfinite(got).all():
        return report(False, "exp(-1000) underflows: subtract the row maximum (logsumexp).")
    ok = bool(torch.allclose(got, expected, atol=1e-4))
    return report(ok, "log-MEAN-exp: torch.logsumexp(log_w, dim=1) - log k.")
