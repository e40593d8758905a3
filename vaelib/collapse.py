"""Rate, distortion and posterior collapse (lesson 08): measures, and the knobs of the loss.

- rate ``R = E_x KL(q(z|x) || p(z))`` and distortion ``D = E_x E_q[-log p(x|z)]``, in nats:
  the two terms of ``losses.negative_elbo``; ``-ELBO = D + R`` and the beta-VAE minimises
  ``D + beta R``.
- per latent dimension, ``KL_d = E_x 0.5 * (mu_d^2 + exp(logvar_d) - 1 - logvar_d)`` and Burda
  et al.'s activity ``A_d = Var_x(mu_d)``; a dimension whose KL_d (or A_d) is below a small
  threshold carries no information about x: it has *collapsed* to the prior.
- the knobs: a warm-up of beta (``beta_warmup``) and free bits (a floor on each KL_d), both in
  the training loss ``ELBOLoss``, which ``train.train`` takes as its ``loss_fn``.
"""

from __future__ import annotations

import torch
from torch import nn

from vaelib.kl import kl_gaussian
from vaelib.losses import negative_elbo


def _check_pair(mu: torch.Tensor, logvar: torch.Tensor) -> None:
    if mu.dim() != 2 or mu.shape != logvar.shape:
        raise ValueError(
            f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must both be (N, D): "
            "the encoder's outputs for N images."
        )


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The KL to N(0, 1) of each latent dimension, averaged over images: (N, D) -> (D,).

    ``KL_d = (1/N) sum_n 0.5 * (mu_nd^2 + exp(logvar_nd) - 1 - logvar_nd)``; the rate is
    ``sum_d KL_d``.
    """
    _check_pair(mu, logvar)
    return kl_gaussian(mu.unsqueeze(-1), logvar.unsqueeze(-1)).mean(0)


def activity(mu: torch.Tensor) -> torch.Tensor:
    """Burda et al.'s (2016) activity of each dimension, ``A_d = Var_x(E_q[z_d]) = Var_n(mu_nd)``:
    (N, D) -> (D,). A dimension whose mean does not move with x says nothing about x."""
    if mu.dim() != 2 or mu.shape[0] < 2:
        raise ValueError(f"mu must be (N, D) with N >= 2 images, got {tuple(mu.shape)}.")
    return mu.var(0)


def active_units(values: torch.Tensor, threshold: float = 0.01) -> int:
    """How many dimensions have ``values`` (KL_d in nats, or A_d) above ``threshold``: (D,) -> int."""
    if values.dim() != 1:
        raise ValueError(f"values must be (D,), one per dimension, got {tuple(values.shape)}.")
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold!r}.")
    return int((values > threshold).sum())


def beta_warmup(step: int, warmup_steps: int, beta: float = 1.0) -> float:
    """KL annealing: ``beta_t = beta * min(1, t / warmup_steps)``, from 0 up to beta in
    ``warmup_steps`` steps (Bowman et al. 2016; Sønderby et al. 2016); beta from the start when
    ``warmup_steps`` is 0."""
    if step < 0 or warmup_steps < 0:
        raise ValueError(f"step and warmup_steps must be >= 0, got {step}, {warmup_steps}.")
    return beta if warmup_steps == 0 else beta * min(1.0, step / warmup_steps)


class ELBOLoss:
    """The training loss of lesson 08, a ``loss_fn`` for ``train.train``: per-image means of
    ``losses.negative_elbo`` with beta (warmed up over ``warmup_steps`` training steps), free
    bits, and the model's prior.

    ``loss_fn(model, x)`` encodes, draws ``z = mu + exp(logvar / 2) * eps``, decodes and returns
    ``{"loss", "recon", "kl", "beta"}``. With ``prior`` (e.g. ``model.prior``, a module with
    ``log_prob``) the KL is the Monte Carlo ``log q(z|x) - log p(z)``; with None the closed form
    to N(0, I). Each call in training mode counts one step (``self.step``) of the warm-up.
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
        if not beta >= 0 or not free_bits >= 0:
            raise ValueError(f"beta and free_bits must be >= 0, got {beta!r}, {free_bits!r}.")
        if prior is not None and not hasattr(prior, "log_prob"):
            raise TypeError("prior must have log_prob(z): pass e.g. priors.MixturePrior(...).")
        self.beta, self.free_bits, self.warmup_steps = beta, free_bits, warmup_steps
        self.prior, self.step = prior, 0

    def __call__(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        beta = beta_warmup(self.step, self.warmup_steps, self.beta)
        if model.training:
            self.step += 1
        mu, logvar = model.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = model.decode_logits(z)
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
