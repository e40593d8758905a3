"""vaelib.conditional: the conditional VAE's shapes, that the label reaches both networks, its
loss and its likelihood bounds."""

from __future__ import annotations

import math

import pytest
import torch

from vaelib import conditional as cv
from vaelib import evaluate, losses


@pytest.fixture
def model():
    torch.manual_seed(0)
    return cv.ConditionalVAE(latent_dim=4, hidden=32)


def test_shapes(model):
    x, y = torch.rand(6, 1, 28, 28), torch.arange(6)
    mu, logvar = model.encode(x, y)
    assert mu.shape == logvar.shape == (6, 4)
    assert model.decode_logits(mu, y).shape == (6, 1, 28, 28)
    x_hat, _, _ = model(x, y)
    assert x_hat.shape == x.shape and 0 <= x_hat.min() and x_hat.max() <= 1
    assert model.sample(torch.tensor([3, 3])).shape == (2, 1, 28, 28)


def test_decoder_input_is_z_then_the_one_hot():
    z, y = torch.randn(2, 3), torch.tensor([1, 9])
    got = cv.decoder_input(z, y)
    assert got.shape == (2, 13)
    torch.testing.assert_close(got[:, :3], z)
    assert got[0, 3 + 1] == 1 and got[1, 3 + 9] == 1 and got[:, 3:].sum() == 2


def test_both_networks_see_the_label(model):
    x, z = torch.rand(1, 1, 28, 28), torch.randn(1, 4)
    a, b = torch.tensor([0]), torch.tensor([7])
    assert not torch.allclose(model.encode(x, a)[0], model.encode(x, b)[0])
    assert not torch.allclose(model.decode_logits(z, a), model.decode_logits(z, b))


def test_loss_is_the_negative_elbo_with_the_label(model):
    x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    torch.manual_seed(1)
    out = cv.cvae_loss(model, (x, y))
    torch.manual_seed(1)
    mu, logvar = model.encode(x, y)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    ref = losses.negative_elbo(x, model.decode_logits(z, y), mu, logvar)
    torch.testing.assert_close(out["loss"], ref.loss.mean())
    torch.testing.assert_close(out["kl"], ref.kl.mean())


def test_one_sample_iwae_is_the_elbo_and_the_marginal_mixes_classes(model):
    x, y = torch.rand(3, 1, 28, 28), torch.tensor([2, 2, 2])
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    l1 = cv.conditional_iwae(model, x, y, 1, generator=g1)
    mu, logvar = model.encode(x, y)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=g2)
    log_px = evaluate.decoder_log_prob(x, model.decode_logits(z, y), "continuous_bernoulli")
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
    # log w = log p(x|z) + log p(z) - log q(z|x); its mean over z is the ELBO; with one z the
    # difference from log p(x|z) - KL is the Monte Carlo noise of the KL, zero in expectation:
    log_q = -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(1)
    log_p = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(1)
    torch.testing.assert_close(l1, log_px + log_p - log_q)
    assert kl.shape == (3,)
    g = torch.Generator().manual_seed(0)  # the same draws, class by class, as marginal_iwae
    per_class = torch.stack([cv.conditional_iwae(model, x, torch.full((3,), c), 5, generator=g)
                             for c in range(10)], 1)  # fmt: skip
    marginal = cv.marginal_iwae(model, x, 5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(marginal, torch.logsumexp(per_class, 1) - math.log(10))


def test_bad_labels(model):
    with pytest.raises(ValueError, match=r"y must have shape \(2,\)"):
        cv.conditional_iwae(model, torch.rand(2, 1, 28, 28), torch.tensor([1]), 3)
    with pytest.raises(TypeError, match="integer class indices"):
        model.sample(torch.tensor([1.0]))


def test_train_or_load_feeds_labels_to_a_labelled_recipe(monkeypatch, tmp_path):
    from vaelib import train

    monkeypatch.setenv("VAELIB_FAST", "1")
    monkeypatch.setenv("VAELIB_CHECKPOINTS", str(tmp_path))
    recipe = train.Recipe("cvae_mlp", latent_dim=2, epochs=1, fast_epochs=1, batch_size=500)
    monkeypatch.setitem(train.RECIPES, "tiny_cvae", recipe)
    model, history = train.train_or_load("tiny_cvae", progress=False)
    assert isinstance(model, cv.ConditionalVAE) and set(history) == {"loss", "recon", "kl"}
    assert (tmp_path / "fast" / "tiny_cvae.pt").is_file()
