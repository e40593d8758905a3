"""The self-checks of lesson 09 (vaelib.exercises.build): each accepts right answers, rejects
typical wrong ones with a hint that names the mistake, refuses the library shortcut, and says
"No answer yet" to the lesson's stubs."""

from __future__ import annotations

import math

import pytest
import torch
from _solutions import load_solutions, verdict
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from vaelib import iwae, train
from vaelib.exercises import build as ex
from vaelib.models import VAE


@pytest.fixture(scope="module")
def sol():
    return load_solutions("09_build_a_vae")


# ----------------------------------------------------------------------------- exercise 1
def variant(sol, **changes):
    """The solution's MyVAE with some methods replaced (a typical wrong answer)."""
    return type("Wrong", (sol.MyVAE,), changes)


def test_vae_module_right(capsys, sol):
    verdict(capsys, ex.check_vae_module(sol.MyVAE), "Right:", "two heads")


def test_vae_module_stub_and_none(capsys):
    assert not ex.check_vae_module(None)
    assert capsys.readouterr().out.startswith("No answer yet")

    class Stub(nn.Module):
        def __init__(self, latent_dim=20, hidden=400):
            super().__init__()

        def encode(self, x):
            return None

    assert not ex.check_vae_module(Stub)
    assert capsys.readouterr().out.startswith("No answer yet")


def sample_with(scale):
    def forward(self, x):
        mu, logvar = self.encode(x)
        z = mu + scale(logvar) * torch.randn_like(mu)
        return self.decode_logits(z), mu, logvar

    return forward


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"forward": sample_with(torch.exp)}, ["sigma = exp(0.5 * logvar)", "sigma^2"]),
        ({"forward": sample_with(lambda lv: lv)}, ["logvar is log sigma^2"]),
        ({"forward": sample_with(lambda lv: 0 * lv)}, ["z equals mu"]),
        ({"forward": sample_with(lambda lv: torch.ones_like(lv))}, ["scale the noise"]),
        ({"encode": lambda self, x: (self.mu_head(self.encoder(x)),) * 2}, ["two separate heads"]),
        (
            {"decode_logits": lambda self, z: torch.sigmoid(self.decoder(z).view(-1, 1, 28, 28))},
            ["not sigmoid(logits)"],
        ),
        ({"decode_logits": lambda self, z: self.decoder(z)}, ["(N, 1, 28, 28)"]),
    ],
)
def test_vae_module_wrong_answers_get_pointed_hints(capsys, sol, changes, words):
    verdict(capsys, ex.check_vae_module(variant(sol, **changes)), "Not yet:", *words)


def test_vae_module_catches_a_cut_graph_and_a_shared_eps(capsys, sol):
    def detached(self, x):
        mu, logvar = self.encode(x)
        z = (mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)).detach()
        return self.decode_logits(z), mu, logvar

    verdict(capsys, ex.check_vae_module(variant(sol, forward=detached)), "Not yet:", "graph")

    def shared(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape[1])
        return self.decode_logits(z), mu, logvar

    verdict(capsys, ex.check_vae_module(variant(sol, forward=shared)), "Not yet:", "same eps")


def test_vae_module_refuses_the_library(capsys):
    class Mine(VAE):
        pass

    verdict(capsys, ex.check_vae_module(Mine), "Not yet:", "write it yourself", "models.VAE")
    verdict(capsys, ex.check_vae_module(VAE), "Not yet:", "write it yourself")


# ----------------------------------------------------------------------------- exercise 2
def make_loop(step=True, zero=True, record="mean", bar=True):
    def train_vae(model, loader, loss_fn, epochs, lr):
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        history = {"loss": []}
        for _ in tqdm(range(epochs), disable=True) if bar else range(epochs):
            losses = []
            for x in loader:
                loss = loss_fn(model, x)["loss"]
                if zero:
                    optimizer.zero_grad()
                loss.backward()
                if step:
                    optimizer.step()
                losses.append(loss.item())
            if record == "mean":
                history["loss"].append(sum(losses) / len(losses))
            elif record == "last":
                history["loss"].append(losses[-1])
            else:
                history["loss"] += losses
        return history

    if not bar:  # the same loop without the name tqdm in its code

        def train_vae_no_bar(model, loader, loss_fn, epochs, lr):
            optimizer = torch.optim.Adam(model.parameters(), lr=lr)
            history = {"loss": []}
            for _ in range(epochs):
                losses = []
                for x in loader:
                    loss = loss_fn(model, x)["loss"]
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    losses.append(loss.item())
                history["loss"].append(sum(losses) / len(losses))
            return history

        return train_vae_no_bar
    return train_vae


def test_training_loop_right(capsys, sol):
    verdict(capsys, ex.check_training_loop(sol.train_vae), "Right:", "loss fell")
    verdict(capsys, ex.check_training_loop(make_loop()), "Right:")


@pytest.mark.parametrize(
    ("loop", "words"),
    [
        (make_loop(step=False), ["optimizer.step()"]),
        (make_loop(zero=False), ["zero_grad"]),
        (make_loop(record="last"), ["last batch"]),
        (make_loop(record="batches"), ["one number per epoch", "one per batch"]),
        (make_loop(bar=False), ["tqdm"]),
    ],
)
def test_training_loop_wrong_answers_get_pointed_hints(capsys, loop, words):
    verdict(capsys, ex.check_training_loop(loop), "Not yet:", *words)


def test_training_loop_refuses_the_library_and_says_no_answer_yet(capsys):
    def shortcut(model, loader, loss_fn, epochs, lr):
        return train.train(model, loader, loss_fn, epochs=epochs, lr=lr, progress=False)

    verdict(capsys, ex.check_training_loop(shortcut), "Not yet:", "write it yourself")
    assert train.train.__name__ == "train"  # restored after the check
    assert not ex.check_training_loop(lambda *a: None)
    assert capsys.readouterr().out.startswith("No answer yet")


# ----------------------------------------------------------------------------- exercise 3
def log_weights(model, x, k, detach=False):
    mu, logvar = model.encode(x)
    n, d = mu.shape
    mu, logvar = mu[:, None].expand(n, k, d), logvar[:, None].expand(n, k, d)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    if detach:
        z = z.detach()
    log_q = -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(-1)
    log_p = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
    logits = model.decode_logits(z.reshape(n * k, d)).reshape(n, k, -1)
    log_px = (x.reshape(n, 1, -1) * logits + F.logsigmoid(-logits)).sum(-1)
    return log_px, log_p, log_q


def test_iwae_bound_right(capsys, sol):
    verdict(capsys, ex.check_iwae_bound(sol.iwae_bound), "Right:", "rising with k")


@pytest.mark.parametrize(
    ("combine", "words"),
    [  # log_w -> L_k, each a typical mistake
        (lambda px, p, q, k: torch.log(torch.exp(px + p - q).mean(1)), ["logsumexp"]),
        (lambda px, p, q, k: torch.logsumexp(px + p - q, 1), ["log-SUM-exp", "log k"]),
        (lambda px, p, q, k: (px + p - q).mean(1), ["mean of the log-weights"]),
        (lambda px, p, q, k: torch.logsumexp(px, 1) - math.log(k), ["log p(x|z) alone"]),
        (
            lambda px, p, q, k: torch.logsumexp(px + p + q, 1) - math.log(k),
            ["log p(z) - log q(z|x)"],
        ),
        (lambda px, p, q, k: -(torch.logsumexp(px + p - q, 1) - math.log(k)), ["sign"]),
    ],
)
def test_iwae_bound_wrong_answers_get_pointed_hints(capsys, combine, words):
    def bound(model, x, k):
        return combine(*log_weights(model, x, k), k)

    verdict(capsys, ex.check_iwae_bound(bound), "Not yet:", *words)


def test_iwae_bound_gradcheck_catches_a_cut_graph(capsys):
    def detached(model, x, k):
        px, p, q = log_weights(model, x, k, detach=True)
        return torch.logsumexp(px + p - q, 1) - math.log(k)

    verdict(capsys, ex.check_iwae_bound(detached), "Not yet:", "finite differences")

    def no_grad(model, x, k):
        with torch.no_grad():
            px, p, q = log_weights(model, x, k)
            return torch.logsumexp(px + p - q, 1) - math.log(k)

    verdict(capsys, ex.check_iwae_bound(no_grad), "Not yet:", "no gradient")


def test_iwae_bound_refuses_the_library(capsys):
    verdict(capsys, ex.check_iwae_bound(iwae.iwae_bound), "Not yet:", "write it yourself")
    verdict(
        capsys,
        ex.check_iwae_bound(lambda m, x, k: iwae.log_mean_exp(sum(log_weights(m, x, k)), 1)),
        "Not yet:",
        "write it yourself",
    )
    assert iwae.iwae_bound.__name__ == "iwae_bound"
    assert not ex.check_iwae_bound(lambda *a: None)
    assert capsys.readouterr().out.startswith("No answer yet")


# ----------------------------------------------------------------------------- exercise 4
def test_trains_like_vaelib(capsys, sol):
    verdict(capsys, ex.check_trains_like_vaelib((sol.MyVAE, sol.train_vae)), "Right:", "vaelib's")

    def idle_loop(model, loader, loss_fn, epochs, lr):  # trains nothing
        return {"loss": [0.0] * epochs}

    verdict(capsys, ex.check_trains_like_vaelib(sol.MyVAE, idle_loop), "Not yet:", "test -ELBO")


def test_trains_like_vaelib_says_no_answer_yet_to_stubs(capsys, sol):
    assert not ex.check_trains_like_vaelib((sol.MyVAE, lambda *a: None))
    assert capsys.readouterr().out.startswith("No answer yet")
    assert not ex.check_trains_like_vaelib(None, sol.train_vae)
    assert capsys.readouterr().out.startswith("No answer yet")


# ----------------------------------------------------------------------------- exercise 5
def test_gaussian_nll_right(capsys, sol):
    verdict(capsys, ex.check_gaussian_nll(sol.gaussian_nll), "Right:")

    def with_torch(x, mean, logvar):  # a right answer through torch's own formula
        lv = logvar.expand_as(x)
        return F.gaussian_nll_loss(mean, x, lv.exp(), full=True, reduction="none").flatten(1).sum(1)

    verdict(capsys, ex.check_gaussian_nll(with_torch), "Right:")


def nll(no_const=False, no_logvar=False, sigma=False, sign=1):
    def fn(x, mean, logvar):
        lv = logvar.expand_as(x)
        scale = (0.5 * lv).exp() if sigma else lv.exp()
        per = (x - mean).pow(2) / scale + (0 if no_logvar else lv)
        per = per + (0 if no_const else math.log(2 * math.pi))
        return sign * 0.5 * per.flatten(1).sum(1)

    return fn


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (nll(no_const=True), ["log(2 pi)"]),
        (nll(no_logvar=True), ["log sigma^2"]),
        (nll(sigma=True), ["not by sigma"]),
        (nll(sign=-1), ["negative"]),
        (lambda x, m, lv: nll()(x, m, lv).sum(), ["shape (N,)"]),
    ],
)
def test_gaussian_nll_wrong_answers_get_pointed_hints(capsys, fn, words):
    verdict(capsys, ex.check_gaussian_nll(fn), "Not yet:", *words)


def test_gaussian_nll_refuses_torch_normal_and_says_no_answer_yet(capsys):
    def shortcut(x, mean, logvar):
        normal = torch.distributions.Normal(mean, (0.5 * logvar).exp())
        return -normal.log_prob(x).flatten(1).sum(1)

    verdict(capsys, ex.check_gaussian_nll(shortcut), "Not yet:", "write it yourself")
    assert not ex.check_gaussian_nll(None)
    assert capsys.readouterr().out.startswith("No answer yet")
    assert not ex.check_gaussian_nll(lambda *a: None)
    assert capsys.readouterr().out.startswith("No answer yet")
