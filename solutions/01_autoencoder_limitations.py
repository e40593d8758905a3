"""Solutions to lesson 01's exercises (notebooks/01_autoencoder_limitations.ipynb).

Try each exercise first: its self-check tells you whether you are right and, if not, where to
look. Each solution is written out (no call to the vaelib function it re-implements, which the
check refuses) and says in its docstring why it is right.
"""

from __future__ import annotations

import torch


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """``z(t) = (1 - t) z0 + t z1`` for ``t = 0, 1/(steps - 1), ..., 1``; z0, z1 (D,) -> (steps, D).

    Why: ``torch.linspace(0, 1, steps)`` gives the ``steps`` values of t with both ends included;
    as a column ``t[:, None]`` of shape (steps, 1) it broadcasts against codes of shape (D,), so
    one line computes every point in any dimension, row 0 = z0 and the last row = z1.
    """
    t = torch.linspace(0, 1, steps, dtype=z0.dtype, device=z0.device)[:, None]  # (steps, 1)
    return (1 - t) * z0 + t * z1


def standardize(z: torch.Tensor) -> torch.Tensor:
    """``(z - mean) / std`` per dimension; z (N, D) -> (N, D).

    Why: the statistics over the N codes (``dim=0``) have shape (D,) and broadcast over the rows,
    so every column ends with mean 0 and standard deviation 1. It is an affine map: it moves and
    stretches the codes, and so it keeps every hole where it was (the open exercise measures it).
    """
    return (z - z.mean(dim=0)) / z.std(dim=0)


def _small_autoencoder(epochs: int = 3, seed: int = 0):
    """A 2-D ``models.Autoencoder`` trained for a few epochs on the fast subset (seconds on a
    CPU), in eval mode, with the fast train images, test images and test labels."""
    from vaelib import losses, models, train
    from vaelib.data import DeviceLoader, load_dataset

    torch.manual_seed(seed)
    train_images, _ = load_dataset("fashion-mnist", "train", fast=True)
    test_images, test_labels = load_dataset("fashion-mnist", "test", fast=True)
    model = models.Autoencoder(latent_dim=2)
    loader = DeviceLoader(train_images, batch_size=128, seed=seed)
    train.train(model, loader, losses.ae_loss, epochs=epochs, progress=False)
    return model.eval(), train_images, test_images, test_labels


def open_exercise_standardized_codes(epochs: int = 3, seed: int = 0) -> dict:
    """Exercise 3 (open): does matching two moments remove the holes?

    Trains a small 2-D autoencoder (``_small_autoencoder``), encodes the test images and
    measures the raw codes and the standardised ones (exercise 2's ``standardize``) as section
    7 does: (a) ``kl``, the KL of their fitted Gaussian from N(0, I); (b) ``empty_cells``, the
    share of empty cells of their own bounding box on the 15 x 15 grid; (c) ``tv``, the total
    variation between the class mix of 1000 N(0, I) draws (by the nearest code) and the data's.
    Returns ``{"raw": {...}, "standardized": {...}}``.

    What it shows: (a) should fall to nearly 0 (only the correlation between the two dimensions
    is left, which a per-dimension map does not remove); (b) cannot move at all: an affine map
    shifts and stretches the box and every cell with it, so an empty cell stays empty (the two
    numbers should be equal); (c) may move, but the N(0, I) draws should still not land on the
    classes in the data's proportions, since the codes' shape (arms, gaps, dense clusters) is
    not a Gaussian. What is left is the shape of the codes, which no change after training can
    fix: a VAE shapes the codes *during* training, its KL term pulling them towards the prior.
    """
    from vaelib import latent
    from vaelib.data import to_float

    model, _, test_images, test_labels = _small_autoencoder(epochs, seed)
    with torch.no_grad():
        z_test = model.encode(to_float(test_images))
    z_prior = torch.randn(1000, 2, generator=torch.Generator().manual_seed(seed))
    data_freq = torch.bincount(test_labels, minlength=10) / len(test_labels)
    out = {}
    for name, z in (("raw", z_test), ("standardized", standardize(z_test))):
        low, high = latent.bounding_box(z)
        nearest = torch.cdist(z_prior, z).argmin(dim=1)
        prior_freq = torch.bincount(test_labels[nearest], minlength=10) / len(z_prior)
        out[name] = {
            "kl": latent.kl_to_standard_normal(*latent.code_moments(z)).item(),
            "empty_cells": latent.empty_cell_fraction(z, low, high, steps=15),
            "tv": 0.5 * (prior_freq - data_freq).abs().sum().item(),
        }
    return out


def open_exercise_one_code_sampler(n: int = 300, epochs: int = 3, seed: int = 0) -> dict:
    """Exercise 4 (open): a sampler that decodes one code n times, against reconstructions.

    Trains a small 2-D autoencoder (``_small_autoencoder``: the fast subset, a few epochs), then
    computes section 7(d)'s three columns for two samplers: the reconstructions of n training
    images and ``n`` copies of the decoded ``z = 0``. Returns ``{sampler: {"quality",
    "coverage", "diversity"}}``.

    What it shows: the first column (distance to the nearest training image) only asks whether
    each sample looks like *some* training image, so one safe, blurry-average image repeated n
    times can score about as well as, or better than, varied samples. The other two columns
    expose it: its diversity (mean pairwise distance) is exactly 0, and coverage (test image to
    nearest sample) should be clearly worse, since one image cannot be near test images of all
    ten classes. Report a quality number together with a coverage or diversity number: one
    number alone can be gamed by collapsing onto a single output.
    """
    from vaelib import latent
    from vaelib.data import to_float

    model, train_images, test_images, _ = _small_autoencoder(epochs, seed)
    with torch.no_grad():
        sets = {
            "reconstructions": model(to_float(train_images[:n])),
            "one code": model.decode(torch.zeros(n, 2)),
        }
    return {
        name: {
            "quality": latent.mean_nearest_distance(x, train_images),
            "coverage": latent.mean_nearest_distance(test_images[:n], x),
            "diversity": torch.pdist(x.flatten(1)).mean().item(),
        }
        for name, x in sets.items()
    }


CHECKS = [
    ("vaelib.exercises.ae", "check_interpolate", interpolate),
    ("vaelib.exercises.ae", "check_standardize", standardize),
]
