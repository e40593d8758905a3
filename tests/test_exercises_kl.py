"""The self-checks of lessons 02 and 03 (vaelib/exercises/kl.py): for each, a right answer, two
typical wrong ones with the hint they get, the library shortcut where the student writes a
function, and the untouched placeholder."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _solutions import said

from vaelib import kl
from vaelib.exercises import kl as ex

kl_discrete = kl.kl_discrete  # a name imported into the "notebook", as `from vaelib.kl import ...`


# ----------------------------------------------------------------------------- lesson 02
def die_kl() -> float:
    return sum((1 / 6) * math.log((1 / 6) / q) for q in ex.SKEWED_DIE)


@pytest.mark.parametrize("box", [float, np.float64, np.float32, torch.tensor])
def test_die_kl_accepts_a_right_number_in_any_scalar_type(box, capsys):
    value = die_kl()
    if box is np.float32:
        value = float(np.float32(value))  # float32 keeps ~7 digits: still within rel 1e-6
        assert abs(value / die_kl() - 1) < 1e-6
    assert ex.check_die_kl(box(value))
    assert said(capsys).startswith("Right: ")


def test_die_kl_is_not_the_number_the_lesson_prints():
    lesson_die = kl.kl_discrete(torch.full((6,), 1 / 6), torch.tensor([0.1] * 5 + [0.5]))
    assert not math.isclose(die_kl(), lesson_die.item(), rel_tol=1e-2)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda: sum(q * math.log(q * 6) for q in ex.SKEWED_DIE), "D_KL(Q || P)"),
        (lambda: die_kl() / math.log(2), "bits"),
        (lambda: die_kl() / math.log(10), "base 10"),
        (lambda: 6 * die_kl(), "without the weights"),
        (lambda: -die_kl(), "never negative"),
    ],
)
def test_die_kl_wrong_answers_get_a_hint_at_the_mistake(wrong, hint, capsys):
    assert not ex.check_die_kl(wrong())
    out = said(capsys)
    assert out.startswith("Not yet: ") and hint in out


def kl_bits_right(p, q):
    return (kl.cross_entropy(p, q) - kl.entropy(p)) / math.log(2)


def test_kl_bits_right_answer(capsys):
    assert ex.check_kl_bits(kl_bits_right)
    assert said(capsys).startswith("Right: ")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda p, q: kl.cross_entropy(p, q) - kl.entropy(p), "in nats"),
        (lambda p, q: (kl.entropy(p) - kl.cross_entropy(p, q)) / math.log(2), "sign"),
        (lambda p, q: (kl.cross_entropy(p, q) - kl.entropy(p)) * math.log(2), "multiplied"),
        (lambda p, q: kl_bits_right(p, q).sum(), "last dimension"),
        (lambda p, q: kl_bits_right(p, q)[..., None], "return shape"),
        (lambda p, q: 1 / 0, "ZeroDivisionError"),
        (lambda p, q: None, "returns None"),
        # right on one distribution (the lesson's shape), wrong on a batch
        (lambda p, q: (p * (p / q).log2()).sum() + 0 * p.sum(-1), "wrong for p, q of shape"),
    ],
)
def test_kl_bits_wrong_answers_get_a_hint(wrong, hint, capsys):
    assert not ex.check_kl_bits(wrong)
    out = said(capsys)
    assert out.startswith("Not yet: ") and hint in out, out


def test_kl_bits_refuses_the_library_shortcut(capsys):
    for shortcut in (
        lambda p, q: kl.kl_discrete(p, q) / math.log(2),
        lambda p, q: kl_discrete(p, q) / math.log(2),
        lambda p, q: kl.nats_to_bits(kl.cross_entropy(p, q) - kl.entropy(p)),
    ):
        assert not ex.check_kl_bits(shortcut)
        assert said(capsys).startswith("Not yet: write it yourself")
    assert kl.kl_discrete is kl_discrete  # restored after the check


def test_forward_fit_target_is_the_minimiser_of_forward_kl():
    # the continuous mixture's moments, and a fine grid search of D_KL(P || Q) agrees
    x = torch.linspace(-12, 12, 2401, dtype=torch.float64)
    p = kl.gaussian_mixture_on_grid(x, ex.TARGET_WEIGHTS, ex.TARGET_MUS, ex.TARGET_SIGMAS)
    mean, std = ex.forward_fit_target()
    assert math.isclose((x * p).sum().item(), mean, rel_tol=1e-6, abs_tol=1e-9)
    assert math.isclose(((x - mean) ** 2 * p).sum().sqrt().item(), std, rel_tol=1e-6)
    fit = kl.fit_gaussian_on_grid(x, p, "forward")
    assert abs(fit.mu - mean) < 0.02 and abs(fit.sigma / std - 1) < 0.02


@pytest.mark.parametrize("box", [tuple, list, np.array, torch.tensor])
def test_forward_fit_right_answer_in_any_container(box, capsys):
    assert ex.check_forward_fit(box(ex.forward_fit_target()))
    assert said(capsys).startswith("Right: ")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda m, s: (m, s**2), "variance"),
        (lambda m, s: (m, math.sqrt(0.2 * 0.25 + 0.8 * 1.0)), "within the modes"),
        (lambda m, s: (-1.0, s), "weight each mode"),
        (lambda m, s: (1.0, 1.0), "reverse KL"),
        (lambda m, s: (m, 1.5), "E_P[x^2]"),
    ],
)
def test_forward_fit_wrong_answers_get_a_hint(wrong, hint, capsys):
    assert not ex.check_forward_fit(wrong(*ex.forward_fit_target()))
    out = said(capsys)
    assert out.startswith("Not yet: ") and hint in out, out


def test_forward_fit_rejects_a_non_pair():
    with pytest.raises(TypeError, match=r"answer \(mu, sigma\) must be 2 numbers"):
        ex.check_forward_fit(1.0)


# ----------------------------------------------------------------------------- lesson 03
def gaussian_kl() -> float:
    return 0.5 * (4 + 1 - 1 - math.log(4))


@pytest.mark.parametrize("box", [float, np.float64, torch.tensor])
def test_gaussian_kl_right(box, capsys):
    assert ex.check_gaussian_kl(box(gaussian_kl()))
    assert said(capsys).startswith("Right: ")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (0.5 * (2 + 1 - 1 - math.log(2)), "variance"),
        (math.log(2) + (1 + 1) / 8 - 0.5, "other direction"),
        (2 * gaussian_kl(), "factor 1/2"),
        (1.0, "plug mu = 1"),
    ],
)
def test_gaussian_kl_wrong(wrong, hint, capsys):
    assert not ex.check_gaussian_kl(wrong)
    out = said(capsys)
    assert out.startswith("Not yet: ") and hint in out, out


def kl_diagonal_right(mu, logvar, mu_p, logvar_p):
    per_dim = logvar_p - logvar + (logvar.exp() + (mu - mu_p).pow(2)) / logvar_p.exp() - 1
    return 0.5 * per_dim.sum(dim=-1)


def test_kl_diagonal_right(capsys):
    assert ex.check_kl_diagonal(kl_diagonal_right)
    assert said(capsys).startswith("Right: ")


def test_kl_diagonal_matches_torch_distributions():
    from torch import distributions as D

    for mu, logvar, mu_p, logvar_p in ex._kl_diagonal_inputs():
        q = D.Independent(D.Normal(mu, (0.5 * logvar).exp()), 1)
        p = D.Independent(D.Normal(mu_p.expand_as(mu), (0.5 * logvar_p).exp().expand_as(mu)), 1)
        torch.testing.assert_close(
            ex._kl_diagonal(mu, logvar, mu_p, logvar_p).sum(-1), D.kl_divergence(q, p)
        )


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda *a: kl_diagonal_right(*a).sum(), "last dimension"),
        (lambda *a: -kl_diagonal_right(*a), "sign"),
        (lambda mu, lv, mp, lp: kl_diagonal_right(mp, lp, mu, lv), "D_KL(p || q)"),
        (lambda mu, lv, mp, lp: -0.5 * (1 + lv - mu**2 - lv.exp()).sum(-1), "N(0, I)"),
        (
            lambda mu, lv, mp, lp: 0.5 * (lp - lv + lv.exp() + (mu - mp) ** 2 - 1).sum(-1),
            "prior's variance",
        ),
        (
            lambda mu, lv, mp, lp: kl_diagonal_right(mu, lv, mp, lp) + 0.5 * (lp - lv).sum(-1),
            "mind the 1/2",
        ),
        (lambda mu, lv, mp, lp: kl_diagonal_right(mu, lv, mp, lp)[:, None], "return shape"),
        (lambda *a: None, "returns None"),
    ],
)
def test_kl_diagonal_wrong(wrong, hint, capsys):
    assert not ex.check_kl_diagonal(wrong)
    out = said(capsys)
    assert out.startswith("Not yet: ") and hint in out, out


def test_kl_diagonal_refuses_the_library_and_tests_unseen_inputs(capsys):
    assert not ex.check_kl_diagonal(lambda mu, lv, mp, lp: kl.kl_gaussian(mu, lv, mp, lp))
    assert said(capsys).startswith("Not yet: write it yourself")
    # per dimension right, but the mean over dimensions for the N(0, I) prior only
    fixed = kl_diagonal_right(*ex._kl_diagonal_inputs()[0])
    assert not ex.check_kl_diagonal(lambda *a: fixed)
    assert "Not yet: " in said(capsys)


@pytest.mark.parametrize(
    "answer", [2500, 2500.0, 400 * (0.05 / 0.02) ** 2, np.int64(2500), torch.tensor(2500.0)]
)
def test_samples_needed_right_with_float_noise_and_any_type(answer, capsys):
    assert ex.check_samples_needed(answer)
    assert said(capsys).startswith("Right: ")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (1000, "not 1/n"),
        (400 * math.sqrt(2.5), "square root"),
        (64, "more samples"),
        (5000, "c / sqrt(n)"),
    ],
)
def test_samples_needed_wrong(wrong, hint, capsys):
    assert not ex.check_samples_needed(wrong)
    out = said(capsys)
    assert out.startswith("Not yet: ") and hint in out, out


def test_samples_needed_names_a_non_number():
    with pytest.raises(TypeError, match="answer must be"):
        ex.check_samples_needed("many")


# ----------------------------------------------------------------------------- all of them
CHECKS = [
    ex.check_die_kl, ex.check_kl_bits, ex.check_forward_fit,
    ex.check_gaussian_kl, ex.check_kl_diagonal, ex.check_samples_needed,
]  # fmt: skip


@pytest.mark.parametrize("check", CHECKS)
def test_the_unanswered_exercise_says_so_and_is_not_right(check, capsys):
    assert check(None) is False
    assert said(capsys).startswith("No answer yet: replace None with")
