"""The prior hole: prior mass where no image's code lies. The course's ONE measure of it.

A VAE samples by decoding ``z ~ p(z)``; the decoder only learned the region where the
aggregate posterior ``q(z) = (1/N) sum_n q(z|x_n)`` puts mass. A *hole* is where ``q(z)`` is
thin: a prior draw there decodes from a region no training image was encoded to (Rezende and
Viola 2018; Tomczak and Welling 2018). The measure, used by lessons 06 and 08 alike:

1. Two disjoint subsets of the **training** images: a *reference* set R, whose posteriors
   ``q(z|x), x in R`` make ``q(z)`` (``aggregate_posterior_log_prob``), and a *threshold* set T.
2. One draw ``z ~ q(z|x)`` per image of T (never the means mu(x): lesson 07 shows that mu(x)
   alone is the wrong object). The threshold ``tau`` is the ``quantile`` (5 %) of ``log q(z)``
   over those draws: 95 % of real codes lie where ``q(z)`` is denser than ``tau``.
3. The hole fraction: the share of prior draws ``z ~ p(z)`` with ``log q(z) < tau``.

The one baseline convention: a prior equal to ``q(z)`` scores ``quantile`` (``expected``); a
fraction well above it means prior mass where no code lies. Test images are never used: the
measure describes the trained model's latent space, which is made of training codes.

(The distance of a decoded sample to its nearest training image, ``latent.nearest_distance``,
measures sample novelty, not holes.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from vaelib import validate as check
from vaelib.densities import log_normal_diag
from vaelib.latent import encode_dataset
from vaelib.reparam import reparameterize

QUANTILE = 0.05  # the course's one baseline: a prior equal to q(z) puts 5 % of draws in holes


@torch.no_grad()
def aggregate_posterior_log_prob(
    z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, chunk: int = 1024
) -> torch.Tensor:
    """``log q(z)`` of the aggregate posterior ``q(z) = (1/N) sum_n N(z; mu_n, diag exp(logvar_n))``.

    z: (M, D); mu, logvar: (N, D), the encoder's outputs for N (reference) images. Returns (M,):
    ``logsumexp_n log N(z; mu_n, ...) - log N``, computed ``chunk`` rows of z at a time.
    """
    check.posterior(mu, logvar)
    check.codes(z, "z", dim=mu.shape[1])
    chunk = check.integer(chunk, "chunk", 1, "rows of z per block")
    parts = [
        torch.logsumexp(log_normal_diag(zc[:, None], mu, logvar), dim=1) for zc in z.split(chunk)
    ]
    return torch.cat(parts) - math.log(mu.shape[0])


@dataclass(frozen=True)
class PriorHoles:
    """The prior-hole measure (``prior_holes``).

    fraction: the share of prior draws in a hole; in_hole: (P,) bool, one per prior draw;
    threshold: ``tau``, the ``quantile`` of ``log q(z)`` over the threshold set's draws;
    expected: what a prior equal to ``q(z)`` scores (= quantile); mu, logvar: (N, D), the
    reference posteriors that make ``q(z)`` (``in_holes`` needs them).
    """

    fraction: float
    in_hole: torch.Tensor
    threshold: float
    expected: float
    mu: torch.Tensor
    logvar: torch.Tensor

    def in_holes(self, z: torch.Tensor) -> torch.Tensor:
        """Whether each of the points z (M, D) lies in a hole: ``log q(z) < threshold``, (M,)."""
        return aggregate_posterior_log_prob(z, self.mu, self.logvar) < self.threshold


def prior_holes(
    z_prior: torch.Tensor,
    z_data: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    quantile: float = QUANTILE,
) -> PriorHoles:
    """The hole fraction of prior draws ``z_prior`` (P, D), from tensors.

    mu, logvar: (N, D), the reference images' posteriors (they make ``q(z)``); z_data: (M, D),
    one draw ``z ~ q(z|x)`` for each image of the threshold set, *other* training images than
    the reference ones. ``threshold = quantile_q(log q(z_data))`` and
    ``fraction = mean_p [log q(z_prior_p) < threshold]``; a prior equal to q(z) scores about
    ``quantile``. ``measure_prior_holes`` does the encoding and the split for a model.
    """
    quantile = check.number(quantile, "quantile", minimum=0, strict=True)
    if not quantile < 1:
        raise ValueError(f"quantile must lie in (0, 1), e.g. {QUANTILE}, got {quantile!r}.")
    check.posterior(mu, logvar)
    check.codes(z_prior, "z_prior", dim=mu.shape[1])
    check.codes(z_data, "z_data", dim=mu.shape[1])
    threshold = float(torch.quantile(aggregate_posterior_log_prob(z_data, mu, logvar), quantile))
    in_hole = aggregate_posterior_log_prob(z_prior, mu, logvar) < threshold
    return PriorHoles(float(in_hole.float().mean()), in_hole, threshold, quantile, mu, logvar)


@torch.no_grad()
def measure_prior_holes(
    model: nn.Module,
    z_prior: torch.Tensor,
    train_images: torch.Tensor,
    *,
    n_reference: int = 5000,
    n_threshold: int = 5000,
    seed: int = 0,
    quantile: float = QUANTILE,
) -> PriorHoles:
    """The course's prior-hole measure for a trained VAE and prior draws ``z_prior`` (P, D).

    train_images: the **training** images (uint8 (N, 1, H, W) as ``load_dataset`` gives them,
    or floats in [0, 1]). A permutation drawn with ``seed`` picks the reference set (the first
    ``n_reference``) and the threshold set (the next ``n_threshold``), disjoint; with fewer
    than ``n_reference + n_threshold`` images, the two halves. The threshold set's draws
    ``z ~ q(z|x)`` use a generator seeded with ``seed`` as well. Returns ``prior_holes(...)``.
    """
    n_reference = check.integer(n_reference, "n_reference", 1, "reference images")
    n_threshold = check.integer(n_threshold, "n_threshold", 1, "threshold images")
    seed = check.integer(seed, "seed", 0)
    n = check.rows(train_images, "train_images", 2)
    if n < n_reference + n_threshold:
        n_reference, n_threshold = n // 2, n - n // 2
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    reference = order[:n_reference]
    held = order[n_reference : n_reference + n_threshold]
    mu, logvar = encode_dataset(model, train_images[reference], posterior=True)
    mu_t, logvar_t = encode_dataset(model, train_images[held], posterior=True)
    z_data = reparameterize(mu_t, logvar_t, torch.Generator().manual_seed(seed))
    return prior_holes(z_prior.float().cpu(), z_data, mu, logvar, quantile)
