"""The self-checks of lesson 01 (vaelib/exercises/ae.py): a right answer, typical wrong ones
with the hint they get, the library shortcut, and inputs the lesson never shows."""

from __future__ import annotations

import pytest
import torch
from _solutions import said

from vaelib import latent
from vaelib.exercises import ae as ex

interpolate = latent.interpolate  # as if imported into the notebook


def interpolate_right(z0, z1, steps):
    t = torch.linspace(0, 1, steps, dtype=z0.dtype)[:, None]
    return (1 - t) * z0 + t * z1


def test_interpolate_right(capsys):
    assert ex.check_interpolate(interpolate_right)
    assert said(capsys).startswith("Right: ")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda z0, z1, s: interpolate_right(z1, z0, s), "swap the weights"),
        # t = k / steps never reaches 1
        (
            lambda z0, z1, s: z0 + torch.arange(s, dtype=z0.dtype)[:, None] / s * (z1 - z0),
            "last row",
        ),
        (lambda z0, z1, s: interpolate_right(z0, z1, s).T, "one row per step"),
        (lambda z0, z1, s: torch.stack([z0, z1]), "return shape"),
        (lambda z0, z1, s: None, "returns None"),
        (lambda z0, z1, s: (z0 + z1) / 2 + 0 * interpolate_right(z0, z1, s), "wrong for D"),
    ],
)
def test_interpolate_wrong(wrong, hint, capsys):
    assert not ex.check_interpolate(wrong)
    out = said(capsys)
    assert out.startswith("Not yet: ") and hint in out, out


def test_interpolate_refuses_the_library_shortcut(capsys):
    for shortcut in (
        latent.interpolate,  # passing the library function itself
        lambda z0, z1, s: latent.interpolate(z0, z1, s),
        lambda z0, z1, s: interpolate(z0, z1, s),
    ):
        assert not ex.check_interpolate(shortcut)
        out = said(capsys)
        assert out.startswith("Not yet: write it yourself") and "latent.interpolate" in out
    assert latent.interpolate is interpolate


def test_interpolate_tests_unseen_shapes(capsys):
    # hard-wired to the 3-D, 5-step case: fails on the other dimensions
    assert not ex.check_interpolate(lambda z0, z1, s: interpolate_right(z0[:3], z1[:3], 5))
    assert "Not yet: " in said(capsys)


def standardize_right(z):
    return (z - z.mean(dim=0)) / z.std(dim=0)


@pytest.mark.parametrize(
    "right", [standardize_right, lambda z: (z - z.mean(0)) / z.std(0, correction=0)]
)
def test_standardize_right_with_either_std(right, capsys):
    assert ex.check_standardize(right)
    assert said(capsys).startswith("Right: ")


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda z: z - z.mean(0), "divide each"),
        (lambda z: (z - z.mean()) / z.std(), "z.mean(dim=0)"),
        (lambda z: (z - z.mean(0)) / z.var(0), "not the variance"),
        (lambda z: (z - z.mean(0)) / z.std(), "own standard deviation"),
        (lambda z: standardize_right(z)[:10], "one row per code"),
    ],
)
def test_standardize_wrong(wrong, hint, capsys):
    assert not ex.check_standardize(wrong)
    out = said(capsys)
    assert out.startswith("Not yet: ") and hint in out, out


@pytest.mark.parametrize("check", [ex.check_interpolate, ex.check_standardize])
def test_unanswered(check, capsys):
    assert check(None) is False
    assert said(capsys).startswith("No answer yet")
