"""The course's models: a plain autoencoder now, the VAEs of lesson 05 beside it."""

from __future__ import annotations

import math

import torch
from torch import nn


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
