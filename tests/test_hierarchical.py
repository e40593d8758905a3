"""The two-level VAE of lesson 11 (vaelib.hierarchical): its ELBO terms against Monte Carlo."""

from __future__ import annotations

import math

import pytest
import torch

from vaelib import hierarchical as hv
from vaelib import train
from vaelib.densities import log_normal_diag, log_standard_normal
from vaelib.kl import kl_gaussian


@pytest.fixture(scope="module")
def model_and_x():
    torch.manual_seed(0)
    model = hv.TwoLevelVAE(z1_dim=4, z2_dim=3, hidden=32, top_hidden=16)
    x = torch.bernoulli(torch.full((6, 1, 28, 28), 0.3))
    return model, x


def test_terms_add_up_and_kl2_is_the_monte_carlo_kl(model_and_x):
    model, x = model_and_x
    g = torch.Generator().manual_seed(1)
    terms = hv.negative_elbo(model, x, g)
    assert all(t.shape == (6,) for t in terms)
    torch.testing.assert_close(terms.loss, terms.recon + terms.kl1 + terms.kl2)
    # KL(q(z2|z1) || N(0, I)) in closed form against its Monte Carlo estimate, for one z1
    with torch.no_grad():
        z1 = model.encode(x)[0]
        mu2, logvar2 = model.encode_top(z1)
        z2 = mu2 + (0.5 * logvar2).exp() * torch.randn(20000, *mu2.shape, generator=g)
        mc = (log_normal_diag(z2, mu2, logvar2) - log_standard_normal(z2)).mean(0)
        closed = kl_gaussian(mu2, logvar2)
    torch.testing.assert_close(mc, closed, atol=0.03, rtol=0.02)


def test_the_elbo_equals_the_mean_log_weight(model_and_x):
    """E_q[log w] over (z1, z2) ~ q is the ELBO: the mean of many one-sample -ELBOs (recon +
    kl1 + kl2, kl2 in closed form) against the mean of many log-weights (all Monte Carlo)."""
    model, x = model_and_x
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        elbo = torch.stack([hv.negative_elbo(model, x, g).elbo for _ in range(3000)]).mean(0)
    log_w = hv.log_weights(model, x, 3000, generator=g)
    torch.testing.assert_close(elbo, log_w.mean(1), atol=0.5, rtol=0.002)
    iwae = hv.iwae_log_likelihood(model, x, 3000, generator=g)
    assert (iwae >= log_w.mean(1) - 1e-4).all()  # L_k >= L_1 in expectation; here by far
    torch.testing.assert_close(iwae, torch.logsumexp(log_w, 1) - math.log(3000), atol=5, rtol=0.05)


def test_loss_level_means_and_samples(model_and_x):
    model, x = model_and_x
    out = hv.hvae_loss(model, x)
    assert set(out) == {"loss", "recon", "kl1", "kl2", "kl"}
    torch.testing.assert_close(out["kl"], out["kl1"] + out["kl2"])
    mu1, mu2 = hv.level_means(model, x, samples=4)
    assert mu1.shape == (6, 4) and mu2.shape == (6, 3)
    s = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert s.shape == (5, 1, 28, 28) and ((s >= 0) & (s <= 1)).all()


def test_bad_inputs_are_named(model_and_x):
    model, x = model_and_x
    with pytest.raises(TypeError, match="TwoLevelVAE"):
        hv.negative_elbo(torch.nn.Linear(2, 2), x)
    with pytest.raises(ValueError, match="k"):
        hv.log_weights(model, x, 0)
    with pytest.raises(ValueError, match="z2_dim"):
        hv.TwoLevelVAE(z2_dim=0)


def test_recipe_builds_it_on_its_one_level_twins_budget():
    recipe = train.RECIPES["hvae_mlp"]
    twin = train.RECIPES["lesson11_vae"]  # the one-level VAE lesson 11 compares it with
    budget = ("epochs", "fast_epochs", "lr", "batch_size", "binarize", "latent_dim", "dataset")
    assert [getattr(recipe, f) for f in budget] == [getattr(twin, f) for f in budget]
    assert recipe.epochs == twin.epochs == train.DEEP_EPOCHS and twin.kind == "vae_mlp"
    assert twin.plain and recipe.plain  # beta = 1, no warm-up, no free bits, N(0, I) on top
    base = train.RECIPES["lesson08_beta1"]  # lesson 08's recipe, only trained longer
    assert [getattr(twin, f) for f in budget if f != "epochs"] == [
        getattr(base, f) for f in budget if f != "epochs"
    ]
    model, loss_fn = train.build_model(recipe)
    assert isinstance(model, hv.TwoLevelVAE) and loss_fn is hv.hvae_loss
