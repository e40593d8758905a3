"""vaelib.losses against their formulas, torch references and closed forms."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from vaelib.losses import (
    mse_reconstruction_loss,
    negative_elbo,
    reconstruction_loss,
    reconstruction_loss_with_logits,
)


def _pair(seed: int = 0, shape=(4, 1, 28, 28)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g), torch.randn(shape, generator=g)


def test_reconstruction_loss_is_the_bernoulli_formula():
    x, logits = _pair()
    x_hat = torch.sigmoid(logits)
    formula = -(x * torch.log(x_hat) + (1 - x) * torch.log(1 - x_hat)).sum()
    torch.testing.assert_close(reconstruction_loss(x, x_hat), formula, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(
        reconstruction_loss(x, x_hat), F.binary_cross_entropy(x_hat, x, reduction="sum")
    )


def test_half_everywhere_gives_d_log_2_per_image():
    x = torch.rand(3, 1, 28, 28)
    loss = reconstruction_loss(x, torch.full_like(x, 0.5))
    assert loss.item() == pytest.approx(3 * 784 * math.log(2), rel=1e-6)


def test_logits_form_agrees_and_stays_finite():
    x, logits = _pair(1)
    torch.testing.assert_close(
        reconstruction_loss_with_logits(x, logits),
        reconstruction_loss(x, torch.sigmoid(logits)),
        rtol=1e-5,
        atol=1e-3,
    )
    # Where sigmoid rounds to 1, BCE on probabilities clamps log(0) at -100; logits do not.
    x0 = torch.zeros(1, 1, 2, 2)
    big = torch.full_like(x0, 40.0)
    assert reconstruction_loss_with_logits(x0, big).item() == pytest.approx(4 * 40.0, rel=1e-6)
    assert reconstruction_loss(x0, torch.sigmoid(big)).item() == pytest.approx(400.0)


def test_mse_is_squared_norm():
    x, x_hat = _pair(2)
    assert mse_reconstruction_loss(x, x_hat).item() == pytest.approx(
        torch.linalg.vector_norm(x - x_hat).pow(2).item(), rel=1e-5
    )
    torch.testing.assert_close(
        mse_reconstruction_loss(x, x_hat), F.mse_loss(x_hat, x, reduction="sum")
    )


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan")])
def test_reconstruction_loss_rejects_values_outside_unit_interval(bad):
    x = torch.rand(2, 1, 4, 4)
    wrong = x.clone()
    wrong[0, 0, 0, 0] = bad
    with pytest.raises(ValueError, match="x_hat"):
        reconstruction_loss(x, wrong)
    with pytest.raises(ValueError, match="targets"):
        reconstruction_loss(wrong, x)
    with pytest.raises(ValueError, match="targets"):
        reconstruction_loss_with_logits(wrong, x)


def test_shape_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match="same shape"):
        reconstruction_loss(torch.rand(2, 1, 4, 4), torch.rand(2, 16))
    with pytest.raises(ValueError, match="same shape"):
        mse_reconstruction_loss(torch.rand(2, 1, 4, 4), torch.rand(2, 1, 4, 5))


def test_negative_elbo_is_per_image_and_matches_the_deck_form():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 28, 28, generator=g, dtype=torch.float64)
    logits = torch.randn(4, 1, 28, 28, generator=g, dtype=torch.float64)
    mu = torch.randn(4, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(4, 3, generator=g, dtype=torch.float64)
    out = negative_elbo(x, logits, mu, logvar, beta=2.0)
    assert out.loss.shape == out.recon.shape == out.kl.shape == (4,)
    x_hat = torch.sigmoid(logits)
    recon = F.binary_cross_entropy(x_hat, x, reduction="none").flatten(1).sum(1)  # the deck's
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    kl = torch.distributions.kl_divergence(q, p).sum(1)
    torch.testing.assert_close(out.recon, recon)
    torch.testing.assert_close(out.kl, kl)
    torch.testing.assert_close(out.loss, recon + 2.0 * kl)
    torch.testing.assert_close(negative_elbo(x, logits, mu, logvar).loss, recon + kl)
    assert (out.kl > 0).all()


def test_negative_elbo_kl_is_zero_at_the_prior_and_stable_for_saturated_logits():
    x = torch.tensor([0.0, 1.0, 0.0, 1.0]).view(1, 1, 2, 2)
    logits = torch.tensor([-200.0, 200.0, -30.0, 30.0]).view(1, 1, 2, 2)  # sigmoid rounds to 0/1
    out = negative_elbo(x, logits, torch.zeros(1, 3), torch.zeros(1, 3))
    assert out.kl.item() == 0.0
    assert torch.isfinite(out.loss).all() and out.recon.item() < 1e-12


def test_negative_elbo_error_paths():
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(ValueError, match="logvar"):
        negative_elbo(x, x, torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="batch size"):
        negative_elbo(x, x, torch.zeros(3, 3), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="beta must be a non-negative"):
        negative_elbo(x, x, torch.zeros(2, 3), torch.zeros(2, 3), beta=-1.0)
    with pytest.raises(ValueError, match="logits has shape"):
        negative_elbo(x, x[:1], torch.zeros(2, 3), torch.zeros(2, 3))
