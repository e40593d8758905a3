"""The self-checks of lesson 06 (vaelib.exercises.vae): each accepts a right answer, rejects
typical wrong ones with a hint that names the mistake, and refuses the library shortcut."""

from __future__ import annotations

import math

import pytest
import torch
from _solutions import load_solutions, verdict
from torch.nn import functional as F

from vaelib import losses
from vaelib.exercises import vae as ex
from vaelib.kl import kl_gaussian  # a global, as in a notebook: the check must refuse it


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("06_vae_training")


# ----------------------------------------------------------------------------- exercise 1
def kl(mu, logvar):
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)


def test_negative_elbo_right(capsys, solutions):
    verdict(capsys, ex.check_negative_elbo(solutions.my_negative_elbo), "Right:")

    # F.binary_cross_entropy_with_logits per pixel is a right answer too
    def with_torch(x, logits, mu, logvar):
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        return bce + kl(mu, logvar)

    verdict(capsys, ex.check_negative_elbo(with_torch), "Right:")


def test_negative_elbo_wrong_answers_get_pointed_hints(capsys):
    def batch_sum(x, logits, mu, logvar):
        return (F.softplus(logits) - x * logits).sum() + kl(mu, logvar).sum()

    verdict(capsys, ex.check_negative_elbo(batch_sum), "Not yet:", "one value per image")

    def naive_log(x, logits, mu, logvar):  # log(sigmoid) overflows for logits of +-40
        x_hat = torch.sigmoid(logits)
        recon = -(x * torch.log(x_hat) + (1 - x) * torch.log(1 - x_hat)).flatten(1).sum(1)
        return recon + kl(mu, logvar)

    verdict(capsys, ex.check_negative_elbo(naive_log), "Not yet:", "softplus")

    def kl_sign(x, logits, mu, logvar):
        return (F.softplus(logits) - x * logits).flatten(1).sum(1) - kl(mu, logvar)

    verdict(capsys, ex.check_negative_elbo(kl_sign), "Not yet:", "sign")

    def recon_only(x, logits, mu, logvar):
        return (F.softplus(logits) - x * logits).flatten(1).sum(1)

    verdict(capsys, ex.check_negative_elbo(recon_only), "Not yet:", "add the KL")


def test_negative_elbo_refuses_the_library(capsys):
    def shortcut(x, logits, mu, logvar):
        return losses.negative_elbo(x, logits, mu, logvar).loss

    verdict(capsys, ex.check_negative_elbo(shortcut), "Not yet:", "write it yourself")
    assert losses.negative_elbo.__name__ == "negative_elbo"  # restored after the check

    def kl_shortcut(x, logits, mu, logvar):
        return (F.softplus(logits) - x * logits).flatten(1).sum(1) + kl_gaussian(mu, logvar)

    verdict(capsys, ex.check_negative_elbo(kl_shortcut), "Not yet:", "write it yourself")


def test_negative_elbo_unanswered(capsys):
    assert not ex.check_negative_elbo(None)
    assert "No answer yet" in capsys.readouterr().out
    verdict(capsys, ex.check_negative_elbo(lambda *a: None), "No answer yet:", "returns None")


# ----------------------------------------------------------------------------- exercise 2
def test_blind_decoder_right(capsys, solutions):
    verdict(capsys, ex.check_blind_decoder_nats(solutions.blind_decoder_nats), "Right:", "nats")

    def with_bce(x):  # F.binary_cross_entropy against the mean image is right too
        m = x.mean(0, keepdim=True).expand_as(x)
        return F.binary_cross_entropy(m, x, reduction="sum") / len(x)

    verdict(capsys, ex.check_blind_decoder_nats(with_bce), "Right:")


def test_blind_decoder_wrong_answers(capsys):
    def half(x):
        return x[0].numel() * math.log(2)

    verdict(capsys, ex.check_blind_decoder_nats(half), "Not yet:", "0.5")

    def naive(x):  # 0 * log 0 = nan on the always-black border
        m = x.mean(0, keepdim=True)
        return -(x * m.log() + (1 - x) * (1 - m).log()).flatten(1).sum(1).mean()

    verdict(capsys, ex.check_blind_decoder_nats(naive), "Not yet:", "0 * log 0")

    def per_pixel(x):
        m = x.mean(0, keepdim=True)
        bce = -(torch.special.xlogy(x, m) + torch.special.xlogy(1 - x, 1 - m))
        return bce.mean()

    verdict(
        capsys, ex.check_blind_decoder_nats(per_pixel), "Not yet:", "sum the BCE over the pixels"
    )


def test_blind_decoder_refuses_the_library(capsys):
    def shortcut(x):
        m = x.mean(0, keepdim=True).expand_as(x).clamp(1e-12, 1 - 1e-12)
        return losses.reconstruction_loss(x, m) / len(x)

    verdict(capsys, ex.check_blind_decoder_nats(shortcut), "Not yet:", "write it yourself")
    assert not ex.check_blind_decoder_nats(None)
    assert "No answer yet" in capsys.readouterr().out


# ----------------------------------------------------------------------------- exercise 3
def test_log_mean_exp_right(capsys, solutions):
    verdict(capsys, ex.check_log_mean_exp(solutions.log_mean_exp), "Right:", "logsumexp")


def test_log_mean_exp_wrong_answers(capsys):
    verdict(
        capsys,
        ex.check_log_mean_exp(lambda w: torch.logsumexp(w, dim=1)),
        "Not yet:",
        "subtract log k",
    )
    verdict(capsys, ex.check_log_mean_exp(lambda w: w.exp().mean(1).log()), "Not yet:", "maximum")
    verdict(capsys, ex.check_log_mean_exp(lambda w: w.mean(1)), "Not yet:", "outside")
    verdict(
        capsys,
        ex.check_log_mean_exp(lambda w: torch.logsumexp(w, 0) - math.log(w.shape[0])),
        "Not yet:",
        "shape (N,)",
    )


def test_log_mean_exp_has_no_library_shortcut_and_needs_an_answer(capsys):
    # vaelib has no log-mean-exp to refuse (evaluate.iwae_log_likelihood takes a model, not
    # log-weights); torch.logsumexp is the tool the exercise teaches. A missing answer:
    assert not ex.check_log_mean_exp(None)
    assert "No answer yet" in capsys.readouterr().out
    verdict(capsys, ex.check_log_mean_exp(lambda w: None), "No answer yet:", "returns None")


def test_passing_the_library_function_itself_is_not_accepted(capsys):
    verdict(capsys, ex.check_negative_elbo(losses.negative_elbo), "Not yet:")
