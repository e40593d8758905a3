"""Rate, distortion and posterior collapse (lesson 08): measures only (the losses that
fight collapse, beta warm-up and free bits, live in ``vaelib.losses``).

- rate ``R = E_x KL(q(z|x) || p(z))`` and distortion ``D = E_x E_q[-log p(x|z)]``, in nats:
  the two terms of ``losses.negative_elbo``; ``-ELBO = D + R`` and the beta-VAE minimises
  ``D + beta R``.
- per latent dimension, the rate ``KL_d = E_x 0.5 * (mu_d^2 + exp(logvar_d) - 1 - logvar_d)``
  (``kl_per_dimension``), and Burda et al.'s (2016) activity ``A_d = Cov_x(E_q[z_d]) =
  Var_x(mu_d)`` (``activity``).
- ``active_units(mu, threshold=0.01)``: Burda et al.'s count of active units, the dimensions
  with ``A_d > 0.01``. A dimension that is not active has *collapsed*: its posterior mean does
  not move with x, so it carries nothing about x, even where its variance differs from the
  prior's and its ``KL_d`` is not small (that KL is rate spent for nothing).
"""

from __future__ import annotations

import torch

from vaelib import validate as check
from vaelib.kl import kl_gaussian


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The KL to N(0, 1) of each latent dimension, averaged over images: (N, D) -> (D,).

    ``KL_d = (1/N) sum_n 0.5 * (mu_nd^2 + exp(logvar_nd) - 1 - logvar_nd)``; the rate is
    ``sum_d KL_d``.
    """
    check.posterior(mu, logvar)
    return kl_gaussian(mu.unsqueeze(-1), logvar.unsqueeze(-1)).mean(0)


def activity(mu: torch.Tensor) -> torch.Tensor:
    """Burda et al.'s (2016) activity of each dimension, ``A_d = Cov_x(E_q[z_d]) = Var_n(mu_nd)``
    (the unbiased sample variance over the N images): (N, D) -> (D,), N >= 2. A dimension whose
    mean does not move with x says nothing about x."""
    check.codes(mu, "mu", minimum=2)
    return mu.var(0)


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> int:
    """Burda et al.'s (2016, section 5.2) number of active units: the dimensions d whose
    posterior mean moves with x, ``A_d = Var_x(mu_d) > threshold`` (0.01 in the paper).

    mu: (N, D), the posterior means ``E_q[z|x_n]`` of N >= 2 images (the encoder's first
    output). Returns an int in 0..D. The per-dimension KL (``kl_per_dimension``) is the rate
    each dimension costs; it is not the count: a dimension with a fixed mean and a variance
    other than 1 costs nats and is not active.
    """
    threshold = check.number(threshold, "threshold", minimum=0, strict=True)
    return int((activity(mu) > threshold).sum())
