"""vaelib.iwae: the IWAE bound as a training objective and the gradient SNR (lesson 09).

The bound is checked against evaluate.iwae_log_likelihood (same draws, float64), against the
one-sample ELBO with a Monte Carlo KL at k = 1, and for its gradients; the SNR for its
bookkeeping (weights and gradients left as they were) and for Rainforth et al.'s direction.
"""

from __future__ import annotations

import math

import pytest
import torch

from vaelib import evaluate, iwae, losses, train
from vaelib.models import VAE

F64 = torch.float64


def small_model(d: int = 3) -> VAE:
    torch.manual_seed(0)
    return VAE(latent_dim=d, hidden=(16,), image_shape=(1, 4, 4)).double()


def binary(n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.full((n, 1, 4, 4), 0.4, dtype=F64), generator=g)


def test_log_mean_exp_is_the_formula_and_stable():
    a = torch.tensor([[0.0, math.log(3.0)], [-1000.0, -1000.0], [800.0, 800.0]], dtype=F64)
    got = iwae.log_mean_exp(a, dim=1)
    torch.testing.assert_close(got, torch.tensor([math.log(2.0), -1000.0, 800.0], dtype=F64))
    b = torch.randn(5, 7, dtype=F64)
    torch.testing.assert_close(iwae.log_mean_exp(b), b.exp().mean(-1).log())


@pytest.mark.parametrize("k", [1, 10])
def test_iwae_bound_equals_evaluate_with_the_same_draws(k):
    model, x = small_model(), binary(8)
    ours = iwae.iwae_bound(model, x, k, torch.Generator().manual_seed(5))
    ref = evaluate.iwae_log_likelihood(model, x, k, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(ours.detach(), ref, rtol=1e-10, atol=1e-10)


def test_l1_is_the_one_sample_elbo_with_a_monte_carlo_kl():
    model, x = small_model(), binary(6)
    l1 = iwae.iwae_bound(model, x, 1, torch.Generator().manual_seed(7))
    mu, logvar = model.encode(x)
    eps = torch.randn((6, 1, 3), generator=torch.Generator().manual_seed(7), dtype=F64)
    z = (mu[:, None] + torch.exp(0.5 * logvar[:, None]) * eps)[:, 0]
    log_prior = lambda z: -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(1)  # noqa: E731
    terms = losses.negative_elbo(x, model.decode_logits(z), mu, logvar, z=z, log_prior=log_prior)
    torch.testing.assert_close(l1, -terms.loss)


def test_expected_lk_rises_with_k_and_stays_below_the_exact_mean():
    model = small_model()
    x = binary(1).repeat(4000, 1, 1, 1)
    g = torch.Generator().manual_seed(8)
    with torch.no_grad():
        means = [float(iwae.iwae_bound(model, x, k, g).mean()) for k in (1, 5, 50)]
    assert means[0] < means[1] < means[2]


def test_the_bound_trains_encoder_and_decoder():
    model, x = small_model(), binary(4)
    iwae.iwae_bound(model, x, 5).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), name


def test_iwae_loss_is_minus_the_mean_bound_and_takes_a_students_bound():
    model, x = small_model(), binary(4)
    loss = iwae.IWAELoss(3)
    torch.manual_seed(0)
    got = loss(model, x)["loss"]
    torch.manual_seed(0)
    torch.testing.assert_close(got, -iwae.iwae_bound(model, x, 3).mean())
    seen = []
    custom = iwae.IWAELoss(2, bound=lambda m, xx, k: seen.append(k) or torch.zeros(len(xx)))
    assert float(custom(model, x)["loss"]) == 0.0 and seen == [2]
    assert loss.recipe() == {"objective": "iwae", "k": 3}


def test_iwae_loss_trains_with_the_course_loop():
    model = small_model().float()
    x = binary(16).float()
    history = train.train(model, [x] * 3, iwae.IWAELoss(4), epochs=8, lr=1e-2, progress=False)
    assert history["loss"][-1] < history["loss"][0]


def test_gradient_snr_leaves_the_model_as_it_was_and_follows_rainforth():
    model, x = small_model(), binary(16)
    model.eval()
    model.decoder[0].weight.grad = torch.ones_like(model.decoder[0].weight)
    before = [p.detach().clone() for p in model.parameters()]
    snr = iwae.gradient_snr(
        model, x, [1, 100], repeats=30, generator=torch.Generator().manual_seed(3)
    )
    assert set(snr) == {1, 100} and set(snr[1]) == {"encoder", "decoder"}
    assert not model.training
    assert torch.equal(model.decoder[0].weight.grad, torch.ones_like(model.decoder[0].weight))
    assert model.mu_head.weight.grad is None
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert snr[100]["decoder"] > snr[1]["decoder"]  # more samples: a cleaner decoder gradient
    assert snr[100]["encoder"] < snr[1]["encoder"]  # and a noisier encoder one (Rainforth 2018)


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda m, x: iwae.iwae_bound(m, x, 0), ValueError, "k must be a positive int"),
        (lambda m, x: iwae.iwae_bound(m, x, 2.0), TypeError, "k must be a positive int"),
        (lambda m, x: iwae.iwae_bound(m, x[0], 2), ValueError, "x must have shape (N, C, H, W)"),
        (lambda m, x: iwae.IWAELoss(0), ValueError, "k must be a positive int"),
        (lambda m, x: iwae.IWAELoss(2, bound="iwae"), TypeError, "bound must be a callable"),
        (lambda m, x: iwae.gradient_snr(m, x, [1], repeats=1), ValueError, "repeats"),
        (lambda m, x: iwae.gradient_snr(m, x, [1.5]), TypeError, "ks must hold ints"),
        (lambda m, x: iwae.log_mean_exp(torch.ones(3, dtype=torch.long)), TypeError, "log_w"),
    ],
)
def test_bad_inputs_are_refused_with_the_fix(call, error, fragment):
    with pytest.raises(error, match=None) as info:
        call(small_model(), binary(2))
    assert fragment in str(info.value), str(info.value)


def test_gradient_snr_needs_a_decoder_named_decoder():
    class Renamed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = torch.nn.Linear(2, 2)

    with pytest.raises(ValueError, match="decoder"):
        iwae.gradient_snr(Renamed(), binary(2), [1])
