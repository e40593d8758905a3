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


CHECKS = [
    ("vaelib.exercises.collapse", "check_active_units", count_active_units),
    ("vaelib.exercises.collapse", "check_mixture_kl", mixture_kl),
]
