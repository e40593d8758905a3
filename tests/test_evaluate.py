"""vaelib.evaluate: the IWAE estimate against a brute-force sum, its ordering in k, errors."""

from __future__ import annotations

import math

import pytest
import torch

from vaelib import losses
from vaelib.evaluate import (
    binarize,
    continuous_bernoulli_log_norm,
    decoder_log_prob,
    iwae_log_likelihood,
    log_weights,
    mean_and_stderr,
    model_negative_elbo,
)
from vaelib.models import VAE


def _model_and_data(n: int = 16) -> tuple[VAE, torch.Tensor]:
    torch.manual_seed(0)
    model = VAE(latent_dim=3, hidden=(32,), image_shape=(1, 6, 6))
    x = binarize(torch.rand(n, 1, 6, 6), torch.Generator().manual_seed(1))
    return model, x


def test_log_weights_match_torch_distributions():
    model, x = _model_and_data(2)
    g = torch.Generator().manual_seed(5)
    log_w = log_weights(model, x, 4, generator=g)
    g = torch.Generator().manual_seed(5)
    mu, logvar = model.encode(x)
    eps = torch.randn(2, 4, 3, generator=g)
    z = mu[:, None] + torch.exp(0.5 * logvar)[:, None] * eps
    q = torch.distributions.Normal(mu[:, None], torch.exp(0.5 * logvar)[:, None])
    p_z = torch.distributions.Normal(0.0, 1.0)
    logits = model.decode_logits(z.reshape(8, 3)).view(2, 4, 1, 6, 6)
    p_x = torch.distributions.Bernoulli(logits=logits).log_prob(x[:, None]).flatten(2).sum(-1)
    expected = p_x + p_z.log_prob(z).sum(-1) - q.log_prob(z).sum(-1)
    torch.testing.assert_close(log_w, expected.detach(), rtol=1e-5, atol=1e-4)


def test_iwae_is_log_mean_exp_and_chunking_does_not_change_it():
    model, x = _model_and_data(5)
    log_w = log_weights(model, x, 7, generator=torch.Generator().manual_seed(0))
    expected = torch.log(torch.exp(log_w.double()).mean(1)).float()
    torch.testing.assert_close(
        iwae_log_likelihood(model, x, 7, generator=torch.Generator().manual_seed(0)), expected
    )
    # Memory bound: the same draws in any chunking (examples split, samples split) agree.
    for max_rows in (1, 3, 35):
        small = log_weights(model, x, 7, generator=torch.Generator().manual_seed(0), max_rows=7)
        torch.testing.assert_close(small.shape, log_w.shape)
        assert iwae_log_likelihood(model, x, 7, max_rows=max_rows).shape == (5,)


def test_k1_is_the_elbo_in_expectation_and_estimates_rise_with_k():
    model, x = _model_and_data(64)
    with torch.no_grad():  # a narrow q(z|x), far from the posterior: a wide IWAE gap
        model.logvar_head.bias.fill_(-4.0)
        model.mu_head.bias.fill_(1.0)
    g = torch.Generator().manual_seed(0)
    elbo = -model_negative_elbo(model, x.repeat(20, 1, 1, 1), generator=g).mean()
    l1 = iwae_log_likelihood(model, x.repeat(20, 1, 1, 1), 1, generator=g).mean()
    assert l1.item() == pytest.approx(elbo.item(), abs=0.05 * abs(elbo.item()))
    means = [
        iwae_log_likelihood(model, x, k, generator=torch.Generator().manual_seed(k)).mean()
        for k in (1, 10, 100, 1000)
    ]
    assert means[0] < means[1] < means[2] < means[3]


def test_iwae_is_exact_when_q_is_the_posterior():
    # A decoder that ignores z: p(x|z) = p(x), the posterior is the prior, and when the
    # encoder outputs the prior every weight equals p(x): L_k = log p(x) for any k.
    model, x = _model_and_data(3)
    with torch.no_grad():
        for head in (model.mu_head, model.logvar_head):
            head.weight.zero_()
            head.bias.zero_()
        model.decoder[0].weight.zero_()
    logits = model.decode_logits(torch.zeros(1, 3))
    exact = decoder_log_prob(x, logits.expand_as(x), "bernoulli")
    for k in (1, 50):
        torch.testing.assert_close(iwae_log_likelihood(model, x, k), exact.detach())


def test_continuous_bernoulli_adds_its_normaliser():
    x = torch.rand(3, 1, 4, 4)
    logits = torch.randn(3, 1, 4, 4)
    lam = torch.sigmoid(logits).double()
    log_c = torch.log(2 * torch.atanh(1 - 2 * lam) / (1 - 2 * lam)).float().flatten(1).sum(1)
    bern = (
        -torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none")
        .flatten(1)
        .sum(1)
    )
    torch.testing.assert_close(
        decoder_log_prob(x, logits, "continuous_bernoulli"), bern + log_c, rtol=1e-4, atol=1e-3
    )
    assert torch.all(log_c > 0)  # C(lambda) >= 2: the Bernoulli formula understates log p


def test_continuous_bernoulli_log_norm_matches_torch_distributions():
    # torch computes C from clamped probabilities: exact enough for |logits| up to about 15
    logits = torch.cat(
        [torch.linspace(-15, 15, 301), torch.tensor([0.0, 1e-6, -3e-3, 9e-3, 1.1e-2])]
    ).double()
    x = torch.rand(logits.shape, generator=torch.Generator().manual_seed(0)).double()
    cb = torch.distributions.ContinuousBernoulli(logits=logits)
    bernoulli = x * torch.log(cb.probs) + (1 - x) * torch.log1p(-cb.probs)
    torch.testing.assert_close(
        continuous_bernoulli_log_norm(logits), cb.log_prob(x) - bernoulli, rtol=1e-6, atol=1e-6
    )
    far = torch.tensor([-60.0, 40.0, 80.0], dtype=torch.float64)  # C -> |logits| as tanh -> 1
    torch.testing.assert_close(continuous_bernoulli_log_norm(far), far.abs().log())
    near_half = torch.tensor([0.0, 5e-3, 2e-2])  # both branches, float32, around C = 2
    torch.testing.assert_close(
        continuous_bernoulli_log_norm(near_half),
        torch.log(2 + near_half.double().pow(2) / 6).float(),
    )


def test_decoder_log_prob_broadcasts_x_over_samples():
    g = torch.Generator().manual_seed(2)
    x, logits = torch.rand(3, 1, 4, 4, generator=g), torch.randn(3, 5, 1, 4, 4, generator=g)
    for likelihood in ("bernoulli", "continuous_bernoulli"):
        both = decoder_log_prob(x[:, None], logits, likelihood)
        assert both.shape == (3, 5)
        one = decoder_log_prob(x, logits[:, 2], likelihood)
        torch.testing.assert_close(both[:, 2], one)


def test_model_negative_elbo_is_the_loss_of_vaelib_losses():
    model, x = _model_and_data(4)
    got = model_negative_elbo(model, x, generator=torch.Generator().manual_seed(3))
    mu, logvar = model.encode(x)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(3))
    logits = model.decode_logits(mu + torch.exp(0.5 * logvar) * eps)
    torch.testing.assert_close(got, losses.negative_elbo(x, logits, mu, logvar).loss.detach())
    cb = model_negative_elbo(
        model, x, likelihood="continuous_bernoulli", generator=torch.Generator().manual_seed(3)
    )
    log_c = continuous_bernoulli_log_norm(logits).flatten(1).sum(1)
    torch.testing.assert_close(cb, (got - log_c).detach())  # the normaliser, nothing else


def test_mean_and_stderr():
    values = torch.tensor([1.0, 2.0, 3.0, 6.0])
    mean, se = mean_and_stderr(values)
    assert mean == pytest.approx(3.0)
    assert se == pytest.approx(math.sqrt(14 / 3) / 2)  # sample variance 14/3, sqrt(N) = 2
    with pytest.raises(ValueError, match="N >= 2"):
        mean_and_stderr(torch.tensor([1.0]))


def test_error_paths():
    model, x = _model_and_data(2)
    with pytest.raises(ValueError, match="k must"):
        iwae_log_likelihood(model, x, 0)
    with pytest.raises(ValueError, match="binar"):
        iwae_log_likelihood(model, torch.rand(2, 1, 6, 6), 3)
    with pytest.raises(ValueError, match="likelihood"):
        iwae_log_likelihood(model, x, 3, likelihood="gaussian")
    with pytest.raises(ValueError, match="shape"):
        iwae_log_likelihood(model, x.flatten(1), 3)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        iwae_log_likelihood(model, x * 255, 3, likelihood="continuous_bernoulli")
    with pytest.raises(ValueError, match="max_rows"):
        iwae_log_likelihood(model, x, 3, max_rows=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        binarize(torch.full((1, 1, 2, 2), 2.0))
    with pytest.raises(ValueError, match="likelihood"):
        model_negative_elbo(model, x, likelihood="poisson")
    with pytest.raises(ValueError, match="likelihood"):
        decoder_log_prob(x, x, "poisson")


def test_binarize_is_reproducible_and_binary():
    x = torch.rand(4, 1, 5, 5)
    a = binarize(x, torch.Generator().manual_seed(3))
    b = binarize(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert math.isclose(binarize(torch.ones(1, 1, 2, 2)).sum().item(), 4.0)


def test_log_weights_take_any_prior_as_a_log_prob_callable():
    model, x = _model_and_data(2)
    p_z = torch.distributions.Normal(torch.tensor([1.0, -1.0, 0.0]), torch.tensor([2.0, 0.5, 1.0]))

    def log_prior(z):  # (M, 3) -> (M,)
        return p_z.log_prob(z).sum(-1)

    log_w = log_weights(
        model, x, 4, generator=torch.Generator().manual_seed(5), log_prior=log_prior
    )
    default = log_weights(model, x, 4, generator=torch.Generator().manual_seed(5))
    mu, logvar = model.encode(x)
    eps = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(5))
    z = mu[:, None] + torch.exp(0.5 * logvar)[:, None] * eps
    standard = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    # the same draws: only the log-prior term changes
    torch.testing.assert_close(log_w - default, (p_z.log_prob(z).sum(-1) - standard).detach())
    g = torch.Generator().manual_seed(5)
    iwae = iwae_log_likelihood(model, x, 4, generator=g, log_prior=log_prior)
    torch.testing.assert_close(iwae, torch.logsumexp(log_w, 1) - math.log(4))
    with pytest.raises(TypeError, match="log_prior must be a callable"):
        log_weights(model, x, 4, log_prior="normal")
