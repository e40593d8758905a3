"""Lesson 02, exercise 5 (vaelib.exercises.kl.check_fit_by_gradient): forward and reverse KL fits
of one Gaussian by gradient descent. The right answer, swapped directions, a descent that never
moves or stops early, the refused shortcut and the unanswered stub."""

from __future__ import annotations

import pytest
import torch
from _solutions import load_solutions, verdict

from vaelib import kl
from vaelib.exercises import kl as ex


def test_the_reference_optima_are_mode_covering_and_mode_seeking():
    fwd, rev = ex._gd_reference("forward"), ex._gd_reference("reverse")
    mean = sum(w * m for w, m in zip(ex.GD_WEIGHTS, ex.GD_MUS, strict=True))
    assert abs(fwd[0] - mean) < 0.02 and fwd[1] > 2  # covers both modes
    assert abs(rev[0] - ex.GD_MUS[1]) < 0.05 and abs(rev[1] - ex.GD_SIGMAS[1]) < 0.05


def test_right(capsys):
    solution = load_solutions("02_kl_divergence_discrete").fit_by_gradient
    verdict(capsys, ex.check_fit_by_gradient(solution), "Right:", "mode seeking")


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (
            lambda x, p, d: ex._gd_reference("reverse" if d == "forward" else "forward"),
            "other direction",
        ),
        (lambda x, p, d: ex.GD_START, "never moved"),
        (lambda x, p, d: (float("nan"), 1.0), "log sigma"),
        (lambda x, p, d: (1.0, 1.5), "more steps"),
    ],
)
def test_wrong_answers_get_pointed_hints(fn, hint, capsys):
    verdict(capsys, ex.check_fit_by_gradient(fn), "Not yet:", hint)


def test_refuses_the_grid_search_and_says_no_answer_yet(capsys):
    def shortcut(x, p, direction):
        fit = kl.fit_gaussian_on_grid(x, p, direction)
        return fit.mu, fit.sigma

    verdict(capsys, ex.check_fit_by_gradient(shortcut), "Not yet:", "write it yourself")
    assert not ex.check_fit_by_gradient(None)
    assert "No answer yet" in capsys.readouterr().out
    verdict(capsys, ex.check_fit_by_gradient(lambda *a: None), "No answer yet:", "returns None")
    assert torch.is_tensor(ex._gd_target()[1])
