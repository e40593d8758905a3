"""Every training loss of the course, in one home.

- ``reconstruction_loss`` (Bernoulli BCE), ``reconstruction_loss_with_logits`` (its stable form)
  and ``mse_reconstruction_loss``: summed over an image's pixels and over the batch, as in the
  lecture deck (``F.binary_cross_entropy(x_hat, x, reduction="sum")``).
- ``negative_elbo``: the VAE's loss, the one place vaelib writes it, per image (N,), with beta
  (the beta-VAE), free bits (Kingma et al. 2016) and any prior (a Monte Carlo KL).
- the ``loss_fn(model, x)`` callables that ``train.train`` minimises: ``ae_loss`` (lesson 01),
  ``vae_loss`` (the plain VAE, lesson 06) and ``ELBOLoss`` (beta, a warm-up of beta by
  ``beta_warmup``, free bits and a learned prior: lesson 08).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from vaelib import validate as check
from vaelib.densities import log_normal_diag
from vaelib.kl import kl_gaussian
from vaelib.models import decode_logits
from vaelib.reparam import reparameterize

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
    """The negative ELBO of each image and its two terms, each (N,), in nats: the course's one
    tuple for the decomposition (``linear_gaussian.gaussian_elbo`` returns it too).

    ``loss = recon + beta * kl`` (beta = 1: ``-ELBO``); ``elbo`` is ``-loss``, for beta = 1.
    """

    loss: torch.Tensor  # recon + beta * kl: what training minimises (its mean over the batch)
    recon: torch.Tensor  # -E_q[log p(x|z)]: for the VAE, the BCE summed over an image's pixels
    kl: torch.Tensor  # KL(q(z|x) || p(z)); to N(0, I): -0.5 * sum_d (1 + logvar - mu^2 - e^logvar)

    @property
    def elbo(self) -> torch.Tensor:
        """The evidence lower bound itself, ``-loss`` (with beta = 1: ``-recon - kl``)."""
        return -self.loss


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
    - ``free_bits = lambda > 0``: free bits as Kingma et al. (2016, eq. 15) define them, per
      latent dimension and on the **minibatch average**: the batch's KL term is
      ``sum_d max(lambda, KL_d^M)``, ``KL_d^M = (1/N) sum_n KL_nd`` the closed-form KL of
      dimension d averaged over this batch's N images. Per image, ``loss_n = recon_n + beta *
      sum_d (KL_nd if KL_d^M > lambda else lambda)``, whose batch mean is exactly
      ``mean(recon) + beta * sum_d max(lambda, KL_d^M)``; a dimension whose batch-average KL is
      below lambda costs a constant (no gradient), so the encoder may use it for free. kl
      still reports the true KL. The per-image clamp ``sum_d max(lambda, KL_nd)`` (each image's
      own floor, which keeps every unit's KL above lambda by construction) is not Kingma's and
      is not offered.
    """
    _check_elbo_inputs(x, logits, mu, logvar, beta)
    _check_elbo_extensions(mu, free_bits, z, log_prior)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    if log_prior is not None:
        log_p = log_prior(z)
        if not isinstance(log_p, torch.Tensor) or log_p.shape != (z.shape[0],):
            got = tuple(log_p.shape) if isinstance(log_p, torch.Tensor) else type(log_p).__name__
            raise ValueError(
                f"log_prior(z) must return one log-density per code, shape (N,) = "
                f"({z.shape[0]},), got {got}: sum over the latent dimensions only "
                "(e.g. log_prob(z).sum(-1)), never over the batch, and drop a trailing (N, 1) axis."
            )
        kl = log_normal_diag(z, mu, logvar) - log_p
        return NegativeELBO(recon + beta * kl, recon, kl)
    kl = kl_gaussian(mu, logvar)
    if free_bits > 0:
        kl_d = kl_gaussian(mu.unsqueeze(-1), logvar.unsqueeze(-1))  # (N, D): one KL per dimension
        above = kl_d.detach().mean(0) > free_bits  # (D,): over the floor on this minibatch
        charged = torch.where(above, kl_d, torch.full_like(kl_d, free_bits)).sum(1)
        return NegativeELBO(recon + beta * charged, recon, kl)
    return NegativeELBO(recon + beta * kl, recon, kl)


def _check_elbo_extensions(mu, free_bits, z, log_prior) -> None:
    check.number(free_bits, "free_bits", minimum=0)  # a finite floor: inf would charge inf nats
    if isinstance(log_prior, nn.Module) and hasattr(log_prior, "log_prob"):
        raise TypeError(
            f"log_prior is the prior module {type(log_prior).__name__}, not its log-density: "
            "pass log_prior=prior.log_prob (e.g. model.prior.log_prob)."
        )
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
    check.batch(x, "x")
    if x.shape != logits.shape:
        raise ValueError(
            f"x has shape {tuple(x.shape)} but logits has shape {tuple(logits.shape)}: pass the "
            "decoder's logits for the same batch, shape (N, 1, H, W)."
        )
    check.posterior(mu, logvar)
    if mu.shape[0] != x.shape[0]:
        raise ValueError(
            f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must both have shape "
            f"(N, D) with N = {x.shape[0]} (x's batch size): pass the encoder's two outputs."
        )
    check.number(beta, "beta", minimum=0)
    if check.on_host(x):
        check.unit_interval(x, "x")
        fix = "the encoder's output is nan or inf: lower the learning rate or check the weights."
        check.finite(mu, "mu", fix), check.finite(logvar, "logvar", fix)


# ----------------------------------------------------------------------------- training losses


def ae_loss(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The autoencoder's ``loss_fn``: the BCE sum per image, ``recon = BCE(x, sigmoid(logits)) / N``
    (``reconstruction_loss_with_logits`` without its per-batch input check: the loader checked
    the data once)."""
    _check_training_batch(model, x)
    logits = model.decode_logits(model.encode(x))
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
    return {"loss": recon, "recon": recon}


def vae_loss(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The plain VAE's ``loss_fn``: ``negative_elbo`` (beta = 1, prior N(0, I)) as means over
    the batch: loss = recon + kl, recon = BCE(x, sigmoid(logits)), kl = KL(q(z|x) || N(0, I)),
    with one ``z = reparameterize(mu, logvar)`` per image. A model with a learned
    ``model.prior`` is refused: its KL is not to N(0, I) (use ``ELBOLoss(prior=model.prior)``)."""
    _check_training_batch(model, x)
    _check_prior_wiring(model, None)
    mu, logvar = model.encode(x)
    z = reparameterize(mu, logvar)
    terms = negative_elbo(x, decode_logits(model, z, x), mu, logvar)
    return {"loss": terms.loss.mean(), "recon": terms.recon.mean(), "kl": terms.kl.mean()}


def beta_warmup(step: int, warmup_steps: int, beta: float = 1.0) -> float:
    """KL annealing: ``beta_t = beta * min(1, t / warmup_steps)``, from 0 up to beta in
    ``warmup_steps`` steps (Bowman et al. 2016; Sønderby et al. 2016); beta from the start when
    ``warmup_steps`` is 0."""
    step = check.integer(step, "step", 0, "training steps so far")
    warmup_steps = check.integer(warmup_steps, "warmup_steps", 0, "steps of the warm-up")
    beta = check.number(beta, "beta", minimum=0)
    return beta if warmup_steps == 0 else beta * min(1.0, step / warmup_steps)


def _check_training_batch(model: nn.Module, x: object) -> None:
    """Free checks (dtype and shape, no device sync) before a training loss encodes x."""
    check.floating(x, "x")
    check.batch(x, "x", 4, "(N, 1, H, W)")


def _check_prior_wiring(model: nn.Module, prior: nn.Module | None) -> None:
    """The loss's prior and the model's must agree, else training is silently wrong:

    - ``ELBOLoss(prior=p)`` with a learnable ``p`` that is not part of the model: the optimiser
      (``model.parameters()``) never updates p, and p is not saved with the model;
    - ``model.prior`` set to a learned prior but a loss with N(0, I): the prior is ignored.
    """
    own = getattr(model, "prior", None)
    if prior is None:
        if isinstance(own, nn.Module) and any(True for _ in own.parameters()):
            raise ValueError(
                f"model.prior is a {type(own).__name__}, but this loss uses N(0, I) and would "
                "ignore it: train with ELBOLoss(prior=model.prior), or del model.prior."
            )
        return
    learnable = any(p.requires_grad for p in prior.parameters())
    if learnable and not any(m is prior for m in model.modules()):
        raise ValueError(
            f"prior (a {type(prior).__name__}) is not part of the model: the optimiser of "
            "train.train updates model.parameters() only, so the prior would never learn (nor be "
            "saved): attach it first, model.prior = prior, and pass ELBOLoss(prior=model.prior)."
        )


class ELBOLoss:
    """The training loss of lesson 08, a ``loss_fn`` for ``train.train``: per-image means of
    ``negative_elbo`` with beta (warmed up over ``warmup_steps`` training steps), free bits
    (Kingma et al.'s minibatch form, see ``negative_elbo``), and the model's prior.

    ``loss_fn(model, x)`` encodes, draws ``z = reparameterize(mu, logvar)``, decodes and
    returns ``{"loss", "recon", "kl", "beta"}``. With ``prior`` (e.g. ``model.prior``, a module
    with ``log_prob``) the KL is the Monte Carlo ``log q(z|x) - log p(z)``; with None the closed
    form to N(0, I). Each call in training mode counts one step (``self.step``) of the warm-up.
    """

    def __init__(
        self,
        beta: float = 1.0,
        *,
        free_bits: float = 0.0,
        warmup_steps: int = 0,
        prior: nn.Module | None = None,
    ) -> None:
        beta_warmup(0, warmup_steps, beta)  # validates warmup_steps
        beta = check.number(beta, "beta", minimum=0)
        free_bits = check.number(free_bits, "free_bits", minimum=0)
        if prior is not None and not hasattr(prior, "log_prob"):
            raise TypeError("prior must have log_prob(z): pass e.g. priors.MixturePrior(...).")
        self.beta, self.free_bits, self.warmup_steps = beta, free_bits, int(warmup_steps)
        self.prior, self.step = prior, 0
        self._wired: nn.Module | None = None  # the model whose prior wiring was checked

    def __call__(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        _check_training_batch(model, x)
        if self._wired is not model:  # once per model, not per batch
            _check_prior_wiring(model, self.prior)
            self._wired = model
        beta = beta_warmup(self.step, self.warmup_steps, self.beta)
        if model.training:
            self.step += 1
        mu, logvar = model.encode(x)
        z = reparameterize(mu, logvar)
        logits = decode_logits(model, z, x)
        log_prior = None if self.prior is None else self.prior.log_prob
        terms = negative_elbo(
            x, logits, mu, logvar, beta=beta, free_bits=self.free_bits,
            z=None if log_prior is None else z, log_prior=log_prior,
        )  # fmt: skip
        out = {key: value.mean() for key, value in terms._asdict().items()}
        return {**out, "beta": torch.tensor(beta)}

    def recipe(self) -> dict:
        """The loss's settings, for a checkpoint's meta: a checkpoint made otherwise won't load."""
        prior = None if self.prior is None else type(self.prior).__name__
        return {"beta": self.beta, "free_bits": self.free_bits,
                "warmup_steps": self.warmup_steps, "prior": prior}  # fmt: skip
