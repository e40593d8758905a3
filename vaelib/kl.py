"""KL divergence: discrete distributions, diagonal Gaussians, and Monte Carlo estimates.

The lecture deck's two definitions, both in nats (natural log; divide by ``log 2`` for bits):

- discrete: ``D_KL(P || Q) = sum_x P(x) log(P(x) / Q(x))``, the expected excess surprise
  from using Q as a model instead of P (:func:`kl_discrete`, with :func:`entropy` and
  :func:`cross_entropy`: ``D_KL(P || Q) = H(P, Q) - H(P)``);
- continuous: ``D_KL(q || p) = integral q(z) log(q(z) / p(z)) dz``, in closed form for diagonal
  Gaussians (:func:`kl_gaussian`, the VAE's regulariser), by quadrature in 1-D
  (:func:`kl_integral_1d`) and by Monte Carlo for any pair of ``torch.distributions``
  (:func:`kl_monte_carlo`).

:func:`fit_gaussian_on_grid` fits a one-mode model to a target on a 1-D grid by forward or
reverse KL, the lesson's mode-covering against mode-seeking example.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import distributions as D

from vaelib import validate as check

_SAME_K = "give both the same shape (..., K): the probabilities of the same K outcomes."
SUM_TOL = 1e-5  # how far a row of probabilities may sum from 1
LOG2 = math.log(2.0)  # nats per bit


# ----------------------------------------------------------------------------- discrete


def _as_probs(p, name: str) -> torch.Tensor:
    """``p`` as a floating tensor of probabilities (..., K), or a ValueError that says why not."""
    p = torch.as_tensor(p)
    if not p.is_floating_point():
        p = p.to(torch.get_default_dtype())
    if p.dim() == 0:
        raise ValueError(
            f"{name} is a scalar: pass probabilities of shape (..., K), e.g. [0.5, 0.5]."
        )
    if torch.isnan(p).any():
        raise ValueError(f"{name} contains nan: pass probabilities in [0, 1].")
    if (p < 0).any():
        raise ValueError(
            f"{name} has negative entries (min {p.min().item():.3g}): probabilities must be "
            ">= 0; pass softmax(logits) if you have unnormalised scores."
        )
    total = p.sum(dim=-1)
    bad = (total - 1).abs() > SUM_TOL
    if bad.any():
        worst = total[bad].flatten()[0].item()
        raise ValueError(
            f"{name} has rows that do not sum to 1 (one sums to {worst:.6g}, tolerance "
            f"{SUM_TOL:g}): normalise over the last dimension, {name} / {name}.sum(-1, keepdim=True)."
        )
    return p


def _xlogy(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x * log(y)`` with ``0 log y = 0`` (even for y = 0) and ``x log 0 = -inf`` for x > 0.

    The double ``where`` keeps gradients finite where x = 0 (a single where would give nan).
    """
    y_safe = torch.where(y > 0, y, torch.ones_like(y))
    value = torch.where(y > 0, x * torch.log(y_safe), torch.full_like(x, -math.inf))
    return torch.where(x > 0, value, torch.zeros_like(value))


def entropy(p) -> torch.Tensor:
    """Shannon entropy ``H(P) = -sum_x P(x) log P(x)`` in nats (``0 log 0 = 0``).

    p: (..., K) probabilities (rows sum to 1); returns (...,). The expected surprise
    ``-log P(x)`` of an outcome drawn from P; ``log K`` for the uniform distribution.
    """
    p = _as_probs(p, "p")
    return -_xlogy(p, p).sum(dim=-1)


def cross_entropy(p, q) -> torch.Tensor:
    """Cross-entropy ``H(P, Q) = -sum_x P(x) log Q(x)`` in nats: the expected surprise under Q.

    p, q: (..., K) probabilities; returns (...,). ``+inf`` where Q(x) = 0 < P(x).
    ``H(P, Q) = H(P) + D_KL(P || Q) >= H(P)``.
    """
    p, q = _as_probs(p, "p"), _as_probs(q, "q")
    check.same_shape(p, q, ("p", "q"), _SAME_K)
    return -_xlogy(p, q).sum(dim=-1)


def kl_discrete(p, q) -> torch.Tensor:
    """``D_KL(P || Q) = sum_x P(x) log(P(x) / Q(x))`` in nats, over the last dimension.

    p, q: (..., K) probabilities (non-negative, rows sum to 1 within 1e-5); returns (...,).
    ``0 log(0 / q) = 0``; where Q(x) = 0 < P(x) the result is ``+inf`` (never nan).
    Raises ValueError for negative entries, rows that do not sum to 1, or mismatched shapes.
    """
    p, q = _as_probs(p, "p"), _as_probs(q, "q")
    check.same_shape(p, q, ("p", "q"), _SAME_K)
    return (_xlogy(p, p) - _xlogy(p, q)).sum(dim=-1)


def nats_to_bits(nats: torch.Tensor | float) -> torch.Tensor | float:
    """Convert nats (natural log) to bits (log base 2): divide by ``log 2``."""
    return nats / LOG2


# ----------------------------------------------------------------------------- Gaussian


def kl_gaussian(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    mu_prior: torch.Tensor | None = None,
    logvar_prior: torch.Tensor | None = None,
) -> torch.Tensor:
    """KL( N(mu, exp(logvar)) || N(mu_prior, exp(logvar_prior)) ), summed over the last dim.

    mu, logvar: (..., D), the same shape; mu_prior, logvar_prior: broadcastable to it
    (e.g. (D,)), each N(0, I)'s 0 when None. Returns (...,) in nats. Per dimension
    ``0.5 * (logvar_p - logvar + (exp(logvar) + (mu - mu_p)^2) / exp(logvar_p) - 1)``;
    with the default prior N(0, I) this is ``-0.5 * sum(1 + logvar - mu^2 - exp(logvar))``.
    """
    check.floating(mu, "mu", half=True), check.floating(logvar, "logvar", half=True)
    if mu.dim() == 0:
        raise ValueError("mu is a scalar: pass shape (..., D), e.g. mu.reshape(1) for one dim.")
    if mu.shape != logvar.shape:
        raise ValueError(
            f"mu has shape {tuple(mu.shape)} but logvar has shape {tuple(logvar.shape)}: the "
            "encoder must return one log-variance per mean, both (..., D)."
        )
    if mu_prior is None and logvar_prior is None:
        # + 0.0 turns the IEEE -0.0 at the prior into 0.0 and changes no other value
        return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1) + 0.0
    for name, t in (("mu_prior", mu_prior), ("logvar_prior", logvar_prior)):
        if t is None:
            continue
        check.floating(t, name, half=True)
        try:
            fits = torch.broadcast_shapes(t.shape, mu.shape) == mu.shape
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(
                f"{name} has shape {tuple(t.shape)}, which does not broadcast to mu's shape "
                f"{tuple(mu.shape)}: pass (D,) for one prior, or mu's shape (..., D)."
            )
    mu_prior = torch.zeros_like(mu) if mu_prior is None else mu_prior
    logvar_prior = torch.zeros_like(logvar) if logvar_prior is None else logvar_prior
    per_dim = logvar_prior - logvar + (logvar.exp() + (mu - mu_prior).pow(2)) / logvar_prior.exp()
    return 0.5 * torch.sum(per_dim - 1, dim=-1)


def kl_integral_1d(q: D.Distribution, p: D.Distribution, z: torch.Tensor) -> torch.Tensor:
    """``integral q(z) log(q(z) / p(z)) dz`` by the trapezoid rule on the grid ``z``.

    q, p: univariate ``torch.distributions`` (batch shape ()); z: (M,) increasing points that
    cover where q has its mass. Returns a scalar; exact as the grid gets fine and wide.
    """
    if z.dim() != 1 or z.numel() < 2:
        raise ValueError(f"z must be a 1-D grid of at least 2 points, got shape {tuple(z.shape)}.")
    if (z.diff() <= 0).any():
        raise ValueError("z must be strictly increasing: use torch.linspace(lo, hi, M).")
    log_q, log_p = q.log_prob(z), p.log_prob(z)
    integrand = torch.where(log_q > -math.inf, log_q.exp() * (log_q - log_p), 0.0)
    return torch.trapezoid(integrand, z)


class MonteCarloEstimate(NamedTuple):
    """A Monte Carlo estimate and its standard error ``std / sqrt(n)``, each (batch_shape)."""

    estimate: torch.Tensor
    stderr: torch.Tensor


def kl_monte_carlo(
    q: D.Distribution, p: D.Distribution, n_samples: int, seed: int | None = None
) -> MonteCarloEstimate:
    """Estimate ``D_KL(q || p) = E_{z~q}[log q(z) - log p(z)]`` from ``n_samples`` draws of q.

    q, p: ``torch.distributions`` with the same event shape and broadcastable batch shapes.
    Returns ``(estimate, stderr)``, each of the broadcast batch shape: the sample mean of the
    log-ratio and its standard error ``std / sqrt(n)``, which shrinks like ``1 / sqrt(n)``.
    With ``seed`` the draw is reproducible and the global random state is left untouched.
    """
    for name, d in (("q", q), ("p", p)):
        if not isinstance(d, D.Distribution):
            raise ValueError(
                f"{name} must be a torch.distributions.Distribution, got {type(d).__name__}: "
                "e.g. torch.distributions.Normal(mu, sigma)."
            )
    if q.event_shape != p.event_shape:
        raise ValueError(
            f"q has event shape {tuple(q.event_shape)} but p has {tuple(p.event_shape)}: both "
            "must be distributions over the same space (wrap with Independent(..., 1) if needed)."
        )
    check.integer(n_samples, "n_samples", 2, "a standard error needs two samples")
    if seed is None:
        z = q.sample((n_samples,))
    else:
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):  # seed a private copy of the global state
            torch.manual_seed(seed)
            z = q.sample((n_samples,))
    log_ratio = q.log_prob(z) - p.log_prob(z)  # (n, *batch_shape)
    return MonteCarloEstimate(log_ratio.mean(0), log_ratio.std(0) / math.sqrt(n_samples))


# ------------------------------------------------------------- forward vs reverse fits


def gaussian_mixture_on_grid(
    x: torch.Tensor, weights: list[float], mus: list[float], sigmas: list[float]
) -> torch.Tensor:
    """A mixture of Gaussians discretised on the grid ``x``: probabilities (K,) summing to 1.

    ``P(x_i) proportional to sum_j w_j N(x_i; mu_j, sigma_j^2)``, computed in log space so
    that far tails stay positive. x: (K,); weights, mus, sigmas: one entry per component.
    """
    if not (len(weights) == len(mus) == len(sigmas)) or not weights:
        raise ValueError(
            f"weights, mus and sigmas need one entry per component, got lengths {len(weights)}, "
            f"{len(mus)}, {len(sigmas)}."
        )
    for name, values in (("weights", weights), ("sigmas", sigmas)):
        check.positive(torch.as_tensor(values, dtype=torch.float64), name,
                       "weights and sigmas must be positive: drop a component instead of a 0.")  # fmt: skip
    w = torch.as_tensor(weights, dtype=x.dtype)
    comp = D.Normal(torch.as_tensor(mus, dtype=x.dtype), torch.as_tensor(sigmas, dtype=x.dtype))
    log_p = torch.logsumexp(comp.log_prob(x[:, None]) + torch.log(w / w.sum()), dim=-1)
    return torch.softmax(log_p, dim=0)


@dataclass
class GridFit:
    """A one-Gaussian fit on a grid: the best ``mu``, ``sigma``, its KL, its probabilities ``q``
    (K,), and the whole objective ``surface`` (len(mus), len(sigmas)) over the searched values."""

    direction: str
    mu: float
    sigma: float
    kl: float
    q: torch.Tensor
    surface: torch.Tensor
    mus: torch.Tensor
    sigmas: torch.Tensor


def fit_gaussian_on_grid(
    x: torch.Tensor,
    p,
    direction: Literal["forward", "reverse"],
    mus: torch.Tensor | None = None,
    sigmas: torch.Tensor | None = None,
) -> GridFit:
    """Fit one discretised Gaussian Q = N(mu, sigma^2) on the grid ``x`` to the target ``p``.

    ``direction="forward"`` minimises ``D_KL(P || Q)`` (mode covering: Q spreads over all of P);
    ``"reverse"`` minimises ``D_KL(Q || P)`` (mode seeking: Q sits on one mode). An exhaustive
    search over ``mus`` x ``sigmas`` (defaults: 241 means across x, 121 log-spaced sigmas), so
    the result is the global minimum on that grid, deterministic. x: (K,); p: (K,) probabilities.
    """
    if direction not in ("forward", "reverse"):
        raise ValueError(f"direction must be 'forward' or 'reverse', got {direction!r}.")
    if x.dim() != 1:
        raise ValueError(f"x must be a 1-D grid (K,), got shape {tuple(x.shape)}.")
    p = _as_probs(p, "p").to(x.dtype)
    check.same_shape(x, p, ("x", "p"), "give one probability per grid point.")
    spacing = float(x[1] - x[0])
    if mus is None:
        mus = torch.linspace(float(x[0]), float(x[-1]), 241, dtype=x.dtype)
    if sigmas is None:
        sigmas = torch.logspace(
            math.log10(spacing), math.log10(float(x[-1] - x[0]) / 2), 121, dtype=x.dtype
        )
    neg_entropy_p = _xlogy(p, p).sum()
    blocks = []
    for sigma in sigmas.split(16):  # (16, len(mus), K) blocks: few ops, little memory
        log_q = torch.log_softmax(-0.5 * ((x - mus[:, None]) / sigma[:, None, None]) ** 2, dim=-1)
        if direction == "forward":  # sum P log P - sum P log Q; log Q is finite (log_softmax)
            blocks.append(neg_entropy_p - log_q @ p)
        else:  # sum Q log Q - sum Q log P; +inf where Q > 0 = P
            q = log_q.exp()
            blocks.append((q * log_q - _xlogy(q, p)).sum(-1))
    surface = torch.cat(blocks).T.contiguous()  # (len(mus), len(sigmas))
    i, j = divmod(int(torch.argmin(surface)), len(sigmas))
    q = torch.softmax(-0.5 * ((x - mus[i]) / sigmas[j]) ** 2, dim=-1)
    return GridFit(
        direction, float(mus[i]), float(sigmas[j]), float(surface[i, j]), q, surface, mus, sigmas
    )
