"""Solutions to lesson 02's exercises (notebooks/02_kl_divergence_discrete.ipynb).

Try each exercise first: its self-check tells you whether you are right and, if not, where to
look. Each solution is written out and says in its docstring why it is right.
"""

from __future__ import annotations

import math

import torch

from vaelib import kl

P_FAIR = [1 / 6] * 6
Q_SKEWED = [0.05, 0.1, 0.15, 0.2, 0.2, 0.3]  # vaelib.exercises.kl.SKEWED_DIE

die_kl = sum(p * math.log(p / q) for p, q in zip(P_FAIR, Q_SKEWED, strict=True))
"""Exercise 1: ``D_KL(P || Q) = sum_x P(x) log(P(x) / Q(x))`` with P the fair die, in nats.

Why: the weights in front of the log come from P (the world), the natural log gives nats. The
faces that Q under-rates (face 1: 1/6 against 0.05) cost the most; face 6, which Q over-rates,
gives a negative term, and the sum stays positive (Gibbs)."""


def kl_bits(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Exercise 2: ``D_KL(P || Q)`` in bits, p, q (..., K) -> (...,).

    Why: ``D_KL(P || Q) = H(P, Q) - H(P)``, the expected excess surprise, and both entropies
    come in nats; one bit is ``log 2`` nats, so dividing by ``math.log(2)`` converts. Both
    functions reduce the last dimension only, so batches of any shape work.
    """
    return (kl.cross_entropy(p, q) - kl.entropy(p)) / math.log(2)


# Exercise 3: the Gaussian minimising D_KL(P || Q) for P = 0.2 N(-3, 0.5^2) + 0.8 N(1, 1).
_w, _mu, _sigma = (0.2, 0.8), (-3.0, 1.0), (0.5, 1.0)
forward_mu = sum(w * m for w, m in zip(_w, _mu, strict=True))
forward_sigma = math.sqrt(
    sum(w * (s**2 + m**2) for w, m, s in zip(_w, _mu, _sigma, strict=True)) - forward_mu**2
)
forward_fit = (forward_mu, forward_sigma)
"""Exercise 3: ``(mu, sigma)`` = P's mean and standard deviation.

Why: for a Gaussian Q, ``D_KL(P || Q) = -H(P) + E_P[-log Q(x)]`` and ``E_P[-log Q]`` depends on
P only through its mean and variance; setting its derivatives to zero gives ``mu = E_P[x]`` and
``sigma^2 = Var_P[x] = sum_j w_j (sigma_j^2 + mu_j^2) - mu^2``. The variance includes the
spread *between* the modes, which is why the forward fit stretches over both."""


def fit_by_gradient(x, p, direction):
    """Exercise 5: fit Q = N(mu, sigma^2), discretised on the grid, to P by gradient descent.

    The parameters are mu and log sigma (sigma = exp(log sigma) > 0 for any step). log Q on the
    grid is log_softmax of the Gaussian's exponent (normalised over the grid points, as P is).
    Forward KL, sum p (log p - log q), is an expectation under P: every point where P has mass
    pulls Q there, so Q spreads over both modes (its optimum is P's mean and variance). Reverse
    KL, sum q (log q - log p), is an expectation under Q: Q is punished wherever it puts mass and
    P has little, so from a start near the heavier mode it settles on that mode alone. Adam with
    lr 0.05 for 3000 steps converges from (0.5, 1) on this grid.
    """
    mu = torch.tensor(0.5, dtype=x.dtype, requires_grad=True)
    log_sigma = torch.tensor(0.0, dtype=x.dtype, requires_grad=True)
    optimizer = torch.optim.Adam([mu, log_sigma], lr=0.05)
    log_p = torch.log(p)
    for _ in range(3000):
        log_q = torch.log_softmax(-0.5 * ((x - mu) / log_sigma.exp()) ** 2, dim=0)
        if direction == "forward":
            loss = (p * (log_p - log_q)).sum()
        else:
            loss = (log_q.exp() * (log_q - log_p)).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return mu.item(), log_sigma.exp().item()


def open_exercise_reverse_kl_modes(
    ds: tuple[float, ...] = (2.5, 2.0, 1.5, 1.0, 0.5),
    weights: tuple[float, float] = (0.35, 0.65),
    width: float = 0.7,
) -> dict:
    """Exercise 4 (open): forward and reverse one-Gaussian fits to two modes at ``-d`` and ``d``.

    For each separation d, fits ``kl.fit_gaussian_on_grid`` in both directions to the mixture
    with the given weights (the heavier mode at ``+d``) and width 0.7, and finds the local minima
    over mu of the reverse objective (its surface minimised over sigma, each minimum the lowest
    point within 0.25 either side). Returns ``{d: {"forward_mu", "forward_sigma", "reverse_mu",
    "reverse_sigma", "reverse_minima"}}``, the minima as a list of mu values.

    What it shows: while the modes are well apart (d a few widths), the reverse fit should sit
    on one mode, the heavier one (it leaves out less probability mass), with sigma close to the
    mode's width; its objective should have a valley at each mode (the lighter mode's valley is
    a local minimum a gradient descent can fall into), besides a shallow wide one between them.
    As d shrinks to about two widths (d near 1.5 for width 0.7, while the target still has two
    bumps) the mode valleys should merge into one, and the reverse fit should jump from the mode
    to one wide Gaussian over both, its mean between them. The forward fit covers both modes at
    every d: its mean near the mixture's mean and its sigma as wide as
    the whole mixture. For a VAE: a one-Gaussian q(z|x) trained on the reverse KL picks one mode
    of a two-mode posterior and ignores the other, so the gap of the ELBO stays open there.
    """
    from vaelib import kl

    x = torch.linspace(-6, 6, 241, dtype=torch.float64)
    out = {}
    for d in ds:
        p = kl.gaussian_mixture_on_grid(x, list(weights), [-d, d], [width, width])
        fwd = kl.fit_gaussian_on_grid(x, p, "forward")
        rev = kl.fit_gaussian_on_grid(x, p, "reverse")
        profile = rev.surface.min(dim=1).values  # best over sigma, per mu
        minima = []
        for i in range(5, len(profile) - 5):
            window = profile[i - 5 : i + 6]
            if torch.isfinite(profile[i]) and profile[i] == window.min() < window.max():
                minima.append(float(rev.mus[i]))
        out[d] = {
            "forward_mu": fwd.mu,
            "forward_sigma": fwd.sigma,
            "reverse_mu": rev.mu,
            "reverse_sigma": rev.sigma,
            "reverse_minima": minima,
        }
    return out


CHECKS = [
    ("vaelib.exercises.kl", "check_die_kl", die_kl),
    ("vaelib.exercises.kl", "check_kl_bits", kl_bits),
    ("vaelib.exercises.kl", "check_forward_fit", forward_fit),
    ("vaelib.exercises.kl", "check_fit_by_gradient", fit_by_gradient),
]
