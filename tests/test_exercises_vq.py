"""The self-check of lesson 10 (vaelib.exercises.vq): it accepts a right answer, rejects typical
wrong ones with a hint that names the mistake, and refuses the shortcut."""

from __future__ import annotations

import pytest
import torch
from _solutions import load_solutions, verdict

from vaelib import vq
from vaelib.exercises import vq as ex
from vaelib.vq import nearest_code as lib_nearest_code  # a global, as in a notebook


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("10_conditional_and_vq_vae")


def nearest(z_e, codebook):
    return codebook[torch.cdist(z_e.reshape(-1, z_e.shape[-1]), codebook).argmin(1)].view_as(z_e)


def test_right_answer(capsys, solutions):
    verdict(capsys, ex.check_quantize(solutions.quantize), "Right:", "identity")


def test_a_right_answer_written_differently(capsys):
    def by_broadcast(z_e, codebook):
        d = (z_e[..., None, :] - codebook).pow(2).sum(-1)  # (N, M, K)
        return z_e + (codebook[d.argmin(-1)] - z_e).detach()

    verdict(capsys, ex.check_quantize(by_broadcast), "Right:")


def test_typical_wrong_answers(capsys):
    verdict(capsys, ex.check_quantize(lambda z_e, cb: nearest(z_e, cb)), "Not yet:", "no gradient")
    verdict(
        capsys,
        ex.check_quantize(lambda z_e, cb: nearest(z_e, cb).detach()),
        "Not yet:",
        "no gradient",
    )
    verdict(capsys, ex.check_quantize(lambda z_e, cb: z_e), "Not yet:", "nothing was quantised")
    swapped = lambda z_e, cb: nearest(z_e, cb) + (z_e - nearest(z_e, cb)).detach()  # noqa: E731
    verdict(capsys, ex.check_quantize(swapped), "Not yet:", "nothing was quantised")

    def farthest(z_e, cb):
        far = cb[torch.cdist(z_e.reshape(-1, z_e.shape[-1]), cb).argmax(1)].view_as(z_e)
        return z_e + (far - z_e).detach()

    verdict(capsys, ex.check_quantize(farthest), "Not yet:", "farthest")
    leaky = lambda z_e, cb: z_e + nearest(z_e, cb) - z_e.detach()  # noqa: E731
    verdict(capsys, ex.check_quantize(leaky), "Not yet:", "into the codebook")
    scaled = lambda z_e, cb: 2 * z_e + (nearest(z_e, cb) - 2 * z_e).detach()  # noqa: E731
    verdict(capsys, ex.check_quantize(scaled), "Not yet:", "changed gradient")
    verdict(capsys, ex.check_quantize(lambda z_e, cb: None), "No answer yet:", "returns None")
    verdict(capsys, ex.check_quantize(lambda z_e, cb: z_e[0]), "Not yet:", "shape")
    assert not ex.check_quantize(None)
    assert "No answer yet" in capsys.readouterr().out


def test_the_library_shortcut_is_refused(capsys):
    def with_library(z_e, codebook):
        return vq.straight_through(z_e, codebook[vq.nearest_code(z_e, codebook)])

    verdict(capsys, ex.check_quantize(with_library), "Not yet:", "write it yourself")

    def with_imported_name(z_e, codebook):
        return z_e + (codebook[lib_nearest_code(z_e, codebook)] - z_e).detach()

    verdict(capsys, ex.check_quantize(with_imported_name), "Not yet:", "vaelib.vq.nearest_code")
    assert vq.nearest_code is lib_nearest_code  # restored after the check
