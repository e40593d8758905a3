"""vaelib.sample_quality: the Fréchet distance against closed forms and scipy's sqrtm, and
precision/recall (Kynkäänniemi et al. 2019) on hand-built sets."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from vaelib import sample_quality as sq


def random_spd(d: int, seed: int) -> torch.Tensor:
    a = torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


def test_equal_gaussians_are_at_distance_zero():
    cov = random_spd(5, 0)
    mu = torch.arange(5, dtype=torch.float64)
    assert sq.frechet_distance_gaussians(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-9)


def test_diagonal_gaussians_match_the_closed_form():
    """Commuting (diagonal) covariances: FD = ||mu1 - mu2||^2 + sum (s1 - s2)^2."""
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, -1.0, 2.5])
    s1, s2 = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([3.0, 0.5, 0.5])
    expected = float((mu1 - mu2).pow(2).sum() + (s1 - s2).pow(2).sum())
    got = sq.frechet_distance_gaussians(mu1, torch.diag(s1**2), mu2, torch.diag(s2**2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_full_covariances_match_scipy_sqrtm():
    cov1, cov2 = random_spd(6, 1), random_spd(6, 2)
    mu1, mu2 = torch.zeros(6, dtype=torch.float64), torch.ones(6, dtype=torch.float64)
    root = scipy.linalg.sqrtm(cov1.numpy() @ cov2.numpy()).real
    expected = 6.0 + np.trace(cov1.numpy()) + np.trace(cov2.numpy()) - 2 * np.trace(root)
    assert sq.frechet_distance_gaussians(mu1, cov1, mu2, cov2) == pytest.approx(expected, rel=1e-8)


def test_feature_sets_use_their_sample_moments():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(400, 3, generator=g, dtype=torch.float64)
    b = 2 * torch.randn(300, 3, generator=g, dtype=torch.float64) + 1
    mu_a, cov_a = a.mean(0), torch.cov(a.T)
    mu_b, cov_b = b.mean(0), torch.cov(b.T)
    expected = sq.frechet_distance_gaussians(mu_a, cov_a, mu_b, cov_b)
    assert sq.frechet_distance(a, b) == pytest.approx(expected, rel=1e-10)
    assert sq.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    # Large samples of N(0, I) and N(1, 4I) in 3-D: FD -> 3 * 1 + 3 * (2 - 1)^2 = 6.
    big_a = torch.randn(20000, 3, generator=g, dtype=torch.float64)
    big_b = 2 * torch.randn(20000, 3, generator=g, dtype=torch.float64) + 1
    assert sq.frechet_distance(big_a, big_b) == pytest.approx(6.0, rel=0.05)


def test_precision_and_recall_on_hand_built_sets():
    """Reals on a line at 0, 1, ..., 9; k = 2: each inner real's 2nd neighbour is 1 away, the
    two ends' 2 away. Fakes: four on the reals' span, four far away -> precision 4/8."""
    real = torch.arange(10.0)[:, None]
    fake = torch.tensor([[0.5], [1.5], [2.5], [3.5], [100.0], [101.0], [102.0], [103.0]])
    expected = torch.tensor([2.0] + [1.0] * 8 + [2.0], dtype=torch.float64)
    torch.testing.assert_close(sq.knn_radii(real, k=2), expected)
    pr = sq.precision_recall(real, fake, k=2)
    assert pr.precision == pytest.approx(0.5)
    # The fakes' radii: 0.5 -> 2, 1.5 -> 1, 2.5 -> 1, 3.5 -> 2 (and the far ones): their balls
    # cover the reals 0..5 (3.5 +- 2 reaches 5), 6 of 10.
    assert pr.recall == pytest.approx(0.6)


def test_identical_sets_score_one_and_disjoint_sets_zero():
    g = torch.Generator().manual_seed(4)
    a = torch.randn(200, 4, generator=g)
    assert sq.precision_recall(a, a.clone()) == (1.0, 1.0)
    far = sq.precision_recall(a, a + 100)
    assert far.precision == 0.0 and far.recall == 0.0


def test_a_collapsed_model_has_precision_but_no_recall():
    """Fakes that all copy one real sample: realistic (precision 1), no coverage (low recall)."""
    g = torch.Generator().manual_seed(5)
    real = torch.randn(300, 2, generator=g)
    fake = real[:1].repeat(300, 1) + 1e-3 * torch.randn(300, 2, generator=g)
    pr = sq.precision_recall(real, fake)
    assert pr.precision == 1.0 and pr.recall < 0.05


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: sq.frechet_distance(torch.randn(10, 3), torch.randn(10, 4)),
            "same feature network",
        ),
        (
            lambda: sq.frechet_distance(torch.randn(10), torch.randn(10, 1)),
            r"real must have shape \(N, D\)",
        ),
        (lambda: sq.frechet_distance(torch.randn(0, 3), torch.randn(10, 3)), "non-empty"),
        (
            lambda: sq.frechet_distance(torch.randn(10, 3), torch.randint(0, 5, (10, 3))),
            "fake must be a floating",
        ),
        (
            lambda: sq.frechet_distance(torch.randn(3, 5), torch.randn(3, 5)),
            "covariance is singular",
        ),
        (
            lambda: sq.frechet_distance(
                torch.randn(50, 3) * torch.tensor([1.0, 1.0, 0.0]), torch.randn(50, 3)
            ),
            "real's covariance is singular.*1 features are constant",
        ),
        (
            lambda: sq.frechet_distance(torch.randn(50, 3), torch.full((50, 3), float("nan"))),
            "fake contains nan",
        ),
        (
            lambda: sq.frechet_distance_gaussians(
                torch.zeros(2), torch.eye(3), torch.zeros(2), torch.eye(2)
            ),
            r"cov1 must have shape \(2, 2\)",
        ),
        (
            lambda: sq.frechet_distance_gaussians(
                torch.zeros(2), torch.eye(2), torch.zeros(2), -torch.eye(2)
            ),
            "cov2 is not positive semi-definite",
        ),
        (
            lambda: sq.precision_recall(torch.randn(3, 2), torch.randn(10, 2)),
            "k=3 needs more than k rows in real",
        ),
        (
            lambda: sq.precision_recall(torch.randn(10, 2), torch.randn(10, 2), k=2.0),
            "k must be a positive int",
        ),
        (
            lambda: sq.precision_recall([[0.0]], torch.randn(10, 2)),
            "real must be a floating-point tensor",
        ),
    ],
    ids=[
        "width",
        "1-D",
        "empty",
        "int",
        "N<=D",
        "constant",
        "nan",
        "cov shape",
        "not PSD",
        "k>=N",
        "float k",
        "list",
    ],
)
def test_bad_inputs_get_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
