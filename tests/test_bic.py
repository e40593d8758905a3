"""Tests for vaelib.bic: BIC curves of Gaussian mixtures, parameter counts, sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture

from vaelib import bic


def well_separated(n: int, d: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n points from k unit-variance blobs in d dimensions whose means lie 20 apart."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((k, d))
    means = 20.0 * means / np.linalg.norm(means, axis=1, keepdims=True)
    means[: min(k, d)] = 20.0 * np.eye(d)[: min(k, d)]  # distinct directions: far apart
    labels = rng.integers(0, k, n)
    scales = rng.uniform(0.5, 1.5, (k, d))
    return means[labels] + scales[labels] * rng.standard_normal((n, d)), labels


@pytest.mark.parametrize(("d", "k_true"), [(2, 3), (8, 5)])
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_bic_curve_recovers_true_number_of_components(d, k_true, covariance_type):
    z, _ = well_separated(1500, d, k_true, seed=d)
    curve = bic.bic_curve(z, range(1, 9), covariance_type, n_init=2, seed=0)
    assert curve.best_k == k_true
    assert curve.is_interior()
    assert curve.bic.shape == (8,) and len(curve.models) == 8
    # the curve falls steeply until k_true: each missing component costs many nats
    assert np.all(np.diff(curve.bic[:k_true]) < -100)


@pytest.mark.parametrize("covariance_type", bic.COVARIANCE_TYPES)
@pytest.mark.parametrize(("k", "d"), [(1, 1), (3, 2), (5, 8)])
def test_n_parameters_matches_sklearn(k, d, covariance_type):
    z, _ = well_separated(300, d, k, seed=1)
    gmm = GaussianMixture(k, covariance_type=covariance_type, random_state=0).fit(z)
    assert bic.n_parameters(k, d, covariance_type) == gmm._n_parameters()


def test_n_parameters_closed_forms():
    # full, k=1, d=2: 2 means + 3 covariance entries, no free weight
    assert bic.n_parameters(1, 2, "full") == 5
    # 10 components in 20-D: 9 weights + 200 means + 10 * 210 covariance entries
    assert bic.n_parameters(10, 20, "full") == 9 + 200 + 2100
    assert bic.n_parameters(10, 20, "diag") == 9 + 200 + 200
    assert bic.n_parameters(10, 20, "tied") == 9 + 200 + 210
    assert bic.n_parameters(10, 20, "spherical") == 9 + 200 + 10


@pytest.mark.parametrize("covariance_type", bic.COVARIANCE_TYPES)
def test_bic_matches_sklearn(covariance_type):
    z, _ = well_separated(500, 3, 3, seed=2)
    curve = bic.bic_curve(z, [1, 2, 3, 4], covariance_type, seed=0)
    for k, value, gmm in zip(curve.ks, curve.bic, curve.models, strict=True):
        assert gmm.n_components == k
        assert value == pytest.approx(gmm.bic(z), rel=1e-10)
    # log L is the total over the codes: BIC - p log n = -2 log L
    expected = -2 * curve.log_likelihood + curve.n_parameters * math.log(500)
    np.testing.assert_allclose(curve.bic, expected)


def test_bic_formula_known_value():
    # -2 * (-100) + 5 * log(7)
    assert bic.bic(-100.0, 5, 7) == pytest.approx(200 + 5 * math.log(7))
    assert bic.bic(0.0, 3, 1) == 0.0  # log 1 = 0: one point pays no penalty


def test_bic_curve_accepts_torch_and_is_deterministic():
    z, _ = well_separated(400, 2, 2, seed=3)
    a = bic.bic_curve(torch.from_numpy(z).float(), [1, 2, 3], seed=5)
    b = bic.bic_curve(torch.from_numpy(z).float(), [1, 2, 3], seed=5)
    np.testing.assert_array_equal(a.bic, b.bic)
    assert a.n == 400 and a.d == 2


def test_single_gaussian_bic_closed_form():
    # k = 1, full: the MLE is the sample mean and the (biased) sample covariance
    z = np.random.default_rng(4).standard_normal((1000, 2)) @ np.array([[2.0, 0.0], [1.0, 0.5]])
    curve = bic.bic_curve(z, [1])
    mu, cov = z.mean(0), np.cov(z.T, bias=True)
    diff = z - mu
    log_lik = -0.5 * (
        np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff).sum()
        + 1000 * (np.log(np.linalg.det(cov)) + 2 * math.log(2 * math.pi))
    )
    assert curve.log_likelihood[0] == pytest.approx(log_lik, rel=1e-6)
    assert curve.bic[0] == pytest.approx(-2 * log_lik + 5 * math.log(1000), rel=1e-6)


@pytest.mark.parametrize("covariance_type", bic.COVARIANCE_TYPES)
def test_sample_mixture_matches_the_mixture(covariance_type):
    z, _ = well_separated(2000, 2, 3, seed=5)
    gmm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(z)
    samples = bic.sample_mixture(gmm, 20000, seed=1)
    assert samples.shape == (20000, 2) and samples.dtype == torch.float32
    mixture_mean = gmm.weights_ @ gmm.means_
    np.testing.assert_allclose(samples.mean(0).numpy(), mixture_mean, atol=0.3)
    # samples are as likely under the mixture as the data it was fitted to
    assert gmm.score(samples.double().numpy()) == pytest.approx(gmm.score(z), abs=0.1)
    assert torch.equal(samples, bic.sample_mixture(gmm, 20000, seed=1))
    assert not torch.equal(samples, bic.sample_mixture(gmm, 20000, seed=2))


def test_curve_sample_uses_best_model():
    z, _ = well_separated(600, 2, 2, seed=6)
    curve = bic.bic_curve(z, [1, 2, 3])
    assert curve.best is curve.models[curve.best_index]
    assert torch.equal(curve.sample(10, seed=0), bic.sample_mixture(curve.best, 10, seed=0))


def test_is_interior():
    z, _ = well_separated(600, 2, 4, seed=7)
    assert not bic.bic_curve(z, [1, 2, 3]).is_interior()  # minimum at the largest k tried
    assert bic.bic_curve(z, [1, 2, 3, 4, 5, 6]).is_interior()


# bad input: ValueError naming the argument and the fix


def test_k_larger_than_n_raises():
    z = np.zeros((5, 2)) + np.arange(5)[:, None]
    with pytest.raises(ValueError, match=r"ks asks for k=6 .* only n=5 codes"):
        bic.bic_curve(z, range(1, 7))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_codes_raise(bad):
    z = np.random.default_rng(0).standard_normal((50, 2))
    z[3, 1] = bad
    with pytest.raises(ValueError, match=r"z holds 1 rows with NaN or inf"):
        bic.bic_curve(z, [1, 2])
    with pytest.raises(ValueError, match="NaN or inf"):
        bic.bic_curve(torch.from_numpy(z), [1, 2])


@pytest.mark.parametrize("shape", [(10,), (2, 3, 4), (0, 2)])
def test_bad_shape_raises(shape):
    with pytest.raises(ValueError, match=r"z must have shape \(n, d\)"):
        bic.bic_curve(np.ones(shape), [1])


@pytest.mark.parametrize(
    ("ks", "match"),
    [
        ([], "ks is empty"),
        ([0, 1], "positive numbers"),
        ([3, 1], "increasing"),
        ([1, 1], "repeats"),
    ],
)
def test_bad_ks_raise(ks, match):
    with pytest.raises(ValueError, match=match):
        bic.bic_curve(np.random.default_rng(0).standard_normal((20, 2)), ks)


def test_bad_covariance_type_and_n_init_raise():
    z = np.random.default_rng(0).standard_normal((20, 2))
    with pytest.raises(ValueError, match=r"covariance_type='dense' is unknown"):
        bic.bic_curve(z, [1], covariance_type="dense")
    with pytest.raises(ValueError, match="covariance_type"):
        bic.n_parameters(2, 2, "dense")
    with pytest.raises(ValueError, match="n_init must be at least 1"):
        bic.bic_curve(z, [1], n_init=0)


def test_bad_counts_raise():
    with pytest.raises(ValueError, match="k must be a positive int"):
        bic.n_parameters(0, 2)
    with pytest.raises(ValueError, match="d must be a positive int"):
        bic.n_parameters(2, 0)
    with pytest.raises(ValueError, match="n must be at least 1"):
        bic.bic(0.0, 1, 0)
    gmm = GaussianMixture(2)
    with pytest.raises(ValueError, match="gmm is not fitted"):
        bic.sample_mixture(gmm, 5)
    fitted = GaussianMixture(1).fit(np.random.default_rng(0).standard_normal((20, 2)))
    with pytest.raises(ValueError, match="n must be at least 1"):
        bic.sample_mixture(fitted, 0)


# the lesson's exercises: each check accepts the right answer, rejects two typical slips with a
# hint that names them, and refuses the library shortcut


def test_check_n_parameters_full(capsys):
    from vaelib.exercises import bic as ex

    assert ex.check_n_parameters_full(lambda k, d: (k - 1) + k * d + k * d * (d + 1) / 2)
    assert capsys.readouterr().out.startswith("Right: ")
    assert not ex.check_n_parameters_full(lambda k, d: k + k * d + k * d * (d + 1) // 2)
    assert "only k - 1" in capsys.readouterr().out
    assert not ex.check_n_parameters_full(lambda k, d: k * d + k * d * (d + 1) // 2)
    assert "left out the mixture weights" in capsys.readouterr().out
    assert not ex.check_n_parameters_full(lambda k, d: (k - 1) + k * d + k * d * d)
    assert "symmetric" in capsys.readouterr().out
    assert not ex.check_n_parameters_full(lambda k, d: None)
    assert capsys.readouterr().out.startswith("No answer yet: ")
    assert not ex.check_n_parameters_full(lambda k, d: 7)
    assert capsys.readouterr().out.startswith("Not yet: wrong for k = ")


def test_check_n_parameters_full_refuses_the_library(capsys):
    from vaelib.exercises import bic as ex

    assert not ex.check_n_parameters_full(lambda k, d: bic.n_parameters(k, d, "full"))
    assert "write it yourself" in capsys.readouterr().out
    notebook = {"n_parameters": bic.n_parameters}  # `from vaelib.bic import n_parameters`
    exec("def n_parameters_full(k, d):\n    return n_parameters(k, d)", notebook)
    assert not ex.check_n_parameters_full(notebook["n_parameters_full"])
    assert "write it yourself" in capsys.readouterr().out
    assert bic.n_parameters(2, 2) == 11  # and restored afterwards


def test_check_nats_per_component(capsys):
    from vaelib.exercises import bic as ex

    def solution(d, n):
        return (1 + d + d * (d + 1) / 2) * math.log(n) / 2

    assert ex.check_nats_per_component(solution)
    assert capsys.readouterr().out.startswith("Right: ")
    # NumPy and tensor scalars are numbers too
    assert ex.check_nats_per_component(lambda d, n: np.float64(solution(d, n)))
    assert ex.check_nats_per_component(lambda d, n: torch.tensor(solution(d, n)))
    capsys.readouterr()
    assert not ex.check_nats_per_component(lambda d, n: (d + d * (d + 1) / 2) * math.log(n) / 2)
    assert "weight is a free parameter" in capsys.readouterr().out
    assert not ex.check_nats_per_component(lambda d, n: 2 * solution(d, n))
    assert "halve it" in capsys.readouterr().out
    assert not ex.check_nats_per_component(
        lambda d, n: (1 + d + d * (d + 1) / 2) * math.log10(n) / 2
    )
    assert "natural log" in capsys.readouterr().out
    assert not ex.check_nats_per_component(lambda d, n: None)
    assert capsys.readouterr().out.startswith("No answer yet: ")


def _ancestral(weights, means, covariances, n, generator, *, slip=None):
    j = (
        torch.randint(0, len(weights), (n,), generator=generator)
        if slip == "uniform"
        else torch.multinomial(weights, n, replacement=True, generator=generator)
    )
    factor = covariances if slip == "covariance" else torch.linalg.cholesky(covariances)
    if slip == "global":
        eps = torch.randn(n, means.shape[1], dtype=means.dtype)
    else:
        eps = torch.randn(n, means.shape[1], generator=generator, dtype=means.dtype)
    return means[j] + (factor[j] @ eps.unsqueeze(-1)).squeeze(-1)


def test_check_sample_mixture(capsys):
    from vaelib.exercises import bic as ex

    assert ex.check_sample_mixture(_ancestral)
    assert capsys.readouterr().out.startswith("Right: ")
    assert not ex.check_sample_mixture(lambda *a: _ancestral(*a, slip="uniform"))
    assert "shares" in capsys.readouterr().out
    assert not ex.check_sample_mixture(lambda *a: _ancestral(*a, slip="covariance"))
    assert "Cholesky" in capsys.readouterr().out
    assert not ex.check_sample_mixture(lambda *a: _ancestral(*a, slip="global"))
    assert "same generator seed" in capsys.readouterr().out
    assert not ex.check_sample_mixture(lambda *a: None)
    assert capsys.readouterr().out.startswith("No answer yet: ")
    assert not ex.check_sample_mixture(lambda *a: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not ex.check_sample_mixture(lambda w, m, c, n, g: _ancestral(w, m, c, n, g)[:, :1])
    assert "one code per row" in capsys.readouterr().out


def test_check_sample_mixture_refuses_the_library(capsys):
    from vaelib.exercises import bic as ex

    def shortcut(weights, means, covariances, n, generator):
        gmm = GaussianMixture(len(weights), covariance_type="full")
        gmm.weights_, gmm.means_, gmm.covariances_ = (
            t.numpy() for t in (weights, means, covariances)
        )
        return bic.sample_mixture(gmm, n, seed=0).double()

    assert not ex.check_sample_mixture(shortcut)
    assert "write it yourself" in capsys.readouterr().out


def test_ellipse_is_the_mahalanobis_contour():
    mean, cov = np.array([1.0, -2.0]), np.array([[4.0, 1.5], [1.5, 1.0]])
    points = bic.ellipse(mean, cov, n_std=2.0, n_points=50)
    assert points.shape == (50, 2)
    diff = points - mean
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff), 4.0)
    np.testing.assert_allclose(points[0], points[-1])  # closed curve
    with pytest.raises(ValueError, match="2-D latent space only"):
        bic.ellipse(np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="n_std must be positive"):
        bic.ellipse(mean, cov, n_std=0)


# the aggregate posterior q(z) = (1/N) sum_n q(z|x_n)


def _posterior(n: int, d: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.randn(
        d, d, generator=g, dtype=torch.float64
    )
    logvar = torch.rand(n, d, generator=g, dtype=torch.float64) * 2.0 - 1.5
    return mu, logvar


def test_aggregate_covariance_is_the_sample_covariance_of_z_from_q():
    mu, logvar = _posterior(500, 3, seed=1)
    cov = bic.aggregate_covariance(mu, logvar)
    assert cov.shape == (3, 3) and cov.dtype == torch.float64
    # 400 draws per image: z_ns = mu_n + sigma_n eps_ns, a sample of q(z) of 200,000 codes
    eps = torch.randn(400, *mu.shape, generator=torch.Generator().manual_seed(2), dtype=mu.dtype)
    z = (mu + torch.exp(0.5 * logvar) * eps).reshape(-1, 3)
    sample_cov = torch.cov(z.T)
    assert torch.allclose(sample_cov, cov, rtol=0.02, atol=0.02 * cov.diagonal().max())
    # the means alone miss the posterior variances: Cov[z] - Cov[mu] = mean sigma^2 on the diagonal
    cov_mu = torch.cov(mu.T, correction=0)
    np.testing.assert_allclose(
        (cov - cov_mu).numpy(), torch.diag(logvar.exp().mean(0)).numpy(), atol=1e-12
    )


def test_aggregate_covariance_closed_forms():
    # every posterior N(0, I): the aggregate posterior is N(0, I) too
    zeros = torch.zeros(7, 4, dtype=torch.float64)
    assert torch.allclose(bic.aggregate_covariance(zeros, zeros), torch.eye(4, dtype=torch.float64))
    # two points +-1 with variance 0.25: Cov = 1 (the means) + 0.25 (the posteriors)
    mu = torch.tensor([[-1.0], [1.0]])
    logvar = torch.full((2, 1), math.log(0.25))
    assert bic.aggregate_covariance(mu, logvar).item() == pytest.approx(1.25)


def test_aggregate_covariance_bad_input():
    with pytest.raises(ValueError, match=r"mu and logvar must both have shape \(N, D\)"):
        bic.aggregate_covariance(torch.zeros(5, 2), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="one row per image"):
        bic.aggregate_covariance(torch.zeros(5), torch.zeros(5))
    with pytest.raises(TypeError, match="must be tensors"):
        bic.aggregate_covariance(np.zeros((5, 2)), np.zeros((5, 2)))


def test_flat_region():
    z, _ = well_separated(800, 2, 3, seed=8)
    curve = bic.bic_curve(z, range(1, 7), n_init=2)
    assert curve.flat_region(0.0) == [curve.best_k]
    assert curve.flat_region(np.inf) == curve.ks
    region = curve.flat_region(10.0)
    assert curve.best_k in region
    assert all(curve.bic[curve.ks.index(k)] <= curve.bic.min() + 10 for k in region)
    assert 1 not in region and 2 not in region  # the true k = 3: fewer is very strongly worse
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        curve.flat_region(-1.0)


def test_bic_curve_in_parallel_gives_the_same_curve():
    z, _ = well_separated(600, 3, 3, seed=9)
    serial = bic.bic_curve(z, [1, 2, 3, 4], n_init=2, seed=3)
    parallel = bic.bic_curve(z, [1, 2, 3, 4], n_init=2, seed=3, n_jobs=2)
    np.testing.assert_allclose(parallel.bic, serial.bic, rtol=1e-12)
    assert [m.n_components for m in parallel.models] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="n_jobs must be at least 1"):
        bic.bic_curve(z, [1], n_jobs=0)


def test_n_init_reaches_sklearn():
    # n_init starts from k-means++ seeds drawn with `seed`: the same fit as the library's
    z, _ = well_separated(800, 2, 6, seed=10)
    best = bic.bic_curve(z, [6], n_init=5, seed=0)
    gmm = GaussianMixture(6, n_init=5, init_params="k-means++", random_state=0).fit(z)
    assert best.log_likelihood[0] == pytest.approx(gmm.score(z) * 800, rel=1e-10)
