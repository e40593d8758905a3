"""The conditional VAE (Sohn et al. 2015): encoder and decoder both see the label (lesson 10).

The model of ``p(x | y)``: ``q(z | x, y) = N(mu(x, y), diag(exp(logvar(x, y))))``, prior
``p(z) = N(0, I)`` (the same for every class), decoder ``p(x | z, y)``. The label enters as a
one-hot vector concatenated to each network's input. Its loss is the conditional negative ELBO

    -ELBO(x | y) = E_q[-log p(x | z, y)] + KL(q(z | x, y) || N(0, I)),

so z needs to carry only what the label does not say (the style: thickness, shape, pose).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from vaelib import evaluate, losses
from vaelib import validate as check
from vaelib.classifier import N_CLASSES, check_labels
from vaelib.densities import log_normal_diag, log_standard_normal
from vaelib.models import mlp
from vaelib.reparam import reparameterize


def one_hot(y: torch.Tensor, n_classes: int = N_CLASSES) -> torch.Tensor:
    """Class indices y (N,) -> one-hot rows (N, n_classes), float32."""
    return F.one_hot(y, n_classes).float()


def decoder_input(z: torch.Tensor, y: torch.Tensor, n_classes: int = N_CLASSES) -> torch.Tensor:
    """The conditional decoder's input: ``[z, onehot(y)]``, z (N, D), y (N,) -> (N, D + classes)."""
    return torch.cat([z, one_hot(y, n_classes).to(z.dtype)], dim=1)


class ConditionalVAE(nn.Module):
    """An MLP conditional VAE, lesson 06's 784-400-20 VAE with the label's one-hot added to the
    input of both networks.

    Encoder: [x flattened (784), onehot(y) (10)] -> Linear 400 -> ReLU -> heads mu, logvar
    (N, latent_dim). Decoder: [z, onehot(y)] -> Linear 400 -> ReLU -> Linear 784 = logits
    (N, 1, 28, 28), x_hat = sigmoid(logits).
    """

    def __init__(self, latent_dim: int = 20, hidden: int = 400, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        check.integer(latent_dim, "latent_dim", 1)
        self.latent_dim, self.n_classes, self.image_shape = latent_dim, n_classes, (1, 28, 28)
        self.encoder = nn.Sequential(nn.Linear(784 + n_classes, hidden), nn.ReLU())
        self.mu_head = nn.Linear(hidden, latent_dim)
        self.logvar_head = nn.Linear(hidden, latent_dim)
        self.decoder = mlp([latent_dim + n_classes, hidden, 784])

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, 1, 28, 28), y (N,) -> (mu, logvar), each (N, latent_dim)."""
        h = self.encoder(torch.cat([x.flatten(1), one_hot(y, self.n_classes).to(x.dtype)], 1))
        return self.mu_head(h), self.logvar_head(h)

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """z (N, latent_dim), y (N,) -> logits (N, 1, 28, 28)."""
        return self.decoder(decoder_input(z, y, self.n_classes)).view(-1, *self.image_shape)

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """z (N, latent_dim), y (N,) -> x_hat (N, 1, 28, 28) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z, y))

    def forward(
        self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x, y) -> (x_hat, mu, logvar): encode, draw z = mu + sigma * eps, decode under y."""
        mu, logvar = self.encode(x, y)
        return self.decode(reparameterize(mu, logvar, generator=generator), y), mu, logvar

    @torch.no_grad()
    def sample(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One image per label: z ~ N(0, I), x_hat = decode(z, y); y (N,) -> (N, 1, 28, 28)."""
        y = check_labels(y, "y")
        device = next(self.parameters()).device
        z = torch.randn(len(y), self.latent_dim, generator=generator, device=device)
        return self.decode(z, y.to(device))


def cvae_loss(model: ConditionalVAE, batch: tuple[torch.Tensor, torch.Tensor]) -> dict:
    """The conditional negative ELBO of an ``(x, y)`` batch (``losses.negative_elbo`` with the
    label given to both networks), means per image: loss = recon + kl."""
    x, y = batch
    mu, logvar = model.encode(x, y)
    terms = losses.negative_elbo(x, model.decode_logits(reparameterize(mu, logvar), y), mu, logvar)
    return {"loss": terms.loss.mean(), "recon": terms.recon.mean(), "kl": terms.kl.mean()}


@torch.no_grad()
def conditional_iwae(
    model: ConditionalVAE,
    x: torch.Tensor,
    y: torch.Tensor,
    k: int,
    *,
    likelihood: str = "continuous_bernoulli",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The IWAE estimate of ``log p(x | y)`` per image (Burda et al. 2016): x (N, 1, 28, 28),
    y (N,) -> (N,), ``L_k = logsumexp_i [log p(x|z_i, y) + log N(z_i; 0, I) - log q(z_i|x, y)]
    - log k`` with ``z_i ~ q(z|x, y)``; ``likelihood`` as in ``evaluate.decoder_log_prob``."""
    check.integer(k, "k", 1, "the number of importance samples")
    check.floating(x, "x"), check.batch(x, "x", 4, "(N, 1, 28, 28)")
    y = check_labels(y, "y", x.shape[0])
    model.eval()
    mu, logvar = model.encode(x, y)
    n, d = mu.shape
    mu_k, logvar_k = mu[:, None].expand(n, k, d), logvar[:, None].expand(n, k, d)
    z = reparameterize(mu_k, logvar_k, generator)  # (N, k, D)
    log_q = log_normal_diag(z, mu_k, logvar_k)  # (N, k)
    log_p = log_standard_normal(z)
    logits = model.decode_logits(z.reshape(n * k, d), y.repeat_interleave(k)).view(
        n, k, *x.shape[1:]
    )
    log_px = evaluate.decoder_log_prob(x[:, None], logits, likelihood)
    return torch.logsumexp(log_px + log_p - log_q, dim=1) - math.log(k)


@torch.no_grad()
def marginal_iwae(
    model: ConditionalVAE,
    x: torch.Tensor,
    k: int,
    *,
    likelihood: str = "continuous_bernoulli",
    generator: torch.Generator | None = None,
    batch_size: int = 100,
) -> torch.Tensor:
    """A lower bound on ``log p(x) = log sum_y p(y) p(x | y)`` with ``p(y) = 1/10``, per image:
    ``log sum_y (1/10) exp(L_k(x | y))``. Each ``exp(L_k(x|y))`` is an unbiased estimate of
    ``p(x | y)``, so their p(y)-weighted sum is one of ``p(x)`` and its log a stochastic lower
    bound (Jensen), comparable with an unconditional VAE's IWAE. x (N, 1, 28, 28) -> (N,)."""
    check.floating(x, "x"), check.batch(x, "x", 4, "(N, 1, 28, 28)")
    out = []
    for start in range(0, x.shape[0], batch_size):
        xs = x[start : start + batch_size]
        per_class = [
            conditional_iwae(model, xs, torch.full((len(xs),), c, device=xs.device), k,
                             likelihood=likelihood, generator=generator)
            for c in range(model.n_classes)
        ]  # fmt: skip
        out.append(torch.logsumexp(torch.stack(per_class, 1), 1) - math.log(model.n_classes))
    return torch.cat(out)
