"""Fashion-MNIST (the course's default) and MNIST as tensors: loading, subsets, the one
train/validation split, and the fast batcher.

- ``load_dataset(name, split)``: images uint8 ``(N, 1, 28, 28)`` and labels int64 ``(N,)``,
  from the files ``vaelib.datafiles`` finds and checks (or downloads);
- ``stratified_subset``: the fixed class-balanced subset of fast mode;
- ``train_validation_split``: the course's one split of the training images into a training
  and a validation part (test images are only ever scored);
- ``to_float``: uint8 0..255 to float32 in [0, 1];
- ``DeviceLoader``: shuffled mini-batches of a data set kept on the device.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from vaelib import datafiles
from vaelib import validate as check
from vaelib.datafiles import CLASSES
from vaelib.runtime import fast_mode

__all__ = ["CLASSES", "FAST_SIZES", "DeviceLoader", "Split", "load_dataset", "stratified_subset",
           "to_float", "train_validation_split"]  # fmt: skip
# Fast mode: a fixed, class-balanced subset (the first n/10 images of each class).
FAST_SIZES = {"train": 3000, "test": 1000}


def stratified_subset(labels: torch.Tensor, n: int) -> torch.Tensor:
    """Indices of a fixed, class-balanced subset: the first ``n // C`` of each of C classes.

    labels: (N,) int; returns sorted indices (M,), M = C * (n // C) when every class has enough.
    """
    if labels.dim() != 1:
        raise ValueError(f"labels must have shape (N,), got {tuple(labels.shape)}.")
    classes = torch.unique(labels)
    per_class = n // len(classes)
    if per_class < 1:
        raise ValueError(f"n={n} is smaller than the number of classes ({len(classes)}).")
    picks = [torch.nonzero(labels == c).flatten()[:per_class] for c in classes]
    return torch.sort(torch.cat(picks)).values


def load_dataset(
    name: str = "fashion-mnist",
    split: str = "train",
    *,
    root: str | Path | None = None,
    fast: bool | None = None,
    download: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a data set as tensors.

    Returns ``images`` uint8 ``(N, 1, 28, 28)`` (0 = background, 255 = ink) and ``labels``
    int64 ``(N,)``. ``fast=None`` follows ``runtime.fast_mode()`` (pass ``lesson.fast``); fast
    mode keeps a fixed, class-balanced subset of ``FAST_SIZES[split]`` images. The files are
    found and checked by ``vaelib.datafiles`` (which folders, in which order: see there); with
    ``download`` it tries torchvision's download where none serves.
    """
    name, split = datafiles.check_name(name), datafiles.check_split(split)
    found, problems = datafiles.find_valid(name, split, root)
    if found is None and download and datafiles.download(name) is None:
        found, problems = datafiles.find_valid(name, split, root)
    if found is None:
        raise FileNotFoundError(datafiles.missing_data_message(name, problems))
    images = torch.from_numpy(found[0].copy()).unsqueeze(1)
    labels = torch.from_numpy(found[1].astype(np.int64))
    if fast_mode() if fast is None else fast:
        keep = stratified_subset(labels, FAST_SIZES[split])
        images, labels = images[keep], labels[keep]
    return images, labels


class Split(NamedTuple):
    """Indices into the training images: ``train`` (fit on these) and ``validation`` (choose
    and estimate on these: mixtures, K, thresholds, reference sets), disjoint, each sorted."""

    train: torch.Tensor
    validation: torch.Tensor


def train_validation_split(labels: torch.Tensor, n_validation: int, seed: int = 0) -> Split:
    """The course's ONE split of the training images into a training and a validation part.

    labels: (N,) int, the training labels (``load_dataset(name, "train")[1]``: the 60,000, or
    the fast subset). Stratified: each class c of the N_c images gives ``n_validation * N_c / N``
    images (rounded down; the remainder goes to the classes with the largest fractions, then the
    lowest labels) to the validation part, picked by a permutation drawn with ``seed``; the rest
    is the training part. The test images are never in it: they are only ever scored.
    Returns ``Split(train, validation)``, int64 indices, disjoint, together all of 0..N-1.
    """
    check.tensor(labels, "labels")
    if labels.dim() != 1 or labels.is_floating_point():
        raise ValueError(f"labels must be integer class labels (N,), got {labels.dtype} "
                         f"{tuple(labels.shape)}: pass load_dataset(...)[1].")  # fmt: skip
    n = labels.shape[0]
    n_validation = check.integer(n_validation, "n_validation", 1, "validation images")
    seed = check.integer(seed, "seed", 0)
    if n_validation >= n:
        raise ValueError(
            f"n_validation={n_validation} must be below the number of training images ({n}): "
            "keep images to train on."
        )
    classes, counts = torch.unique(labels, return_counts=True)
    exact = counts.double() * n_validation / n
    take = exact.floor().long()
    short = n_validation - int(take.sum())
    order = sorted(range(len(classes)), key=lambda i: (-(exact[i] - take[i]).item(), i))
    for i in order[:short]:
        take[i] += 1
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c, k in zip(classes.tolist(), take.tolist(), strict=True):
        members = torch.nonzero(labels == c).flatten()
        picks.append(members[torch.randperm(len(members), generator=g)[:k]])
    validation = torch.sort(torch.cat(picks)).values
    keep = torch.ones(n, dtype=torch.bool)
    keep[validation] = False
    return Split(torch.nonzero(keep).flatten(), validation)


def shared_images(a: torch.Tensor, b: torch.Tensor) -> int:
    """How many images of ``a`` (N, ...) occur, pixel for pixel, in ``b`` (M, ...): the check that
    what a lesson fits on (``a``) and what it scores (``b``) share no image. Compares the images'
    bytes, so pass both as ``load_dataset`` gives them (uint8), before any scaling or binarising.
    Fashion-MNIST's train and test splits share none (0 of 10,000 test images), so a fit that
    leaked test images would be counted here.
    """
    check.tensor(a, "a"), check.tensor(b, "b")
    if a.dtype != b.dtype or a.shape[1:] != b.shape[1:] or a.dim() < 2:
        raise ValueError(
            f"a {a.dtype} {tuple(a.shape)} and b {b.dtype} {tuple(b.shape)} must be batches of "
            "images of one dtype and shape (N, C, H, W): pass both as load_dataset gives them."
        )
    seen = {bytes(row) for row in b.cpu().contiguous().flatten(1).numpy()}
    return sum(bytes(row) in seen for row in a.cpu().contiguous().flatten(1).numpy())


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, 1, H, W)`` in 0..255 to float32 in [0, 1] (on the images' device)."""
    if images.dtype != torch.uint8:
        raise ValueError(f"images must be uint8 (as load_dataset returns), got {images.dtype}.")
    return images.float().div_(255.0)


class DeviceLoader:
    """Shuffled mini-batches of a whole data set kept as one float tensor on the device.

    The fast path: one host-to-device copy up front, then every batch is an index slice of
    that tensor (no per-sample Python, no PIL, no worker processes). Iterating yields
    ``x`` of shape ``(B, 1, H, W)`` in [0, 1]; with ``binarize=True`` each epoch draws fresh
    binary pixels ``x ~ Bernoulli(intensity)`` (dynamic binarisation).
    """

    def __init__(
        self,
        images: torch.Tensor,
        batch_size: int = 128,
        *,
        shuffle: bool = True,
        device: str | torch.device = "cpu",
        seed: int = 0,
        drop_last: bool = False,
        binarize: bool = False,
    ) -> None:
        check.integer(batch_size, "batch_size", None)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        check.tensor(images, "images")
        if images.dim() != 4:
            raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}.")
        if images.dtype != torch.uint8:
            check.floating(images, "images")  # int64 0..255 would pass unscaled
        self.x = to_float(images.to(device)) if images.dtype == torch.uint8 else images.to(device)
        check.unit_interval(  # nan too: once here, so training needs no per-batch check
            self.x, "images", "images must be uint8 or floats in [0, 1]: divide by 255 first"
        )
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.binarize = binarize
        self.generator = torch.Generator().manual_seed(seed)
        self.device_generator = torch.Generator(device=self.x.device).manual_seed(seed)

    def __len__(self) -> int:
        n = self.x.shape[0]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[torch.Tensor]:
        for _, x in self.batches():
            yield x

    def batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of ``(rows, x)``: the batch's row indices (B,) and its images; the one
        home of the shuffle and the binarisation (``classifier.LabeledLoader`` adds labels)."""
        n = self.x.shape[0]
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.x.device)
        else:
            order = torch.arange(n, device=self.x.device)
        for i in range(len(self)):
            rows = order[i * self.batch_size : (i + 1) * self.batch_size]
            x = self.x[rows]
            if self.binarize:
                x = torch.bernoulli(x, generator=self.device_generator)
            yield rows, x
