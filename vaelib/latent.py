"""The latent space of a trained model: codes, their moments, grids, interpolations, and how
far decoded samples are from real images.

- ``encode_dataset(model, images)``: every image's code ``z`` (N, D); for a VAE, ``z = mu``,
  or ``(mu, logvar)`` with ``posterior=True``: the course's one encode-a-dataset loop.
- ``code_moments(z)``: the codes' mean (D,) and covariance (D, D).
- ``kl_to_standard_normal(mean, cov)``: ``KL(N(mean, cov) || N(0, I))`` in closed form, a
  single number saying how far the codes' moments are from the prior's.
- ``bounding_box(z)``, ``latent_grid(low, high, steps)``: a regular grid over the codes' box.
- ``fraction_inside_box(z, low, high)``: how many points land inside a box.
- ``empty_cell_fraction(z, low, high, steps)``: how much of a box the codes leave empty.
- ``interpolate(z0, z1, steps)``: the straight line from one code to another.
- ``nearest_distance(x, reference)``, ``mean_nearest_distance(x, reference)``: the Euclidean
  distance from each image (or code) to its nearest neighbour in a reference set, batched
  with ``torch.cdist``; the course's measure of how far samples are from real data.

The prior hole (prior mass where no code lies) is measured in one place, ``vaelib.holes``.
"""

from __future__ import annotations

import torch
from torch import nn

from vaelib import validate as check
from vaelib.data import to_float


def _check_images(images: torch.Tensor, name: str) -> None:
    """uint8 0..255 images, or float images in [0, 1]; other integers (int64 0..255) refused."""
    if isinstance(images, torch.Tensor) and images.dtype != torch.uint8:
        check.floating(images, name)
        check.unit_interval(images, name)


@torch.no_grad()
def encode_dataset(
    model: nn.Module,
    images: torch.Tensor,
    *,
    batch_size: int = 1024,
    posterior: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """The codes of a whole data set, float32 ``(N, D)`` on the CPU: the one encode loop.

    images: uint8 ``(N, 1, H, W)`` as ``load_dataset`` returns them, or floats in [0, 1].
    Batches go to the model's device. ``model.encode(x)`` returns ``z`` for an
    ``Autoencoder`` and ``(mu, logvar)`` for a ``VAE``: then the code is the mean ``mu``, or,
    with ``posterior=True``, the pair ``(mu, logvar)`` of ``q(z|x_n) = N(mu_n, diag
    exp(logvar_n))`` (each (N, D); an autoencoder, which has no posterior, is refused).
    The model's train/eval mode is restored afterwards.
    """
    check.integer(batch_size, "batch_size", 1, "rows per block")
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must have shape (N, C, H, W), got {shape}.")
    _check_images(images, "images")
    if images.dtype != torch.uint8:
        check.finite(images, "images")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    mus, logvars = [], []
    try:
        for start in range(0, images.shape[0], batch_size):
            x = images[start : start + batch_size].to(device)
            out = model.encode(to_float(x) if x.dtype == torch.uint8 else x.float())
            pair = isinstance(out, tuple) and len(out) == 2
            if posterior and not pair:
                raise ValueError(
                    f"model={type(model).__name__} encodes to one code, not (mu, logvar): it "
                    "has no posterior q(z|x); use encode_dataset(model, images) for its codes."
                )
            mus.append((out[0] if pair else out).float().cpu())  # a VAE's code: its mean mu
            if posterior:
                logvars.append(out[1].float().cpu())
    finally:
        model.train(was_training)
    return (torch.cat(mus), torch.cat(logvars)) if posterior else torch.cat(mus)


def code_moments(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` of the codes ``z`` ``(N, D)``, N >= 2:
    ``mean = sum_n z_n / N``, ``cov = sum_n (z_n - mean)(z_n - mean)^T / (N - 1)``."""
    check.codes(z)
    check.finite(z, "z")  # one nan code would turn the answer into nan or a wrong count
    if z.shape[0] < 2:
        raise ValueError(f"z has {z.shape[0]} code: a covariance needs at least 2 rows.")
    mean = z.mean(dim=0)
    centred = z - mean
    return mean, centred.T @ centred / (z.shape[0] - 1)


def kl_to_standard_normal(mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean, cov) || N(0, I))`` in nats, a scalar, for a full covariance:

    ``0.5 * (tr(cov) + mean^T mean - D - log det cov)``. It is 0 only for mean 0, cov I; the
    diagonal case is ``vaelib.kl.kl_gaussian(mean, log(diag(cov)))``. mean: (D,), cov: (D, D)
    symmetric positive definite (``code_moments`` gives both).
    """
    check.codes(mean.reshape(1, -1) if isinstance(mean, torch.Tensor) else mean, "mean")
    if mean.dim() != 1:
        raise ValueError(f"mean must have shape (D,), got {tuple(mean.shape)}.")
    d = mean.shape[0]
    if not isinstance(cov, torch.Tensor) or cov.shape != (d, d):
        shape = tuple(cov.shape) if isinstance(cov, torch.Tensor) else type(cov).__name__
        raise ValueError(f"cov must have shape (D, D) = ({d}, {d}) to match mean, got {shape}.")
    check.floating(cov, "cov"), check.finite(mean, "mean"), check.symmetric_psd(cov, "cov")
    chol, info = torch.linalg.cholesky_ex(cov.double())
    if int(info) != 0:
        raise ValueError(
            "cov is not positive definite: the codes lie on a lower-dimensional set; drop the "
            "dead dimensions or add a small multiple of the identity."
        )
    logdet = 2.0 * torch.log(torch.diagonal(chol)).sum()
    mean64 = mean.double()
    kl = 0.5 * (torch.trace(cov.double()) + mean64 @ mean64 - d - logdet)
    return kl.to(mean.dtype)


def bounding_box(z: torch.Tensor, margin: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The smallest box holding every code: ``(low, high)``, each ``(D,)``, widened on each
    side by ``margin`` times its width."""
    check.codes(z)
    check.finite(z, "z")  # one nan code would turn the answer into nan or a wrong count
    if check.number(margin, "margin") < 0:
        raise ValueError(f"margin must be non-negative (a fraction of the width), got {margin}.")
    low, high = z.min(dim=0).values, z.max(dim=0).values
    pad = margin * (high - low)
    return low - pad, high + pad


def fraction_inside_box(z: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> float:
    """The fraction of the points ``z`` ``(N, D)`` with ``low <= z <= high`` in every dimension."""
    check.codes(z)
    check.finite(z, "z")  # one nan code would turn the answer into nan or a wrong count
    inside = ((z >= low) & (z <= high)).all(dim=1)
    return float(inside.float().mean())


def empty_cell_fraction(
    z: torch.Tensor, low: torch.Tensor, high: torch.Tensor, steps: int
) -> float:
    """The fraction of the ``steps ** D`` equal cells of the box ``[low, high]`` that hold
    none of the codes ``z`` ``(N, D)``: the holes of the latent space, as a number.

    Cell of a code: ``floor(steps * (z - low) / (high - low))`` per dimension (the top edge
    belongs to the last cell); codes outside the box are ignored. 0 means every cell is used.
    """
    check.codes(z)
    check.finite(z, "z")  # one nan code would turn the answer into nan or a wrong count
    low = torch.as_tensor(low, dtype=z.dtype, device=z.device)
    high = torch.as_tensor(high, dtype=z.dtype, device=z.device)
    if low.shape != (z.shape[1],) or high.shape != (z.shape[1],):
        raise ValueError(
            f"low and high must have shape (D,) = ({z.shape[1]},) to match z, got "
            f"{tuple(low.shape)} and {tuple(high.shape)}."
        )
    steps = check.integer(steps, "steps", 1, "cells per side")
    if not bool((high > low).all()):
        raise ValueError(f"high must exceed low in every dimension, got {low} and {high}.")
    z = z[((z >= low) & (z <= high)).all(dim=1)]
    cell = (steps * (z - low) / (high - low)).floor().long().clamp(max=steps - 1)
    flat = (cell * steps ** torch.arange(z.shape[1], device=z.device)).sum(dim=1)
    return 1.0 - flat.unique().numel() / steps ** z.shape[1]


def latent_grid(
    low: torch.Tensor | tuple[float, float],
    high: torch.Tensor | tuple[float, float],
    steps: int,
) -> torch.Tensor:
    """A regular ``steps x steps`` grid over the 2-D box ``[low, high]``, float32 ``(steps^2, 2)``.

    Row-major in picture order: row r (top to bottom) has ``z_2`` going from ``high[1]`` down
    to ``low[1]``, column c has ``z_1`` from ``low[0]`` to ``high[0]``; so decoding it and
    showing ``image_grid(decoded, nrow=steps)`` matches a scatter plot of the codes.
    """
    low = torch.as_tensor(low, dtype=torch.float32).cpu()
    high = torch.as_tensor(high, dtype=torch.float32).cpu()
    if low.shape != (2,) or high.shape != (2,):
        raise ValueError(
            f"low and high must be 2-D corners (2,), got {tuple(low.shape)} and "
            f"{tuple(high.shape)}: a grid is drawn for a 2-D latent space only."
        )
    check.integer(steps, "steps", 2, "points per side")
    if not bool((high > low).all()):
        raise ValueError(f"high must exceed low in both dimensions, got {low} and {high}.")
    z1 = torch.linspace(float(low[0]), float(high[0]), steps)
    z2 = torch.linspace(float(high[1]), float(low[1]), steps)
    rows, cols = torch.meshgrid(z2, z1, indexing="ij")
    return torch.stack([cols.reshape(-1), rows.reshape(-1)], dim=1)


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` points on the segment from z0 to z1: ``z(t) = (1 - t) z0 + t z1`` for
    ``t = 0, 1/(steps-1), ..., 1``. z0, z1: (D,); returns (steps, D), first row z0, last z1."""
    if z0.shape != z1.shape or z0.dim() != 1:
        raise ValueError(
            f"z0 and z1 must be single codes of the same shape (D,), got {tuple(z0.shape)} and "
            f"{tuple(z1.shape)}: index one row, e.g. z[0]."
        )
    check.integer(steps, "steps", 2, "the two end points")
    t = torch.linspace(0.0, 1.0, steps, dtype=z0.dtype, device=z0.device).unsqueeze(1)
    return (1 - t) * z0 + t * z1


def _flat_float(x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() < 2 or x.shape[0] < 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a batch of shape (N, ...) with N >= 1, got {shape}.")
    if x.dtype != torch.uint8:  # int64 0..255 images are not scaled silently
        check.floating(x, name, half=True)
        check.finite(x, name, f"one nan row makes every distance to {name} nan: drop it.")
        if x.dim() == 4:  # images (N, C, H, W): pixels in [0, 1], as everywhere in vaelib
            check.unit_interval(x, name)
    x = to_float(x) if x.dtype == torch.uint8 else x.float()
    return x.reshape(x.shape[0], -1)


@torch.no_grad()
def nearest_distance(
    x: torch.Tensor,
    reference: torch.Tensor,
    *,
    batch_size: int = 256,
    reference_batch_size: int = 10_000,
) -> torch.Tensor:
    """For each row of x, the Euclidean distance to its nearest row of ``reference``:
    ``d_n = min_m ||x_n - r_m||_2``, returned as float32 ``(N,)`` on x's device.

    x: ``(N, ...)``, reference: ``(M, ...)`` with the same number of features after
    flattening: images (N, C, H, W) in [0, 1] (uint8 become [0, 1]; float 0..255 pixels and
    nan are refused) or codes (N, D), finite. Computed with ``torch.cdist`` in
    blocks of ``batch_size x reference_batch_size`` so 60,000 training images fit in memory.
    For images in [0, 1] of 784 pixels, ``d / 28`` is the root-mean-square pixel error.
    """
    check.integer(batch_size, "batch_size", 1, "rows per block")
    check.integer(reference_batch_size, "reference_batch_size", 1, "rows per block")
    x, reference = _flat_float(x, "x"), _flat_float(reference, "reference")
    if x.shape[1] != reference.shape[1]:
        raise ValueError(
            f"x has {x.shape[1]} features per row but reference has {reference.shape[1]}: "
            "compare images with images (same size) or codes with codes."
        )
    reference = reference.to(x.device)
    out = torch.empty(x.shape[0], device=x.device)
    for i in range(0, x.shape[0], batch_size):
        xb = x[i : i + batch_size]
        best = torch.full((xb.shape[0],), float("inf"), device=x.device)
        for j in range(0, reference.shape[0], reference_batch_size):
            d = torch.cdist(xb, reference[j : j + reference_batch_size])
            best = torch.minimum(best, d.min(dim=1).values)
        out[i : i + batch_size] = best
    return out


def mean_nearest_distance(
    x: torch.Tensor, reference: torch.Tensor, *, batch_size: int = 256
) -> float:
    """The course's sample-quality measure: the mean over the rows of x of the Euclidean
    distance to the nearest reference row, ``(1/N) sum_n min_m ||x_n - r_m||_2``.

    Lower is better: decoded samples that look like real images lie close to some training
    image. Compare two samplers on the same reference (e.g. N(0, I) codes against codes drawn
    from a mixture fitted to the data's codes); see ``nearest_distance`` for shapes.

    This is precision only: samples piled up in one crowded region score well. Swap the
    arguments, ``mean_nearest_distance(test_images, samples)``, for coverage (is every real
    image near some sample?); lesson 01 shows N(0, I) samples of an autoencoder doing well on
    the first and badly on the second.
    """
    return float(nearest_distance(x, reference, batch_size=batch_size).mean())


def subsample(z: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` rows of ``z`` (N, ...) drawn without replacement by a permutation seeded with
    ``seed``: ``z[randperm(N)[:n]]`` (all N rows, shuffled, when n >= N)."""
    count = check.rows(z, "z")
    n = check.integer(n, "n", 1, "rows to keep")
    seed = check.integer(seed, "seed", 0)
    return z[torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:n]]


@torch.no_grad()
def traverse(model: nn.Module, z0: torch.Tensor, dim: int, values: torch.Tensor) -> torch.Tensor:
    """A latent traversal: decode ``z0`` (D,) with dimension ``dim`` set to each of ``values``
    (K,), the others fixed: ``x_k = decode(z0 + (v_k - z0_dim) e_dim)``, float32 (K, 1, H, W)
    on the CPU (the model in eval mode, on its own device)."""
    check.floating(z0, "z0")
    if z0.dim() != 1:
        raise ValueError(f"z0 must be one code (D,), got {tuple(z0.shape)}: index a row, z[0].")
    dim = check.integer(dim, "dim", 0, "a latent dimension")
    if dim >= z0.shape[0]:
        raise ValueError(f"dim={dim} is not a dimension of z0, which has D = {z0.shape[0]}.")
    values = torch.as_tensor(values, dtype=z0.dtype).flatten()
    z = z0.detach().cpu().repeat(len(values), 1)
    z[:, dim] = values
    device = next(model.parameters()).device
    model.eval()
    return model.decode(z.to(device)).float().cpu()
