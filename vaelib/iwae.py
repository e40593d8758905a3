"""The importance-weighted autoencoder as a *training* objective, and its gradients' SNR (lesson 09).

With k samples ``z_i = mu + sigma * eps_i ~ q(z|x)`` (reparameterized, so gradients flow), the
importance log-weights are ``log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x)`` and the IWAE
bound (Burda, Grosse and Salakhutdinov 2016) is

    L_k(x) = log (1/k) sum_i w_i  <=  log p(x),

computed stably as ``logsumexp_i(log w_i) - log k``. ``L_1`` is a one-sample ELBO, and
``E[L_k]`` rises with k. Training maximises ``L_k`` (``IWAELoss``): the same encoder and decoder
as the VAE, a tighter bound. ``evaluate.iwae_log_likelihood`` is the same bound without
gradients, for scoring a trained model.

Tighter is not better for everything: Rainforth et al. (2018) show that the signal-to-noise
ratio of the *encoder's* gradient, ``SNR = |E[g]| / std(g)``, falls like ``1/sqrt(k)`` while the
decoder's rises like ``sqrt(k)``. ``gradient_snr`` measures both on a batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.nn import functional as F

from vaelib import validate as check
from vaelib.reparam import reparameterize

_LOG_2PI = math.log(2 * math.pi)
Bound = Callable[[nn.Module, torch.Tensor, int], torch.Tensor]


def log_mean_exp(log_w: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``log((1/k) sum_i exp(log_w_i))`` along ``dim`` (k = its size), without over- or underflow:
    ``logsumexp`` factors out the largest term, ``log sum_i e^{a_i} = a* + log sum_i e^{a_i - a*}``.
    log_w: (..., k, ...) -> the same shape without ``dim``."""
    check.floating(log_w, "log_w")
    return torch.logsumexp(log_w, dim=dim) - math.log(log_w.shape[dim])


def log_weights(
    model: nn.Module, x: torch.Tensor, k: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The importance log-weights ``log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x)``, with
    gradients: x (N, C, H, W) in [0, 1] -> (N, k).

    ``model.encode(x) -> (mu, logvar)`` (N, D); ``z_i = reparameterize(mu, logvar)`` (N, k, D);
    ``model.decode_logits(z) -> logits``; ``log p(x|z) = sum_pixels x l + log sigmoid(-l)``
    (Bernoulli, minus the BCE of lesson 06), ``p(z) = N(0, I)``, ``q(z|x) = N(mu, diag e^logvar)``.
    One decoder pass over N * k rows: fine for training (k <= ~50); for k = 1000 use
    ``evaluate.iwae_log_likelihood``, which batches.
    """
    check.integer(k, "k", 1, "the number of importance samples")
    check.floating(x, "x"), check.batch(x, "x", 4, "(N, C, H, W)")
    mu, logvar = model.encode(x)
    n, d = mu.shape
    mu_k, logvar_k = mu[:, None].expand(n, k, d), logvar[:, None].expand(n, k, d)
    z = reparameterize(mu_k, logvar_k, generator)  # (N, k, D)
    log_q = -0.5 * ((z - mu_k).pow(2) / logvar_k.exp() + logvar_k + _LOG_2PI).sum(-1)
    log_p = -0.5 * (z.pow(2) + _LOG_2PI).sum(-1)
    logits = model.decode_logits(z.reshape(n * k, d)).reshape(n, k, -1)
    log_px = (x.reshape(n, 1, -1) * logits + F.logsigmoid(-logits)).sum(-1)
    return log_px + log_p - log_q


def iwae_bound(
    model: nn.Module, x: torch.Tensor, k: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The IWAE bound per image, with gradients: x (N, C, H, W) -> ``L_k`` (N,), in nats.

    ``L_k = log_mean_exp(log_weights(model, x, k))``; k = 1 is a one-sample ELBO (its KL by
    Monte Carlo). The same estimate as ``evaluate.iwae_log_likelihood`` (tested), differentiable.
    """
    return log_mean_exp(log_weights(model, x, k, generator), dim=1)


class IWAELoss:
    """The IWAE training loss, a ``loss_fn`` for ``train.train``: ``{"loss": -mean_n L_k(x_n)}``.

    ``bound(model, x, k) -> (N,)`` computes ``L_k``: ``iwae_bound`` by default, or a student's
    own (lesson 09). With k = 1 it is the VAE with a Monte Carlo KL.
    """

    def __init__(self, k: int, bound: Bound | None = None) -> None:
        self.k = check.integer(k, "k", 1, "the number of importance samples")
        if bound is not None and not callable(bound):
            raise TypeError(f"bound must be a callable (model, x, k) -> (N,), got {type(bound)}.")
        self.bound = iwae_bound if bound is None else bound

    def __call__(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": -self.bound(model, x, self.k).mean()}

    def recipe(self) -> dict:
        """The loss's settings, for a checkpoint's meta."""
        return {"objective": "iwae", "k": self.k}


def _groups(model: nn.Module) -> dict[str, list[torch.nn.Parameter]]:
    """The model's parameters in two groups: "decoder" (names starting with ``decoder``) and
    "encoder" (every other one: the encoder's trunk and its mu and logvar heads)."""
    groups: dict[str, list[torch.nn.Parameter]] = {"encoder": [], "decoder": []}
    for name, p in model.named_parameters():
        if p.requires_grad:
            groups["decoder" if name.startswith("decoder") else "encoder"].append(p)
    if not groups["encoder"] or not groups["decoder"]:
        raise ValueError(
            "model needs parameters named decoder.* and others (the encoder): name the decoder "
            "submodule `decoder`, as vaelib.models.VAE does."
        )
    return groups


def gradient_snr(
    model: nn.Module,
    x: torch.Tensor,
    ks: Iterable[int],
    *,
    repeats: int = 50,
    generator: torch.Generator | None = None,
) -> dict[int, dict[str, float]]:
    """The signal-to-noise ratio of the gradient of ``L_k`` (Rainforth et al. 2018), per k.

    For each k, ``repeats`` independent estimates ``g_r = grad_theta mean_n L_k(x_n)`` on the
    batch x (N, C, H, W); per parameter element ``SNR = |mean_r g_r| / std_r g_r``; returned as
    the mean over the elements of each group: ``{k: {"encoder": snr, "decoder": snr}}``
    (encoder: every parameter not named ``decoder.*``). The model's weights are not changed
    and its gradients are left as they were.
    """
    ks = check.integers(ks, "ks", 1)
    check.integer(repeats, "repeats", 2, "independent gradient estimates per k")
    groups = _groups(model)
    params = groups["encoder"] + groups["decoder"]
    n_enc = len(groups["encoder"])
    saved = [None if p.grad is None else p.grad.clone() for p in params]
    was_training = model.training
    model.train()
    out: dict[int, dict[str, float]] = {}
    try:
        for k in ks:
            draws: list[list[torch.Tensor]] = []
            for _ in range(repeats):
                loss = iwae_bound(model, x, k, generator).mean()
                grads = torch.autograd.grad(loss, params)
                draws.append([g.detach().flatten() for g in grads])
            enc = torch.stack([torch.cat(d[:n_enc]) for d in draws])  # (repeats, P_enc)
            dec = torch.stack([torch.cat(d[n_enc:]) for d in draws])
            out[k] = {"encoder": _snr(enc), "decoder": _snr(dec)}
    finally:
        model.train(was_training)
        for p, g in zip(params, saved, strict=True):
            p.grad = g
    return out


def _snr(g: torch.Tensor) -> float:
    """Mean over elements of ``|mean_r g| / std_r g``; g (repeats, P). Elements whose gradient
    is always exactly 0 (e.g. a dead ReLU's weights) have no SNR and are left out."""
    mean, std = g.mean(0), g.std(0)
    live = std > 0
    return float((mean[live].abs() / std[live]).mean())
