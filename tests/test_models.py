"""vaelib.models.Autoencoder: shapes, its errors, and a decoder whose outputs are pixels."""

from __future__ import annotations

import pytest
import torch

from vaelib.models import Autoencoder


@pytest.mark.parametrize("latent_dim", [1, 2, 20])
def test_autoencoder_shapes(latent_dim):
    torch.manual_seed(0)
    model = Autoencoder(latent_dim=latent_dim)
    x = torch.rand(5, 1, 28, 28)
    z = model.encode(x)
    assert z.shape == (5, latent_dim)
    assert model.decode_logits(z).shape == (5, 1, 28, 28)
    assert model.decode(z).shape == (5, 1, 28, 28)
    assert model(x).shape == x.shape


def test_autoencoder_forward_is_decode_of_encode_and_sigmoid_of_logits():
    torch.manual_seed(0)
    model = Autoencoder()
    x = torch.rand(4, 1, 28, 28)
    z = model.encode(x)
    torch.testing.assert_close(model(x), model.decode(z))
    torch.testing.assert_close(model.decode(z), torch.sigmoid(model.decode_logits(z)))


def test_autoencoder_decode_is_in_unit_interval_even_far_from_the_codes():
    torch.manual_seed(0)
    model = Autoencoder()
    z = torch.cat([torch.randn(50, 2), 1e3 * torch.randn(50, 2)])
    with torch.no_grad():
        x_hat = model.decode(z)
    assert float(x_hat.min()) >= 0 and float(x_hat.max()) <= 1


def test_autoencoder_default_is_two_dimensional_and_other_image_shapes():
    assert Autoencoder().latent_dim == 2
    model = Autoencoder(latent_dim=3, hidden=(16,), image_shape=(1, 8, 8))
    assert model(torch.rand(2, 1, 8, 8)).shape == (2, 1, 8, 8)
    assert sum(p.numel() for p in model.parameters()) == (64 * 16 + 16) + (16 * 3 + 3) + (
        3 * 16 + 16
    ) + (16 * 64 + 64)


@pytest.mark.parametrize("latent_dim", [0, -2])
def test_autoencoder_latent_dim_errors(latent_dim):
    with pytest.raises(ValueError, match="latent_dim must be at least 1"):
        Autoencoder(latent_dim=latent_dim)
