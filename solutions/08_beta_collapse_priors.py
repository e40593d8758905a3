"""Solutions to lesson 08's self-checked exercises (beta, posterior collapse, learned priors)."""

from __future__ import annotations

import math

import torch


def count_active_units(mu: torch.Tensor, logvar: torch.Tensor, threshold: float) -> int:
    """Burda et al.'s (2016) active units: the variance over the images (dim 0) of each
    dimension's posterior mean, ``A_d = Var_x(mu_d)``, counted above the threshold. logvar is
    not needed: a dimension whose mean never moves carries nothing about x, whatever its
    variance (its KL_d, the rate it costs, may still be large)."""
    return int((mu.var(0) > threshold).sum())


def mixture_kl(z, mu, logvar, log_weights, means, logvars):
    """Exercise 3: the one-sample Monte Carlo KL to a mixture prior, ``log q(z|x) - log p(z)``, (N,).

    Why: the KL is E_q[log q(z|x) - log p(z)], and the z the decoder already uses is one draw
    from q, so the difference at that z is an unbiased estimate. log q is a diagonal Gaussian's
    log-density. log p(z) = log sum_k pi_k N(z; m_k, s_k^2) is a log of a sum: written as
    logsumexp over the components of log pi_k + log N_k, the largest term is factored out, so
    a code far from every component (each N_k = exp(-thousands) = 0 in floating point) still
    gets a finite log p(z). z[:, None] against means (K, D) broadcasts to (N, K, D).
    """
    log_2pi = math.log(2 * math.pi)
    log_q = -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + log_2pi).sum(-1)
    diff = z[:, None] - means  # (N, K, D)
    log_nk = -0.5 * (diff.pow(2) / logvars.exp() + logvars + log_2pi).sum(-1)  # (N, K)
    log_p = torch.logsumexp(log_weights + log_nk, dim=1)
    return log_q - log_p


def open_exercise_vamp_prior(
    n_components: int = 10, n_train: int = 1000, epochs: int = 3, seed: int = 0
) -> dict:
    """Exercise 2 (open): a VAE with a VampPrior, trained briefly, and its pseudo-inputs.

    Trains ``models.VAE(latent_dim=2)`` with ``priors.VampPrior(model.encode, K)`` on a subset of
    the fast data (a few epochs, seconds on a CPU), with the Monte Carlo KL
    ``losses.negative_elbo(..., z=z, log_prior=prior.log_prob)``. Returns the per-epoch
    training loss (``"history"``), the test negative ELBO (``"test_loss"``) and the decoded
    pseudo-input means (``"pseudo_means"``, (K, 1, 28, 28)).

    What it shows: the loss should fall from epoch to epoch, since the prior's pseudo-inputs
    train with the rest. The prior is a mixture of the encoder's own posteriors, so the prior
    moves to where the codes are: on the full budget it should match or beat the learned
    Gaussian mixture on IWAE log-likelihood (by a small margin, compare it with the standard
    errors). The pseudo-inputs start as noise and turn into blurry garment-like images, and
    decoding their means gives prototypes of the classes. The beta = 8 annealing part of the
    exercise uses ``losses.beta_warmup`` in the same loop.
    """
    from vaelib import losses, models, priors
    from vaelib.data import load_dataset, to_float

    train_x = to_float(load_dataset("fashion-mnist", "train", fast=True)[0][:n_train])
    test_x = to_float(load_dataset("fashion-mnist", "test", fast=True)[0][:500])
    torch.manual_seed(seed)
    model = models.VAE(latent_dim=2)
    model.prior = priors.VampPrior(model.encode, n_components, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss_of(x):
        mu, logvar = model.encode(x)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        logits = model.decode_logits(z)
        return losses.negative_elbo(x, logits, mu, logvar, z=z, log_prior=model.prior.log_prob)

    history = []
    for _ in range(epochs):
        total = 0.0
        for x in train_x[torch.randperm(len(train_x))].split(100):
            loss = loss_of(x).loss.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(x)
        history.append(total / len(train_x))
    model.eval()
    with torch.no_grad():
        test_loss = float(loss_of(test_x).loss.mean())
        pseudo_mu, _ = model.prior.components()
        pseudo_means = model.decode(pseudo_mu)
    return {"history": history, "test_loss": test_loss, "pseudo_means": pseudo_means}


CHECKS = [
    ("vaelib.exercises.collapse", "check_active_units", count_active_units),
    ("vaelib.exercises.collapse", "check_mixture_kl", mixture_kl),
]
