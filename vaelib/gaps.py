"""Where the ELBO loses its nats: the inference gaps of Cremer, Li and Duvenaud (2018) (lesson 11).

For one image x, with the encoder's ``q_phi(z|x)`` and the best Gaussian of the same family,
``q*(z|x) = argmax_q ELBO(q)`` (diagonal here, as the encoder's):

    log p(x) - ELBO(q_phi) = [log p(x) - ELBO(q*)]  +  [ELBO(q*) - ELBO(q_phi)]
                           =  approximation gap     +  amortization gap

The approximation gap is what the Gaussian family costs (``KL(q* || p(z|x))``); the amortization
gap is what sharing one encoder across all images costs. We find ``q*`` per image by gradient
ascent on its ELBO from the encoder's output (``refine``: semi-amortized inference, Kim et al.
2018), so the measured amortization gap is a lower bound on the true one; ``log p(x)`` is an IWAE
estimate at large k (a lower bound too), so the measured approximation gap is also low.

On the linear-Gaussian model of lesson 04 every term is exact: the optimal diagonal Gaussian is
``linear_gaussian.optimal_diagonal_q`` and the ELBO is in closed form, a check of ``refine``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn
from tqdm.auto import tqdm

from vaelib import linear_gaussian as lg
from vaelib import validate as check
from vaelib.evaluate import mean_and_stderr
from vaelib.losses import negative_elbo
from vaelib.models import decode_logits
from vaelib.reparam import reparameterize

ElboFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Refined(NamedTuple):
    """The refined posteriors, (N, D) each, and the mean ELBO over the images before each step
    and after the last, (steps + 1,)."""

    mu: torch.Tensor
    logvar: torch.Tensor
    history: torch.Tensor


def refine(
    elbo_fn: ElboFn,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    steps: int = 300,
    lr: float = 0.02,
    progress: bool = True,
    desc: str = "refining q(z|x)",
) -> Refined:
    """Gradient ascent (Adam) on each image's own ELBO over its own ``(mu_n, logvar_n)``.

    ``elbo_fn(mu, logvar) -> (N,)`` gives each image's ELBO (or an unbiased estimate of it);
    mu, logvar: (N, D), the start (e.g. the encoder's output). All N images move at once
    (one vectorised Adam over the (N, D) tensors); image n's update depends on its own ELBO
    only, since ``d/d mu_n sum_m ELBO_m = d ELBO_n / d mu_n``. The step size falls from lr to 0
    on a cosine (Adam's steps would otherwise keep the final point rattling around the optimum,
    more so with a Monte Carlo ELBO). The model's weights do not move.
    """
    check.posterior(mu, logvar)
    steps = check.integer(steps, "steps", 1, "Adam steps")
    lr = check.number(lr, "lr", minimum=0, strict=True)
    mu = mu.detach().clone().requires_grad_(True)
    logvar = logvar.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([mu, logvar], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    history = []
    for _ in tqdm(range(steps), desc=desc, disable=not progress, mininterval=0.5):
        elbo = elbo_fn(mu, logvar)
        history.append(elbo.detach().mean())
        mu.grad, logvar.grad = torch.autograd.grad(
            -elbo.sum(), [mu, logvar], allow_unused=True, materialize_grads=True
        )
        optimizer.step()
        schedule.step()
    with torch.no_grad():
        history.append(elbo_fn(mu, logvar).mean())
    if not all(torch.isfinite(torch.stack(history))):
        raise ValueError(f"the refinement diverged (the ELBO became nan or inf): lower lr={lr}.")
    return Refined(mu.detach(), logvar.detach(), torch.stack(history).double().cpu())


def mc_elbo(
    model: nn.Module,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    samples: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The ELBO of ``q(z|x) = N(mu, diag exp(logvar))`` for each image, any q (not only the
    encoder's): ``E_q[log p(x|z)] - KL(q || N(0, I))``, the expectation by ``samples`` draws
    ``z = mu + sigma * eps``, the KL in closed form (``losses.negative_elbo``): x (N, 1, H, W),
    mu, logvar (N, D) -> (N,), differentiable in mu and logvar."""
    samples = check.integer(samples, "samples", 1, "draws of z per image")
    check.posterior(mu, logvar)
    n, d = mu.shape
    mu_s, logvar_s = mu.repeat_interleave(samples, 0), logvar.repeat_interleave(samples, 0)
    x_s = x.repeat_interleave(samples, 0)
    z = reparameterize(mu_s, logvar_s, generator)
    terms = negative_elbo(x_s, decode_logits(model, z, x_s), mu_s, logvar_s)
    return terms.elbo.view(n, samples).mean(1)


def refine_posterior(
    model: nn.Module,
    x: torch.Tensor,
    *,
    steps: int = 300,
    lr: float = 0.02,
    samples: int = 8,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> Refined:
    """``refine`` for a trained VAE: start at the encoder's ``(mu, logvar)`` for x (N, 1, H, W)
    and climb each image's ELBO, estimated with ``samples`` fresh draws per step (``mc_elbo``)."""
    model.eval()
    with torch.no_grad():
        mu, logvar = model.encode(x)

    def elbo_fn(m: torch.Tensor, lv: torch.Tensor) -> torch.Tensor:
        return mc_elbo(model, x, m, lv, samples, generator)

    return refine(elbo_fn, mu, logvar, steps=steps, lr=lr, progress=progress)


def linear_gaussian_elbo(model: lg.LinearGaussian) -> Callable[..., torch.Tensor]:
    """``(x, mu, logvar) -> ELBO`` (N,) of the diagonal ``q = N(mu, diag exp(logvar))`` on the
    linear-Gaussian model, in closed form (``linear_gaussian.gaussian_elbo``)."""

    def elbo(x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return lg.gaussian_elbo(model, x, mu, torch.diag_embed(logvar.exp())).elbo

    return elbo


class Gap(NamedTuple):
    """A gap's mean over the images and its standard error, in nats."""

    mean: float
    stderr: float


def inference_gaps(
    log_px: torch.Tensor, elbo_optimum: torch.Tensor, elbo_encoder: torch.Tensor
) -> dict[str, Gap]:
    """The two gaps per image, averaged with their standard errors (paired, image by image):

    ``amortization = ELBO(q*) - ELBO(q_phi)``, ``approximation = log p(x) - ELBO(q*)``, and
    their sum ``total = log p(x) - ELBO(q_phi)``. Each argument: (N,), N >= 2, the same images.
    """
    for name, t in (("log_px", log_px), ("elbo_optimum", elbo_optimum)):
        if not isinstance(t, torch.Tensor) or t.shape != elbo_encoder.shape:
            raise ValueError(
                f"{name} must be a tensor of elbo_encoder's shape {tuple(elbo_encoder.shape)}: "
                "one value per image, the same images in the same order."
            )
    per_image = {
        "amortization": elbo_optimum - elbo_encoder,
        "approximation": log_px - elbo_optimum,
        "total": log_px - elbo_encoder,
    }
    return {name: Gap(*mean_and_stderr(v.double())) for name, v in per_image.items()}
