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


def open_exercise_score_baseline(
    mu: float = 2.0, sigma: float = 0.5, n: int = 20_000, seed: int = 0
) -> dict:
    """Exercise 4 (open): a constant baseline b in the score-function estimator.

    For f(z) = z^2 at mu = 2, sigma = 0.5 and b in {0, 2, 4, mu^2 + sigma^2, 6}, returns the
    mean and per-sample variance of the d/dmu estimate (``"by_b"``: {b: (mean, variance)}), the
    pathwise estimator's variance (``"pathwise_variance"``) and, for f(z) = 1[z > 0], both
    estimators' d/dmu means (``"step"``) and the exact value N(0; mu, sigma^2).

    What it shows: every b gives the same mean, about 2 mu = 4 (unbiased, since E[grad log q] = 0),
    but the variance depends on b and should be smallest near b = E[f] = mu^2 + sigma^2, where it
    comes much closer to (though stays above) the pathwise estimator's 4 sigma^2 = 1. For the
    step function the pathwise estimator returns 0 (its derivative is 0 almost everywhere), which
    is wrong, while the score function needs only values of f and estimates the true gradient,
    the Gaussian density at 0.
    """
    import math

    from vaelib import reparam

    mu_t, sigma_t = torch.tensor([mu]), torch.tensor([sigma])

    def f(z):
        return z.squeeze(-1) ** 2

    by_b = {}
    for b in (0.0, 2.0, 4.0, mu**2 + sigma**2, 6.0):
        g = torch.Generator().manual_seed(seed)
        est = reparam.score_function_gradient(lambda z, b=b: f(z) - b, mu_t, sigma_t, n, g)
        by_b[b] = (float(est.grad[0]), float(est.per_sample[0].var()))
    g = torch.Generator().manual_seed(seed)
    path = reparam.pathwise_gradient(f, mu_t, sigma_t, n, g)

    def step(z):
        return (z.squeeze(-1) > 0).to(z.dtype)

    g = torch.Generator().manual_seed(seed)
    score_step = reparam.score_function_gradient(step, mu_t, sigma_t, n, g)
    g = torch.Generator().manual_seed(seed)
    path_step = reparam.pathwise_gradient(step, mu_t, sigma_t, n, g)
    exact = math.exp(-0.5 * (mu / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    return {
        "by_b": by_b,
        "pathwise_variance": float(path.per_sample[0].var()),
        "step": {
            "score": float(score_step.grad[0]),
            "pathwise": float(path_step.grad[0]),
            "exact": exact,
        },
    }


CHECKS = [
    ("vaelib.exercises.reparam", "check_variance_ratio", variance_ratio),
    ("vaelib.exercises.reparam", "check_score_mu", score_mu),
    ("vaelib.exercises.reparam", "check_reparameterize", reparameterize),
    ("vaelib.exercises.reparam", "check_score_with_baseline", score_with_baseline),
]
