"""Solutions to the exercises of lesson 05 (the reparameterization trick), each with why.

Try the exercise first: each check in the notebook says what is wrong, not just that it is.
"""

import torch

variance_ratio = (1 + 14 + 15) / 4
"""Exercise 1: 7.5. Score function, d/dmu: Var[z^2 eps / sigma] = E[z^4 eps^2] / sigma^2 - (2 mu)^2.
With z = mu + sigma eps, E[z^4 eps^2] = mu^4 + 6 mu^2 sigma^2 E[eps^4] + sigma^4 E[eps^6]
= mu^4 + 18 mu^2 sigma^2 + 15 sigma^4 (odd moments vanish), so the variance is
mu^4 / sigma^2 + 14 mu^2 + 15 sigma^2 = 1 + 14 + 15 = 30 at mu = sigma = 1. Pathwise, d/dmu:
Var[2z] = 4 sigma^2 = 4. Ratio 30 / 4."""


def score_mu(z, mu, sigma):
    """Exercise 2: d/dmu log N(z; mu, sigma^2) = (z - mu) / sigma^2.

    log N(z; mu, sigma^2) = -(z - mu)^2 / (2 sigma^2) - log sigma - log(2 pi) / 2; only the
    first term depends on mu, and its derivative is 2 (z - mu) / (2 sigma^2).
    """
    return (z - mu) / sigma**2


def reparameterize(mu, logvar, eps):
    """Exercise 3: z = mu + sigma * eps with sigma = exp(0.5 * logvar).

    logvar = log sigma^2, so sigma = exp(logvar / 2), positive for any real logvar. Every
    operation is differentiable, so dz/dmu = 1 and dz/dlogvar = 0.5 * sigma * eps: the
    randomness is the input eps, and gradients reach mu and logvar.
    """
    return mu + torch.exp(0.5 * logvar) * eps


def score_with_baseline(f_z, z, mu, sigma):
    """Exercise 5: the score-function estimate of (d/dmu, d/dsigma) E[f(z)] with a
    leave-one-out baseline, a tensor of 2 numbers.

    The scores of N(z; mu, sigma^2): d/dmu log N = (z - mu) / sigma^2 and d/dsigma log N =
    ((z - mu)^2 / sigma^2 - 1) / sigma. Each sample's score is weighted by f(z_i) - b_i, where
    b_i = (sum_j f(z_j) - f(z_i)) / (n - 1) is the mean of the *other* samples: independent of
    z_i, so E[b_i * score_i] = b_i * E[score] = 0 and the estimate stays unbiased (a baseline
    that includes f(z_i) is not independent of z_i and shrinks the estimate by (n - 1) / n).
    """
    n = z.shape[0]
    baseline = (f_z.sum() - f_z) / (n - 1)
    weight = f_z - baseline
    score_mu = (z - mu) / sigma**2
    score_sigma = ((z - mu) ** 2 / sigma**2 - 1) / sigma
    return torch.stack([(weight * score_mu).mean(), (weight * score_sigma).mean()])


CHECKS = [
    ("vaelib.exercises.reparam", "check_variance_ratio", variance_ratio),
    ("vaelib.exercises.reparam", "check_score_mu", score_mu),
    ("vaelib.exercises.reparam", "check_reparameterize", reparameterize),
    ("vaelib.exercises.reparam", "check_score_with_baseline", score_with_baseline),
]
