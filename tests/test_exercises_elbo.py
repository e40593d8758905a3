"""The self-checks of lesson 04: a right answer, typical wrong ones, the shortcut, no answer."""

from __future__ import annotations

import math

import pytest
import torch
from _solutions import load_solutions

from vaelib import linear_gaussian as lg
from vaelib.exercises import elbo as ex

solutions = load_solutions("04_evidence_lower_bound")


def _no_spread(x, mu, logvar, w, b, sigma2):  # log p(x|z) at z = mu only
    recon = -0.5 * math.log(2 * math.pi * sigma2) - (x - w * mu - b) ** 2 / (2 * sigma2)
    return recon - 0.5 * (logvar.exp() + mu**2 - 1 - logvar)


def _kl_added(x, mu, logvar, w, b, sigma2):
    kl = 0.5 * (logvar.exp() + mu**2 - 1 - logvar)
    return solutions.elbo_1d(x, mu, logvar, w, b, sigma2) + 2 * kl


def _shortcut(x, mu, logvar, w, b, sigma2):
    model = lg.LinearGaussian([[w]], [b], sigma2)
    return lg.gaussian_elbo(
        model, x[:, None], mu[:, None], torch.diag_embed(logvar.exp()[:, None])
    ).elbo


def _via_evidence(x, mu, logvar, w, b, sigma2):
    model = lg.LinearGaussian([[w]], [b], sigma2)
    cov = torch.diag_embed(logvar.exp()[:, None])
    return lg.log_evidence(model, x[:, None]) - lg.kl_to_posterior(
        model, x[:, None], mu[:, None], cov
    )


def test_elbo_1d_right(capsys):
    assert ex.check_elbo_1d(solutions.elbo_1d) is True
    assert capsys.readouterr().out.startswith("Right: ")


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (_no_spread, "spread of q"),
        (_kl_added, "is subtracted"),
        (lambda x, mu, logvar, w, b, sigma2: x.sum(), "shape (N,)"),
        (lambda *args: None, "returns None"),
    ],
)
def test_elbo_1d_wrong_answers_get_a_hint(capsys, fn, hint):
    assert ex.check_elbo_1d(fn) is False
    out = capsys.readouterr().out
    assert out.startswith("Not yet: ") and hint in out


@pytest.mark.parametrize("fn", [_shortcut, _via_evidence])
def test_elbo_1d_refuses_the_library_shortcut(capsys, fn):
    assert ex.check_elbo_1d(fn) is False
    assert "write it yourself" in capsys.readouterr().out
    x = torch.zeros(2, 1, dtype=torch.float64)  # and the library works again afterwards
    model = lg.LinearGaussian([[1.0]], [0.0], 1.0)
    assert lg.gaussian_elbo(model, x, torch.zeros(2, 1), torch.eye(1)).elbo.shape == (2,)


def test_elbo_1d_unanswered(capsys):
    assert ex.check_elbo_1d(None) is False
    assert "No answer yet" in capsys.readouterr().out


def test_prior_gap_right(capsys):
    assert ex.check_prior_gap(solutions.prior_gap) is True
    assert capsys.readouterr().out.startswith("Right: ")
    # by hand: posterior N(0.4, 0.2), gap = KL(N(0, 1) || N(0.4, 0.2))
    assert math.isclose(solutions.prior_gap, 0.5 * (1 / 0.2 + 0.16 / 0.2 - 1 + math.log(0.2)))


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (-solutions.prior_gap, "flip the sign"),
        (0.5 * (0.2 + 0.16 - 1 - math.log(0.2)), "the other direction"),
        (-0.5 * math.log(2 * math.pi * 5) - 1 / 10, "log p(x) alone"),
        (1.0, "log p(x) = log N(x; b, w^2 + sigma2)"),
    ],
)
def test_prior_gap_wrong_answers_get_a_hint(capsys, answer, hint):
    assert ex.check_prior_gap(answer) is False
    out = capsys.readouterr().out
    assert out.startswith("Not yet: ") and hint in out


def test_prior_gap_unanswered_and_non_numbers(capsys):
    assert ex.check_prior_gap(None) is False
    assert "No answer yet" in capsys.readouterr().out
    with pytest.raises(TypeError, match="answer must be"):
        ex.check_prior_gap("1.6")
