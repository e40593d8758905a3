"""Solutions to lesson 03's exercises (notebooks/03_kl_divergence_gaussian.ipynb).

Try each exercise first: its self-check tells you whether you are right and, if not, where to
look. Each solution is written out (no call to ``kl.kl_gaussian``, which the check refuses) and
says in its docstring why it is right.
"""

from __future__ import annotations

import math

import torch

gaussian_kl = 0.5 * (2.0**2 + 1.0**2 - 1 - math.log(2.0**2))
"""Exercise 1: ``D_KL(N(1, 2^2) || N(0, 1)) = 0.5 (sigma^2 + mu^2 - 1 - log sigma^2)``, nats.

Why: the closed form against N(0, 1) with mu = 1 and the *variance* sigma^2 = 4: the mean
costs mu^2 / 2 = 0.5 nats, the too-wide distribution 0.5 (4 - 1 - log 4) more."""


def kl_diagonal(
    mu: torch.Tensor, logvar: torch.Tensor, mu_p: torch.Tensor, logvar_p: torch.Tensor
) -> torch.Tensor:
    """Exercise 2: ``D_KL(N(mu, diag sigma^2) || N(mu_p, diag sigma_p^2))`` per row; (N, D) -> (N,).

    Why: per dimension the 1-D closed form ``log(sigma_p / sigma) + (sigma^2 + (mu - mu_p)^2) /
    (2 sigma_p^2) - 1/2``, where ``log(sigma_p / sigma) = 0.5 (logvar_p - logvar)`` and
    ``sigma^2 = exp(logvar)``; a diagonal Gaussian is a product of independent dimensions, so
    the KL is the sum over ``dim=-1``. Everything broadcasts, so a (D,) prior works as well as
    a per-row one, and with ``mu_p = logvar_p = 0`` it is the VAE's term.
    """
    per_dim = logvar_p - logvar + (logvar.exp() + (mu - mu_p).pow(2)) / logvar_p.exp() - 1
    return 0.5 * per_dim.sum(dim=-1)


samples_needed = 400 * (0.05 / 0.02) ** 2
"""Exercise 3: ``n = 400 (0.05 / 0.02)^2 = 2500`` samples.

Why: the standard error is ``c / sqrt(n)``; the measurement gives ``c = 0.05 sqrt(400) = 1``,
and ``1 / sqrt(n) = 0.02`` gives n = 2500: an error 2.5 times smaller costs 2.5^2 = 6.25
times the samples."""


def kl_full_covariance(mu_q, cov_q, mu_p, cov_p):
    """Exercise 6: ``D_KL(N(mu_q, S_q) || N(mu_p, S_p))`` for full covariances, a number.

    Why: E_q[log q - log p] with both log-densities written out: the quadratic forms give
    ``tr(S_p^-1 S_q)`` (E_q of the prior's quadratic in z - mu_q) plus the Mahalanobis distance
    of the means under S_p, q's own quadratic gives D, and the normalisers give
    ``log det S_p - log det S_q``; all halved. ``solve`` applies S_p^-1 without forming the
    inverse (stabler), and ``slogdet`` takes the log-determinant without overflow. With diagonal
    covariances it reduces to exercise 2's sum over dimensions.
    """
    d = mu_q.shape[0]
    diff = mu_p - mu_q
    trace = torch.trace(torch.linalg.solve(cov_p, cov_q))
    mahalanobis = diff @ torch.linalg.solve(cov_p, diff)
    log_dets = torch.linalg.slogdet(cov_p)[1] - torch.linalg.slogdet(cov_q)[1]
    return 0.5 * (trace + mahalanobis - d + log_dets)


def open_exercise_mixture_prior_kl(seed: int = 0) -> dict:
    """Exercise 4 (open): ``D_KL(q || p)`` for a two-mode prior, which has no closed form.

    q = N(1, 0.5^2), p = 0.5 N(-2, 1) + 0.5 N(2, 1). Returns the Monte Carlo estimates and
    standard errors for n = 10 ... 10^5 (``"mc"``: {n: (estimate, stderr)}), the quadrature
    value (``"quadrature"``) and the closed form against the moment-matched N(0, 5)
    (``"moment_matched"``).

    What it shows: the Monte Carlo estimates scatter around the quadrature value with an error
    that shrinks like 1 / sqrt(n); about a hundred samples should bring two standard errors
    below the gap between the two priors' KLs. The moment-matched Gaussian should give the
    smaller KL: q sits at z = 1, on the flank of the mixture's mode at 2, while half of the
    mixture's mass sits at -2, far from q; around z = 1 the wide N(0, 5) has more density than
    the mixture, so it charges q less. A mixture prior charges codes by where its components
    are: a VAE trained with one (lesson 08) pulls its posteriors onto the components, where the
    mixture is denser than any single Gaussian could be.
    """
    import math

    from torch import distributions as D

    from vaelib import kl

    p = D.MixtureSameFamily(
        D.Categorical(torch.tensor([0.5, 0.5])), D.Normal(torch.tensor([-2.0, 2.0]), 1.0)
    )
    q = D.Normal(torch.tensor(1.0), torch.tensor(0.5))
    mc = {}
    for n in (10, 100, 1000, 10_000, 100_000):
        est = kl.kl_monte_carlo(q, p, n, seed)
        mc[n] = (float(est.estimate), float(est.stderr))
    quadrature = float(kl.kl_integral_1d(q, p, torch.linspace(-5, 7, 20_001)))
    moment_matched = float(
        D.kl_divergence(q, D.Normal(torch.tensor(0.0), torch.tensor(math.sqrt(5.0))))
    )
    return {"mc": mc, "quadrature": quadrature, "moment_matched": moment_matched}


def open_exercise_point_code_cost(dim: int = 20) -> dict:
    """Exercise 5 (open): the KL term of a code with mu = 0 and a tiny sigma, per exponent.

    Returns ``{k: KL}`` for sigma = 10^-k, k = 1 ... 6, of a ``dim``-dimensional code, from the
    closed form ``0.5 sum_d (sigma^2 + mu^2 - 1 - log sigma^2)``.

    What it shows: for small sigma the cost is about ``dim (-log sigma - 1/2)`` nats, so each
    factor of 10 smaller sigma should add ``dim log 10`` (about 46 nats for 20 dimensions): the
    cost grows without bound, like -log sigma per dimension. A point-like code (an autoencoder's)
    is infinitely expensive, so the optimiser shrinks sigma only as long as the reconstruction
    gains more nats than the KL charges.
    """
    import math

    out = {}
    for k in range(1, 7):
        var = 10.0 ** (-2 * k)
        out[k] = 0.5 * dim * (var - 1 - math.log(var))
    return out


CHECKS = [
    ("vaelib.exercises.kl", "check_gaussian_kl", gaussian_kl),
    ("vaelib.exercises.kl", "check_kl_diagonal", kl_diagonal),
    ("vaelib.exercises.kl", "check_samples_needed", samples_needed),
    ("vaelib.exercises.kl", "check_kl_full_covariance", kl_full_covariance),
]
