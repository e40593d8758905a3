"""Lesson 07, exercise 4 (vaelib.exercises.bic.check_em_step): one EM step for a 1-D Gaussian
mixture, checked against the formula and against scikit-learn. Right answers, typical wrong
ones with their hints, and the unanswered stub."""

from __future__ import annotations

import math

import pytest
import torch
from _solutions import load_solutions, verdict

from vaelib.exercises import bic as ex


@pytest.fixture(scope="module")
def solution():
    return load_solutions("07_bic_curves").em_step


def test_right(capsys, solution):
    verdict(capsys, ex.check_em_step(solution), "Right:", "scikit-learn")


def step(normalise=True, logs=True, old_means=False, std=False, by_n=False, weights_sum=False):
    def fn(x, w, m, v):
        log_n = -0.5 * ((x[:, None] - m) ** 2 / v + torch.log(2 * math.pi * v))
        if logs:
            r = torch.softmax(torch.log(w) + log_n, 1)
        else:
            p = w * log_n.exp()
            r = p / p.sum(1, keepdim=True) if normalise else p
        nk = r.sum(0)
        means = (r * x[:, None]).sum(0) / nk
        centre = m if old_means else means
        var = (r * (x[:, None] - centre) ** 2).sum(0) / (x.shape[0] if by_n else nk)
        return (nk if weights_sum else nk / len(x)), means, (var.sqrt() if std else var)

    return fn


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (step(logs=False), "softmax"),
        (step(logs=False, normalise=False), "normalise the responsibilities"),
        (step(old_means=True), "NEW means"),
        (step(std=True), "not standard deviations"),
        (step(by_n=True), "not by N"),
        (step(weights_sum=True), "N_k / N"),
    ],
)
def test_wrong_answers_get_pointed_hints(fn, hint, capsys):
    verdict(capsys, ex.check_em_step(fn), "Not yet:", hint)


def test_unanswered_and_none(capsys):
    assert not ex.check_em_step(None)
    assert "No answer yet" in capsys.readouterr().out
    verdict(capsys, ex.check_em_step(lambda *a: None), "No answer yet:", "returns None")
