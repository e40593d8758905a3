"""vaelib.losses against their formulas, torch references and closed forms."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from vaelib.kl import kl_gaussian
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


def _elbo_inputs(n: int = 4, d: int = 3):
    g = torch.Generator().manual_seed(3)
    x = torch.rand(n, 1, 4, 4, generator=g, dtype=torch.float64)
    logits = torch.randn(n, 1, 4, 4, generator=g, dtype=torch.float64)
    mu = torch.randn(n, d, generator=g, dtype=torch.float64)
    logvar = 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
    return x, logits, mu, logvar


def test_free_bits_as_kingma_by_hand_on_the_minibatch_average():
    # 2 images, 2 dimensions, logvar = 0, so KL_nd = 0.5 * mu_nd^2:
    # KL = [[0.5, 0], [0, 0]]; the minibatch averages KL_d^M = (0.25, 0).
    x = torch.full((2, 1, 2, 2), 0.5, dtype=torch.float64)
    logits = torch.zeros(2, 1, 2, 2, dtype=torch.float64)  # recon = 4 log 2 per image
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    logvar = torch.zeros(2, 2, dtype=torch.float64)
    recon = 4 * math.log(2)
    # lambda = 0.1: sum_d max(0.1, KL_d^M) = 0.25 + 0.1 = 0.35; per image 0.5 + 0.1 and 0 + 0.1
    out = negative_elbo(x, logits, mu, logvar, free_bits=0.1)
    torch.testing.assert_close(
        out.loss, torch.tensor([recon + 0.6, recon + 0.1], dtype=torch.float64)
    )
    assert float(out.loss.mean()) == pytest.approx(recon + 0.35)
    torch.testing.assert_close(out.kl, torch.tensor([0.5, 0.0], dtype=torch.float64))  # true KL
    # lambda = 0.3: max(0.3, 0.25) + max(0.3, 0) = 0.6, with beta = 2: 1.2 per image
    out = negative_elbo(x, logits, mu, logvar, beta=2.0, free_bits=0.3)
    torch.testing.assert_close(out.loss, torch.tensor([recon + 1.2] * 2, dtype=torch.float64))
    # the per-image clamp sum_d max(0.3, KL_nd) would give (0.8 + 0.6) / 2 = 0.7, not 0.6
    per_image = (0.5 * mu.pow(2)).clamp(min=0.3).sum(1).mean()
    assert float(per_image) == pytest.approx(0.7)


def test_free_bits_gradient_only_for_dimensions_above_the_floor_on_average():
    x, logits, mu, logvar = _elbo_inputs()
    mu[:, 0], logvar[:, 0] = 0.01, 0.0  # dimension 0 nearly collapsed: KL_0 ~ 5e-5 nats
    mu[0, 1] = 3.0  # one image spends 4.5 nats on dimension 1: its average is above the floor
    plain = negative_elbo(x, logits, mu, logvar, beta=2.0)
    out = negative_elbo(x, logits, mu, logvar, beta=2.0, free_bits=0.5)
    kl_nd = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)  # (N, D), by hand
    above = kl_nd.mean(0) > 0.5
    charged = torch.where(above, kl_nd, torch.full_like(kl_nd, 0.5)).sum(1)
    torch.testing.assert_close(out.loss, out.recon + 2.0 * charged)
    torch.testing.assert_close(out.kl, plain.kl)  # kl reports the true KL
    floor = torch.maximum(kl_nd.mean(0), torch.tensor(0.5, dtype=kl_nd.dtype)).sum()
    torch.testing.assert_close(out.loss.mean(), out.recon.mean() + 2.0 * floor)
    mu.requires_grad_(True)  # below the floor (on average) a dimension's KL has no gradient
    negative_elbo(x, logits, mu, logvar, free_bits=0.5).loss.sum().backward()
    assert torch.all(mu.grad[:, ~above] == 0)
    assert bool(above[1]) and float(mu.grad[0, 1]) != 0


def test_free_bits_zero_is_the_plain_loss():
    x, logits, mu, logvar = _elbo_inputs()
    a = negative_elbo(x, logits, mu, logvar, beta=0.5)
    b = negative_elbo(x, logits, mu, logvar, beta=0.5, free_bits=0.0)
    torch.testing.assert_close(a.loss, b.loss)


def test_monte_carlo_kl_is_log_q_minus_log_p_and_unbiased():
    x, logits, mu, logvar = _elbo_inputs(n=2)
    std = torch.exp(0.5 * logvar)
    z = mu + std * torch.randn(mu.shape, generator=torch.Generator().manual_seed(1), dtype=mu.dtype)
    prior = torch.distributions.Normal(torch.zeros(3, dtype=mu.dtype), 2.0)

    def log_prior(t):
        return prior.log_prob(t).sum(1)

    out = negative_elbo(x, logits, mu, logvar, z=z, log_prior=log_prior, beta=3.0)
    log_q = torch.distributions.Normal(mu, std).log_prob(z).sum(1)
    torch.testing.assert_close(out.kl, log_q - log_prior(z))
    torch.testing.assert_close(out.loss, out.recon + 3.0 * out.kl)
    # the mean of many one-sample estimates is the closed-form KL to N(0, 4 I)
    m = 200_000
    eps = torch.randn(m, 3, generator=torch.Generator().manual_seed(2), dtype=mu.dtype)
    mus, lvs = mu[:1].expand(m, 3), logvar[:1].expand(m, 3)
    xs, ls = x[:1].expand(m, 1, 4, 4), logits[:1].expand(m, 1, 4, 4)
    mc = negative_elbo(xs, ls, mus, lvs, z=mus + std[:1] * eps, log_prior=log_prior).kl.mean()
    exact = kl_gaussian(mu[:1], logvar[:1], torch.zeros(3).double(), torch.full((3,), 4.0).log())
    torch.testing.assert_close(mc, exact[0], rtol=0.02, atol=0.01)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"free_bits": -0.1}, "free_bits must be a non-negative"),
        ({"z": "mu"}, "z is used only with log_prior"),
        ({"log_prior": lambda z: z.sum(1)}, "log_prior needs z"),
        ({"log_prior": lambda z: z.sum(1), "z": "mu", "free_bits": 0.5}, "free_bits needs"),
    ],
)
def test_negative_elbo_extension_errors(kwargs, match):
    x, logits, mu, logvar = _elbo_inputs()
    kwargs = {k: (mu if v == "mu" else v) for k, v in kwargs.items()}
    with pytest.raises(ValueError, match=match):
        negative_elbo(x, logits, mu, logvar, **kwargs)
    with pytest.raises(TypeError, match="log_prior must be a callable"):
        negative_elbo(x, logits, mu, logvar, z=mu, log_prior=3.0)
