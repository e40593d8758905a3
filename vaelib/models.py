"""The course's models: a plain autoencoder now, the VAEs of lesson 06 beside it."""

from __future__ import annotations

import math

import torch
from torch import nn

from vaelib.reparam import reparameterize


def mlp(sizes: list[int], final_activation: nn.Module | None = None) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    if final_activation is not None:
        layers.append(final_activation)
    return nn.Sequential(*layers)


def decode_logits(model: nn.Module, z: torch.Tensor, x: torch.Tensor | None) -> torch.Tensor:
    """The decoder's logits of ``p(x|z)`` for the images x: z (N, D), x (N, 1, H, W) -> (N, 1, H, W).

    ``model.decode_logits(z)`` for the course's VAEs, whose pixels are independent given z;
    ``model.decode_logits(z, x)`` for a model with ``autoregressive = True``
    (``autoregressive.ARVAE``), whose logit of each pixel also reads the pixels before it in x
    (teacher forcing; x is then required, else it may be None). The one place the losses and likelihood estimates tell the two apart.
    """
    if getattr(model, "autoregressive", False):
        return model.decode_logits(z, x)
    return model.decode_logits(z)


class Autoencoder(nn.Module):
    """A plain MLP autoencoder: x -> z = encoder(x) -> x_hat = sigmoid(decoder(z)).

    x: (N, 1, 28, 28) in [0, 1]; z: (N, latent_dim); x_hat: like x. ``latent_dim=2`` by
    default so the codes can be drawn on a page.
    """

    def __init__(
        self,
        latent_dim: int = 2,
        hidden: tuple[int, ...] = (512, 256),
        image_shape: tuple[int, int, int] = (1, 28, 28),
    ) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be at least 1, got {latent_dim}.")
        self.latent_dim, self.image_shape = latent_dim, tuple(image_shape)
        d = math.prod(image_shape)
        self.encoder = mlp([d, *hidden, latent_dim])
        self.decoder = mlp([latent_dim, *reversed(hidden), d])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 1, H, W) -> z: (N, latent_dim)."""
        return self.encoder(x.flatten(1))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """z: (N, latent_dim) -> logits (N, 1, H, W); x_hat = sigmoid(logits)."""
        return self.decoder(z).view(-1, *self.image_shape)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z: (N, latent_dim) -> x_hat: (N, 1, H, W) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 1, H, W) -> x_hat: (N, 1, H, W)."""
        return self.decode(self.encode(x))


class VAE(nn.Module):
    """An MLP VAE; the default is the classic 784-400-20 of pytorch/examples ``vae/main.py``.

    Encoder ``q(z|x) = N(mu, diag(exp(logvar)))``: x (N, 1, 28, 28) -> flatten -> Linear 400
    -> ReLU -> two heads ``mu, logvar`` (N, latent_dim). Decoder ``p(x|z)``: z -> Linear 400
    -> ReLU -> Linear 784 -> sigmoid = x_hat (N, 1, 28, 28) in [0, 1]. Prior ``p(z) = N(0, I)``.
    """

    def __init__(
        self,
        latent_dim: int = 20,
        hidden: tuple[int, ...] = (400,),
        image_shape: tuple[int, int, int] = (1, 28, 28),
    ) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be at least 1, got {latent_dim}.")
        if not hidden:
            raise ValueError("hidden must name at least one layer width, e.g. (400,).")
        self.latent_dim, self.image_shape = latent_dim, tuple(image_shape)
        d = math.prod(image_shape)
        self.encoder = nn.Sequential(*mlp([d, *hidden]), nn.ReLU())
        self.mu_head = nn.Linear(hidden[-1], latent_dim)
        self.logvar_head = nn.Linear(hidden[-1], latent_dim)  # logvar: unconstrained, stable
        self.decoder = mlp([latent_dim, *reversed(hidden), d])

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (N, 1, H, W) -> (mu, logvar), each (N, latent_dim)."""
        h = self.encoder(x.flatten(1))
        return self.mu_head(h), self.logvar_head(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """z: (N, latent_dim) -> logits (N, 1, H, W); x_hat = sigmoid(logits)."""
        return self.decoder(z).view(-1, *self.image_shape)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z: (N, latent_dim) -> x_hat: (N, 1, H, W) in [0, 1], the Bernoulli means."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x: (N, 1, H, W) -> (x_hat, mu, logvar): encode, draw z = mu + sigma * eps, decode."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, generator=generator)
        return self.decode(z), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images from the model: z ~ N(0, I) (N, latent_dim), x_hat = decode(z) in [0, 1]."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}.")
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator, device=device)
        return self.decode(z)


class ConvVAE(VAE):
    """A convolutional VAE for (N, 1, 28, 28) images, with VAE's interface.

    Encoder: Conv 32 (4x4, stride 2) -> 14x14 -> Conv 64 (4x4, stride 2) -> 7x7 -> Linear
    ``hidden`` -> heads mu, logvar. Decoder: Linear ``hidden`` -> Linear 64*7*7 -> ConvT 32 ->
    14x14 -> ConvT 1 -> 28x28 logits; x_hat = sigmoid(logits).
    """

    def __init__(self, latent_dim: int = 20, hidden: int = 256, channels: int = 32) -> None:
        nn.Module.__init__(self)
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be at least 1, got {latent_dim}.")
        self.latent_dim, self.image_shape = latent_dim, (1, 28, 28)
        c = channels
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(2 * c * 7 * 7, hidden), nn.ReLU(),
        )  # fmt: skip
        self.mu_head = nn.Linear(hidden, latent_dim)
        self.logvar_head = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, 2 * c * 7 * 7), nn.ReLU(), nn.Unflatten(1, (2 * c, 7, 7)),
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1),
        )  # fmt: skip

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (N, 1, 28, 28) -> (mu, logvar), each (N, latent_dim)."""
        h = self.encoder(x)
        return self.mu_head(h), self.logvar_head(h)
