"""The reparameterization trick: z = mu + sigma * eps, eps ~ N(0, I).

- ``reparameterize``: the differentiable draw every VAE training step makes.
- ``score_function_gradient`` and ``pathwise_gradient``: two unbiased Monte Carlo estimators
  of ``d/dtheta E_{z ~ N(mu, sigma^2)}[f(z)]`` for theta = (mu, sigma), with per-sample values
  and standard errors; ``z2_gradient_variance`` gives their per-sample variances in closed form
  for ``f(z) = z^2``.
- ``fit_gaussian``: gradient descent on (mu, log sigma^2) through the trick.

(The picture of the graph before and after the trick is ``plots.plot_computation_graph``.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch

from vaelib import validate as check

_FINITE_FIX = (
    "check the encoder's outputs (a diverging loss or a too-large learning rate usually causes "
    "this)."
)


def _check_pair(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str]) -> None:
    check.floating(a, names[0], half=True), check.floating(b, names[1], half=True)
    check.same_shape(a, b, names, f"pass one {names[1]} per {names[0]}, both (..., D).")


def _check_mu_logvar(mu: torch.Tensor, logvar: torch.Tensor) -> None:
    _check_pair(mu, logvar, ("mu", "logvar"))
    if check.on_host(mu):  # values only on the CPU: on a GPU a check would sync every step
        check.finite(mu, "mu", _FINITE_FIX), check.finite(logvar, "logvar", _FINITE_FIX)


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw z ~ N(mu, exp(logvar)) as ``z = mu + exp(0.5 * logvar) * eps``, differentiably.

    mu, logvar: (..., D), the same shape; returns z of that shape. eps ~ N(0, I) is drawn
    from ``generator`` (on mu's device) when given, so the draw is reproducible.
    Gradients: ``dz/dmu = 1``, ``dz/dlogvar = 0.5 * sigma * eps = 0.5 * (z - mu)``.
    Raises TypeError/ValueError for tensors of an integer dtype or of different shapes, and
    ValueError for nan or inf in CPU tensors (checked where it is free of a device sync).
    """
    _check_mu_logvar(mu, logvar)
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps  # logvar, not sigma: unconstrained and stable


# ----------------------------------------------------------------------------- estimators


class GradientEstimate(NamedTuple):
    """A Monte Carlo estimate of ``(d/dmu, d/dsigma) E_{z~N(mu, sigma^2)}[f(z)]``.

    grad: (2, ..., D), ``grad[0]`` the estimate for mu, ``grad[1]`` for sigma (sample means);
    stderr: (2, ..., D), ``std / sqrt(n)``; per_sample: (2, n, ..., D), one estimate per draw.
    """

    grad: torch.Tensor
    stderr: torch.Tensor
    per_sample: torch.Tensor


def _estimate(d_mu: torch.Tensor, d_sigma: torch.Tensor) -> GradientEstimate:
    per_sample = torch.stack([d_mu, d_sigma])  # (2, n, ..., D)
    n = per_sample.shape[1]
    return GradientEstimate(per_sample.mean(1), per_sample.std(1) / math.sqrt(n), per_sample)


def _draw_eps(
    mu: torch.Tensor, sigma: torch.Tensor, n: int, generator: torch.Generator | None
) -> torch.Tensor:
    _check_pair(mu, sigma, ("mu", "sigma"))
    check.finite(mu, "mu", _FINITE_FIX), check.finite(sigma, "sigma", _FINITE_FIX)
    if mu.dim() == 0:
        raise ValueError("mu is a scalar: pass shape (..., D), e.g. mu.reshape(1) for one dim.")
    check.positive(sigma, "sigma")
    check.integer(n, "n", 2, "a standard error needs two samples")
    return torch.randn((n, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)


def _f_values(f: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    values = f(z)
    if not isinstance(values, torch.Tensor) or values.shape != z.shape[:-1]:
        got = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
        raise ValueError(
            f"f must map z of shape (n, ..., D) = {tuple(z.shape)} to one value per sample, "
            f"shape (n, ...) = {tuple(z.shape[:-1])}, got {got}: reduce over the last dim, "
            "e.g. lambda z: z.pow(2).sum(-1)."
        )
    return values


def score_function_gradient(
    f: Callable[[torch.Tensor], torch.Tensor],
    mu: torch.Tensor,
    sigma: torch.Tensor,
    n: int,
    generator: torch.Generator | None = None,
) -> GradientEstimate:
    """Score-function (REINFORCE) estimate of ``d/dtheta E_{z~N(mu, sigma^2)}[f(z)]``.

    Uses ``grad E[f] = E[f(z) * grad_theta log q(z)]``: for z = mu + sigma * eps,
    ``d/dmu log q = eps / sigma`` and ``d/dsigma log q = (eps^2 - 1) / sigma``.
    f needs only values, no derivative (it may be a step function or a simulator).

    mu, sigma: (..., D), sigma > 0; the leading dims are independent problems. f maps
    z: (n, ..., D) to (n, ...), one value per sample. Returns a ``GradientEstimate``.
    """
    eps = _draw_eps(mu, sigma, n, generator)
    with torch.no_grad():
        values = _f_values(f, mu + sigma * eps)[..., None]  # (n, ..., 1)
    return _estimate(values * eps / sigma, values * (eps.pow(2) - 1) / sigma)


def pathwise_gradient(
    f: Callable[[torch.Tensor], torch.Tensor],
    mu: torch.Tensor,
    sigma: torch.Tensor,
    n: int,
    generator: torch.Generator | None = None,
) -> GradientEstimate:
    """Pathwise (reparameterized) estimate of ``d/dtheta E_{z~N(mu, sigma^2)}[f(z)]``.

    Differentiates through z = mu + sigma * eps with autograd:
    ``d/dmu f(z) = f'(z)`` and ``d/dsigma f(z) = f'(z) * eps``. f must be differentiable
    and must not mix samples (row i of its output depends on z[i] only).

    mu, sigma: (..., D), sigma > 0; the leading dims are independent problems. f maps
    z: (n, ..., D) to (n, ...), one value per sample. Returns a ``GradientEstimate``.
    """
    eps = _draw_eps(mu, sigma, n, generator)
    # one copy of (mu, sigma) per sample, so autograd returns per-sample gradients
    mu_n = mu.detach().expand_as(eps).clone().requires_grad_(True)
    sigma_n = sigma.detach().expand_as(eps).clone().requires_grad_(True)
    with torch.enable_grad():
        values = _f_values(f, mu_n + sigma_n * eps)
        if not values.requires_grad:  # f ignores z or is piecewise constant: gradient 0
            return _estimate(torch.zeros_like(eps), torch.zeros_like(eps))
        d_mu, d_sigma = torch.autograd.grad(values.sum(), (mu_n, sigma_n))
    return _estimate(d_mu, d_sigma)


def z2_gradient_variance(mu: torch.Tensor, sigma: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-sample variances of both estimators for ``f(z) = z^2``, z ~ N(mu, sigma^2).

    With ``E[eps^2, eps^4, eps^6, eps^8] = 1, 3, 15, 105`` (odd moments 0):
    - pathwise: ``d/dmu = 2z``, variance ``4 sigma^2``; ``d/dsigma = 2 z eps``,
      variance ``4 (mu^2 + 2 sigma^2)``;
    - score function: ``d/dmu = z^2 eps / sigma``, variance
      ``mu^4 / sigma^2 + 14 mu^2 + 15 sigma^2``; ``d/dsigma = z^2 (eps^2 - 1) / sigma``,
      variance ``2 mu^4 / sigma^2 + 60 mu^2 + 74 sigma^2``.
    Returns ``{"score": (2, ...), "pathwise": (2, ...)}``, index 0 for mu, 1 for sigma.
    The variance of an n-sample estimate is these divided by n.
    """
    mu = torch.as_tensor(mu, dtype=torch.get_default_dtype()) if not torch.is_tensor(mu) else mu
    sigma = torch.as_tensor(sigma, dtype=mu.dtype) if not torch.is_tensor(sigma) else sigma
    check.floating(mu, "mu"), check.floating(sigma, "sigma")
    check.finite(mu, "mu"), check.positive(sigma, "sigma")
    m2, s2 = mu.pow(2), sigma.pow(2)
    pathwise = torch.stack([4 * s2, 4 * (m2 + 2 * s2)])
    score = torch.stack(
        [m2.pow(2) / s2 + 14 * m2 + 15 * s2, 2 * m2.pow(2) / s2 + 60 * m2 + 74 * s2]
    )
    return {"score": score, "pathwise": pathwise}


# ----------------------------------------------------------------------------- fitting


class FitHistory(NamedTuple):
    """Per step of ``fit_gaussian``: mu, sigma, each (steps + 1, ..., D), and loss (steps,)."""

    mu: torch.Tensor
    sigma: torch.Tensor
    loss: torch.Tensor


def fit_gaussian(
    log_p: Callable[[torch.Tensor], torch.Tensor],
    mu: torch.Tensor,
    logvar: torch.Tensor,
    steps: int,
    n_samples: int = 64,
    lr: float = 0.05,
    generator: torch.Generator | None = None,
) -> FitHistory:
    """Fit q = N(mu, exp(logvar)) to a density p by minimising ``KL(q || p)`` through the trick.

    The loss per step is the Monte Carlo ``mean_i[-log p(z_i)] - H(q)``, z_i drawn with
    ``reparameterize`` (so gradients flow to mu and logvar), and the Gaussian's entropy
    ``H(q) = sum_j 0.5 * (logvar_j + log(2 pi e))`` in closed form. Adam with step size ``lr``.
    mu, logvar: (D,) starting values (not modified); log_p maps z (n, D) to (n,). If log_p
    is unnormalised the loss is ``KL(q || p) - log Z`` (same minimiser). Returns ``FitHistory``.
    If p is Gaussian the optimum is q = p exactly.
    """
    _check_pair(mu, logvar, ("mu", "logvar"))
    if mu.dim() != 1:
        raise ValueError(f"mu must have shape (D,), got {tuple(mu.shape)}: fit one q at a time.")
    check.integer(steps, "steps"), check.integer(n_samples, "n_samples")
    check.number(lr, "lr", minimum=0, strict=True)
    mu = mu.detach().clone().requires_grad_(True)
    logvar = logvar.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([mu, logvar], lr=lr)
    mus, sigmas, losses = [mu.detach().clone()], [(0.5 * logvar).exp().detach()], []
    for _ in range(steps):
        z = reparameterize(mu.expand(n_samples, -1), logvar.expand(n_samples, -1), generator)
        entropy = 0.5 * (logvar + math.log(2 * math.pi * math.e)).sum()
        loss = -log_p(z).mean() - entropy
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
        mus.append(mu.detach().clone())
        sigmas.append((0.5 * logvar).exp().detach())
    return FitHistory(torch.stack(mus), torch.stack(sigmas), torch.stack(losses))
