"""Evaluating generative models: likelihood estimates (lesson 06).

The VAE's loss is the negative ELBO, an upper bound on ``-log p(x)``. The importance-weighted
estimate (IWAE, Burda et al. 2016) tightens the bound with k samples ``z_i ~ q(z|x)``:

    log p(x) >= L_k = log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x),

with ``L_1 = ELBO`` in expectation and ``E[L_k]`` rising with k towards ``log p(x)``.

Honesty about ``p(x|z)``: the Bernoulli likelihood (the BCE of the deck) is a normalised
likelihood only for binary pixels; on greyscale pixels it is not a density. So
``likelihood="bernoulli"`` refuses non-binary x (binarise the data, see ``binarize``), and
``likelihood="continuous_bernoulli"`` uses the continuous Bernoulli (Loaiza-Ganem and
Cunningham 2019), a true density on [0, 1] with the same shape plus a normaliser ``log C``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from vaelib import losses
from vaelib import validate as check
from vaelib.densities import log_normal_diag, log_standard_normal
from vaelib.models import decode_logits
from vaelib.reparam import reparameterize

LIKELIHOODS = ("bernoulli", "continuous_bernoulli")
_LOG_2 = math.log(2)


def binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw of binary pixels ``x_bin ~ Bernoulli(x)``; x: (N, 1, H, W) in [0, 1].

    A fixed generator gives a fixed binarised test set (train sets are re-drawn every epoch:
    ``DeviceLoader(binarize=True)``).
    """
    check.floating(x, "x"), check.unit_interval(x, "x (pixel intensities)")
    return torch.bernoulli(x, generator=generator)


def decoder_log_prob(x: torch.Tensor, logits: torch.Tensor, likelihood: str) -> torch.Tensor:
    """The decoder's ``log p(x|z)`` summed over pixels: x (N, 1, H, W), logits (N, 1, H, W) ->
    (N,). x may
    broadcast against logits: x (N, 1, 1, H, W) with logits (N, k, 1, H, W) gives (N, k).

    Bernoulli: ``sum x log x_hat + (1 - x) log(1 - x_hat)`` (minus the deck's BCE), computed
    stably from the logits as ``sum x * logits + log sigmoid(-logits)``; continuous Bernoulli:
    the same plus ``sum log C(x_hat)`` (``continuous_bernoulli_log_norm``).
    """
    _check_decoder_log_prob(x, logits, likelihood)
    log_px = x * logits + F.logsigmoid(-logits)
    if likelihood == "continuous_bernoulli":
        log_px = log_px + continuous_bernoulli_log_norm(logits)
    return log_px.flatten(-3).sum(-1)


def continuous_bernoulli_log_norm(logits: torch.Tensor) -> torch.Tensor:
    """``log C(x_hat)`` of the continuous Bernoulli, elementwise, from ``logits`` (any shape).

    ``C(x_hat) = 2 atanh(1 - 2 x_hat) / (1 - 2 x_hat)``; with ``x_hat = sigmoid(l)``,
    ``1 - 2 x_hat = -tanh(l / 2)`` and ``atanh(1 - 2 x_hat) = -l / 2``, so ``C = l / tanh(l / 2)``,
    and ``C = 2 + l^2 / 6 + O(l^4)`` where ``|l| < 1e-2``. The same values as
    ``torch.distributions.ContinuousBernoulli(logits=l)``'s normaliser where that is exact
    (tested), at a fraction of its cost (it runs once per pixel of every importance sample).
    torch computes C from probabilities clamped to ``[eps, 1 - eps]``, which caps ``log C`` at
    about ``log 16`` in float32, while ``log C -> log |l|``: for a decoder's saturated background
    pixels (``l`` of -30 or less) it understates ``log p(x|z)`` by a nat or more per pixel.
    """
    small = logits.abs() < 1e-2
    safe = torch.where(small, 1.0, logits)
    return torch.where(small, _LOG_2 + logits.pow(2) / 12, torch.log(safe / torch.tanh(safe / 2)))


def _check_decoder_log_prob(x: torch.Tensor, logits: torch.Tensor, likelihood: str) -> None:
    """Dtypes, shapes (x as logits, or x (N, 1, C, H, W) against logits (N, k, C, H, W): one
    image for its k samples) and x in [0, 1]."""
    _check_likelihood(likelihood)
    check.floating(x, "x"), check.floating(logits, "logits", half=True)
    per_sample = x.dim() == logits.dim() == 5 and x.shape[1] == 1
    if not (per_sample and x.shape[0] == logits.shape[0] and x.shape[2:] == logits.shape[2:]):
        check.same_shape(x, logits, ("x", "logits"), "pass the decoder's logits for this batch.")
    check.unit_interval(x, "x (pixel intensities)")


def _check_images(x: torch.Tensor, likelihood: str) -> None:
    _check_likelihood(likelihood)
    check.floating(x, "x"), check.batch(x, "x", 4, "(N, 1, H, W)")
    check.unit_interval(x, "x (pixel intensities)")


def _check_likelihood(likelihood: str) -> None:
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood={likelihood!r} is unknown: use one of {LIKELIHOODS}.")


def _check(x: torch.Tensor, k: int, likelihood: str, max_rows: int) -> None:
    check.integer(k, "k", 1, "the number of importance samples")
    check.integer(max_rows, "max_rows", 1, "decoder rows per step")
    check.floating(x, "x")
    if x.dim() != 4:
        raise ValueError(f"x must have shape (N, 1, H, W), got {tuple(x.shape)}.")
    _check_likelihood(likelihood)
    check.unit_interval(x, "x (pixel intensities)")
    if likelihood == "bernoulli" and not torch.all((x == 0) | (x == 1)):
        raise ValueError(
            "likelihood='bernoulli' is a normalised likelihood only for binary pixels, and x "
            "has grey values: pass binarize(x, generator) (and a model trained on binarised "
            "data), or use likelihood='continuous_bernoulli'."
        )


@torch.no_grad()
def log_weights(
    model: nn.Module,
    x: torch.Tensor,
    k: int,
    *,
    likelihood: str = "bernoulli",
    generator: torch.Generator | None = None,
    max_rows: int = 1024,
    log_prior: Callable[[torch.Tensor], torch.Tensor] | None = None,
    q: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """The importance log-weights ``log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x)``.

    x: (N, 1, H, W); returns (N, k). ``z_i = reparameterize(mu, logvar, generator)``; at most
    ``max_rows`` decoder rows at a time (memory stays bounded for any k; 1024 measured fastest
    on the course's CPU, 1.6x faster than 8192 for the conv VAE: the activations stay in
    cache). ``log_prior``: a callable ``z (M, D) -> log p(z) (M,)`` for a prior other than
    N(0, I) (e.g. ``priors.MixturePrior(...).log_prob``, lesson 08); None is N(0, I).
    ``q``: the proposal's ``(mu, logvar)``, (N, D) each, instead of the encoder's (e.g. a
    posterior refined per image, ``gaps.refine_posterior``, lesson 11); None: ``model.encode``.
    """
    _check(x, k, likelihood, max_rows)
    if q is not None:
        check.posterior(*q)
        if q[0].shape[0] != x.shape[0]:
            raise ValueError(f"q's (mu, logvar) must have one row per image of x ({x.shape[0]}).")
    if log_prior is not None and not callable(log_prior):
        raise TypeError(f"log_prior must be a callable z (M, D) -> (M,), got {type(log_prior)}.")
    model.eval()
    out = []
    chunk = max(1, max_rows // k)  # examples per step
    for start in range(0, x.shape[0], chunk):
        xs = x[start : start + chunk]
        rows = slice(start, start + chunk)
        mu, logvar = model.encode(xs) if q is None else (q[0][rows], q[1][rows])
        n, d = mu.shape
        parts = []
        step = max(1, max_rows // n)  # samples per step
        for s in range(0, k, step):
            m = min(step, k - s)
            mu_m, logvar_m = mu[:, None].expand(n, m, d), logvar[:, None].expand(n, m, d)
            z = reparameterize(mu_m, logvar_m, generator)  # (n, m, d)
            log_q = log_normal_diag(z, mu_m, logvar_m)
            if log_prior is None:
                log_p = log_standard_normal(z)
            else:
                log_p = log_prior(z.reshape(n * m, d)).view(n, m)
            x_rep = xs.repeat_interleave(m, 0) if getattr(model, "autoregressive", False) else None
            logits = decode_logits(model, z.reshape(n * m, d), x_rep)  # x: autoregressive only
            log_px = decoder_log_prob(xs[:, None], logits.view(n, m, *xs.shape[1:]), likelihood)
            parts.append(log_px + log_p - log_q)
        out.append(torch.cat(parts, dim=1))
    return torch.cat(out)


def iwae_log_likelihood(
    model: nn.Module,
    x: torch.Tensor,
    k: int,
    *,
    likelihood: str = "bernoulli",
    generator: torch.Generator | None = None,
    max_rows: int = 1024,
    log_prior: Callable[[torch.Tensor], torch.Tensor] | None = None,
    q: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """The IWAE estimate of ``log p(x)`` per example, in nats: x (N, 1, H, W) -> (N,).

    ``L_k = logsumexp_i(log w_i) - log k`` over k samples ``z_i ~ q(z|x)`` (see
    ``log_weights``); k = 1 is a one-sample ELBO, and the estimate rises with k. Batched so
    that k = 1000 fits in memory (``max_rows`` decoder rows at a time). ``log_prior``: the
    model's prior as a callable ``z (M, D) -> (M,)``, N(0, I) when None (see ``log_weights``);
    ``q``: another proposal's ``(mu, logvar)`` than the encoder's (see ``log_weights``).
    """
    log_w = log_weights(
        model, x, k, likelihood=likelihood, generator=generator, max_rows=max_rows,
        log_prior=log_prior, q=q,
    )  # fmt: skip
    return torch.logsumexp(log_w, dim=1) - math.log(k)


def mean_and_stderr(values: torch.Tensor) -> tuple[float, float]:
    """The mean of per-example estimates ``values`` (N,) and its standard error
    ``s / sqrt(N)`` (s: the sample standard deviation, N - 1 in its denominator).

    The precision of a number averaged over a subset of N test images, e.g. an IWAE table
    entry: the subset is large enough when the standard error is below the digits shown.
    """
    if values.dim() != 1 or values.shape[0] < 2:
        raise ValueError(f"values must have shape (N,) with N >= 2, got {tuple(values.shape)}.")
    return values.mean().item(), (values.std() / math.sqrt(values.shape[0])).item()


@torch.no_grad()
def model_negative_elbo(
    model: nn.Module,
    x: torch.Tensor,
    *,
    likelihood: str = "bernoulli",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The loss per example, ``-ELBO = -log p(x|z) + KL(q(z|x) || N(0, I))`` with one z:
    x (N, 1, H, W) -> (N,). With the Bernoulli it is ``vaelib.losses.negative_elbo`` (the deck's
    BCE: valid for grey pixels as a loss, even where it is not a likelihood); the continuous
    Bernoulli's ``-log p(x|z)`` adds its normaliser, ``-sum log C(x_hat)``."""
    _check_images(x, likelihood)
    model.eval()
    mu, logvar = model.encode(x)
    logits = decode_logits(model, reparameterize(mu, logvar, generator), x)
    terms = losses.negative_elbo(x, logits, mu, logvar)
    if likelihood == "continuous_bernoulli":
        return -decoder_log_prob(x, logits, likelihood) + terms.kl
    return terms.loss
