"""Lesson 05, exercise 5 (vaelib.exercises.reparam.check_score_with_baseline): the score-function
estimator with a leave-one-out baseline. Right answers, typical wrong ones with their hints, the
refused shortcut, and the claim behind it: unbiased, with less variance than without."""

from __future__ import annotations

import pytest
import torch
from _solutions import load_solutions, verdict

from vaelib import reparam
from vaelib.exercises import reparam as ex


@pytest.fixture(scope="module")
def solution():
    return load_solutions("05_reparameterization_trick").score_with_baseline


def test_right(capsys, solution):
    verdict(capsys, ex.check_score_with_baseline(solution), "Right:", "unbiased")

    def vectorised(f_z, z, mu, sigma):  # the same estimate, another way to write it
        n = len(z)
        w = (n * f_z - f_z.sum()) / (n - 1)
        s = torch.stack([(z - mu) / sigma**2, ((z - mu) ** 2 - sigma**2) / sigma**3])
        return (s * w).mean(1)

    verdict(capsys, ex.check_score_with_baseline(vectorised), "Right:")


def estimate(baseline, sigma_score=None, mu_power=2, order=(0, 1)):
    def fn(f_z, z, mu, sigma):
        n = len(z)
        b = {"loo": (f_z.sum() - f_z) / (n - 1), "all": f_z.mean(), "none": 0.0}[baseline]
        s_mu = (z - mu) / sigma**mu_power
        s_sigma = (
            sigma_score(z, mu, sigma) if sigma_score else ((z - mu) ** 2 / sigma**2 - 1) / sigma
        )
        g = torch.stack([((f_z - b) * s_mu).mean(), ((f_z - b) * s_sigma).mean()])
        return g[list(order)]

    return fn


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (estimate("none"), "plain score-function"),
        (estimate("all"), "leave sample i out"),
        (estimate("loo", order=(1, 0)), "(d/dmu, d/dsigma)"),
        (
            estimate("loo", sigma_score=lambda z, m, s: ((z - m) ** 2 / s**2 - 1) / s**2),
            "score for sigma",
        ),
        (estimate("loo", mu_power=1), "sigma squared"),
        (lambda f_z, z, mu, sigma: torch.zeros(3), "two numbers"),
    ],
)
def test_wrong_answers_get_pointed_hints(fn, hint, capsys):
    verdict(capsys, ex.check_score_with_baseline(fn), "Not yet:", hint)


def test_refuses_the_library_and_says_no_answer_yet(capsys):
    def shortcut(f_z, z, mu, sigma):
        return reparam.score_function_gradient(
            lambda x: x, torch.tensor(mu), torch.tensor(sigma), 10
        )

    verdict(capsys, ex.check_score_with_baseline(shortcut), "Not yet:", "write it yourself")
    assert not ex.check_score_with_baseline(None)
    assert "No answer yet" in capsys.readouterr().out


def test_the_baseline_keeps_the_mean_and_cuts_the_variance(solution):
    """f(z) = z^2 at mu = 2, sigma = 0.5: d/dmu E[z^2] = 2 mu = 4 with or without the baseline,
    and the leave-one-out baseline cuts the variance of the estimate (about 4 times, n = 20)."""
    g = torch.Generator().manual_seed(0)
    with_b, without = [], []
    for _ in range(400):
        z = 2.0 + 0.5 * torch.randn(20, generator=g, dtype=torch.float64)
        with_b.append(solution(z**2, z, 2.0, 0.5)[0])
        without.append(((z**2) * (z - 2.0) / 0.25).mean())
    with_b, without = torch.stack(with_b), torch.stack(without)
    for est in (with_b, without):
        assert abs(float(est.mean()) - 4.0) < 4 * float(est.std()) / 20
    assert float(with_b.var()) < float(without.var()) / 3  # measured: about 4 times less
