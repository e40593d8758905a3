"""A two-level VAE (lesson 11): Burda et al.'s (2016) two stochastic layers, bottom-up inference.

Generative model, top-down:

    p(z2) = N(0, I),   p(z1 | z2) = N(mu_p(z2), diag exp(logvar_p(z2))),   p(x | z1) Bernoulli

Inference, bottom-up (the same direction as the encoder of the one-level VAE):

    q(z1 | x) = N(mu_1(x), diag exp(logvar_1(x))),   q(z2 | z1) = N(mu_2(z1), diag exp(logvar_2(z1)))

With one sample ``z1 ~ q(z1|x)``, ``z2 ~ q(z2|z1)`` the ELBO splits into a reconstruction term
and one KL per level:

    -ELBO = E_q[-log p(x|z1)]                                    (recon)
          + E_q[log q(z1|x) - log p(z1|z2)]                      (kl1: level 1, Monte Carlo)
          + E_q(z1|x)[KL(q(z2|z1) || N(0, I))]                   (kl2: level 2, closed form in z2)

(``kl1 + kl2`` is ``KL(q(z1, z2|x) || p(z1, z2))``.) This is not the ladder / top-down inference
of Sønderby et al. (2016) or NVAE, where q(z1 | z2, x) runs in the generative direction; it is
the simpler model those papers improve on, whose top level tends to go unused.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from vaelib import validate as check
from vaelib.densities import log_normal_diag, log_standard_normal
from vaelib.iwae import log_mean_exp
from vaelib.kl import kl_gaussian
from vaelib.models import mlp
from vaelib.reparam import reparameterize


class TwoLevelVAE(nn.Module):
    """Two Gaussian latent levels, z1 (``z1_dim``) under z2 (``z2_dim``).

    q(z1|x): 784-400-(mu, logvar) as the one-level VAE's encoder; q(z2|z1) and p(z1|z2): MLPs
    with one hidden layer of ``top_hidden`` units; p(x|z1): ``z1_dim``-400-784 (``decoder``).
    """

    def __init__(
        self, z1_dim: int = 20, z2_dim: int = 10, hidden: int = 400, top_hidden: int = 100
    ) -> None:
        super().__init__()
        check.integer(z1_dim, "z1_dim", 1, "the dimension of z1")
        check.integer(z2_dim, "z2_dim", 1, "the dimension of z2")
        self.z1_dim, self.z2_dim, self.image_shape = z1_dim, z2_dim, (1, 28, 28)
        self.latent_dim = z1_dim
        self.encoder = mlp([784, hidden, 2 * z1_dim], nn.Identity())  # q(z1 | x)
        self.encoder_top = mlp([z1_dim, top_hidden, 2 * z2_dim])  # q(z2 | z1)
        self.prior_z1 = mlp([z2_dim, top_hidden, 2 * z1_dim])  # p(z1 | z2)
        self.decoder = mlp([z1_dim, hidden, 784])  # p(x | z1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z1|x): x (N, 1, 28, 28) -> (mu1, logvar1), each (N, z1_dim)."""
        return self.encoder(x.flatten(1)).chunk(2, dim=-1)

    def encode_top(self, z1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z2|z1): z1 (..., z1_dim) -> (mu2, logvar2), each (..., z2_dim)."""
        return self.encoder_top(z1).chunk(2, dim=-1)

    def prior(self, z2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """p(z1|z2): z2 (..., z2_dim) -> (mu, logvar) of z1, each (..., z1_dim)."""
        return self.prior_z1(z2).chunk(2, dim=-1)

    def decode_logits(self, z1: torch.Tensor) -> torch.Tensor:
        """p(x|z1): z1 (N, z1_dim) -> logits (N, 1, 28, 28)."""
        return self.decoder(z1).view(-1, *self.image_shape)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images: z2 ~ N(0, I), z1 ~ p(z1|z2), x_hat = sigmoid(logits(z1)) (N, 1, 28, 28)."""
        n = check.integer(n, "n", 1, "the number of images")
        device = next(self.parameters()).device
        z2 = torch.randn(n, self.z2_dim, generator=generator, device=device)
        z1 = reparameterize(*self.prior(z2), generator)
        return torch.sigmoid(self.decode_logits(z1))


class TwoLevelTerms(NamedTuple):
    """The two-level negative ELBO per image and its terms, each (N,), in nats:
    ``loss = recon + kl1 + kl2`` (``-ELBO``)."""

    loss: torch.Tensor
    recon: torch.Tensor  # -log p(x|z1), one z1
    kl1: torch.Tensor  # log q(z1|x) - log p(z1|z2), one (z1, z2): unbiased for level 1's KL
    kl2: torch.Tensor  # KL(q(z2|z1) || N(0, I)) in closed form, for the same z1

    @property
    def elbo(self) -> torch.Tensor:
        return -self.loss


def _check_model_and_x(model: object, x: object) -> None:
    if not isinstance(model, TwoLevelVAE):
        raise TypeError(f"model must be a hierarchical.TwoLevelVAE, got {type(model).__name__}.")
    check.floating(x, "x")
    check.batch(x, "x", 4, "(N, 1, 28, 28)")


def negative_elbo(
    model: TwoLevelVAE, x: torch.Tensor, generator: torch.Generator | None = None
) -> TwoLevelTerms:
    """One-sample ``-ELBO`` per image and its three terms (see the module docstring):
    x (N, 1, 28, 28) binary -> ``TwoLevelTerms`` of (N,) tensors, with gradients."""
    _check_model_and_x(model, x)
    mu1, logvar1 = model.encode(x)
    z1 = reparameterize(mu1, logvar1, generator)
    mu2, logvar2 = model.encode_top(z1)
    z2 = reparameterize(mu2, logvar2, generator)
    recon = (
        F.binary_cross_entropy_with_logits(model.decode_logits(z1), x, reduction="none")
        .flatten(1)
        .sum(1)
    )
    kl1 = log_normal_diag(z1, mu1, logvar1) - log_normal_diag(z1, *model.prior(z2))
    kl2 = kl_gaussian(mu2, logvar2)
    return TwoLevelTerms(recon + kl1 + kl2, recon, kl1, kl2)


def hvae_loss(model: TwoLevelVAE, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The ``loss_fn`` of ``train.train``: batch means of ``negative_elbo``'s terms, and
    ``kl = kl1 + kl2`` (the rate, as the one-level VAE logs it)."""
    terms = negative_elbo(model, x)
    out = {key: value.mean() for key, value in terms._asdict().items()}
    return {**out, "kl": out["kl1"] + out["kl2"]}


@torch.no_grad()
def log_weights(
    model: TwoLevelVAE,
    x: torch.Tensor,
    k: int,
    *,
    generator: torch.Generator | None = None,
    max_rows: int = 1024,
) -> torch.Tensor:
    """Importance log-weights ``log p(x|z1) + log p(z1|z2) + log p(z2) - log q(z1|x) -
    log q(z2|z1)`` of k draws ``(z1, z2) ~ q``: x (N, 1, 28, 28) binary -> (N, k). At most
    ``max_rows`` decoder rows at a time."""
    _check_model_and_x(model, x)
    k = check.integer(k, "k", 1, "the number of importance samples")
    check.integer(max_rows, "max_rows", 1, "decoder rows per step")
    model.eval()
    out = []
    chunk = max(1, max_rows // k)
    for start in range(0, x.shape[0], chunk):
        xs = x[start : start + chunk]
        mu1, logvar1 = model.encode(xs)
        n, d = mu1.shape
        parts = []
        step = max(1, max_rows // n)
        for s in range(0, k, step):
            m = min(step, k - s)
            mu1_m, logvar1_m = mu1[:, None].expand(n, m, d), logvar1[:, None].expand(n, m, d)
            z1 = reparameterize(mu1_m, logvar1_m, generator)  # (n, m, d)
            mu2, logvar2 = model.encode_top(z1)
            z2 = reparameterize(mu2, logvar2, generator)
            logits = model.decode_logits(z1.reshape(n * m, d)).view(n, m, -1)
            log_px = (xs.reshape(n, 1, -1) * logits + F.logsigmoid(-logits)).sum(-1)
            log_p = log_normal_diag(z1, *model.prior(z2)) + log_standard_normal(z2)
            log_q = log_normal_diag(z1, mu1_m, logvar1_m) + log_normal_diag(z2, mu2, logvar2)
            parts.append(log_px + log_p - log_q)
        out.append(torch.cat(parts, dim=1))
    return torch.cat(out)


def iwae_log_likelihood(
    model: TwoLevelVAE,
    x: torch.Tensor,
    k: int,
    *,
    generator: torch.Generator | None = None,
    max_rows: int = 1024,
) -> torch.Tensor:
    """The IWAE estimate ``L_k = log (1/k) sum_i w_i`` of ``log p(x)`` per image, (N,), in nats:
    the two-level model's counterpart of ``evaluate.iwae_log_likelihood``."""
    return log_mean_exp(log_weights(model, x, k, generator=generator, max_rows=max_rows), dim=1)


@torch.no_grad()
def level_means(
    model: TwoLevelVAE, x: torch.Tensor, samples: int = 16, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The posterior means of each level, for Burda et al.'s active units per level:
    ``E_q[z1|x] = mu_1(x)`` (N, z1_dim) and ``E_q[z2|x] = E_{q(z1|x)}[mu_2(z1)]`` (N, z2_dim),
    the latter averaged over ``samples`` draws of z1."""
    _check_model_and_x(model, x)
    samples = check.integer(samples, "samples", 1, "draws of z1 per image")
    model.eval()
    mu1, logvar1 = model.encode(x)
    z1 = reparameterize(
        mu1[:, None].expand(-1, samples, -1), logvar1[:, None].expand(-1, samples, -1), generator
    )
    return mu1, model.encode_top(z1)[0].mean(1)


__all__ = [
    "TwoLevelTerms",
    "TwoLevelVAE",
    "hvae_loss",
    "iwae_log_likelihood",
    "level_means",
    "log_weights",
    "negative_elbo",
]
