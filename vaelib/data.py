"""Fashion-MNIST (the course's default) and MNIST, read from local files, and the fast batcher.

``load_dataset`` returns the images as one uint8 tensor ``(N, 1, 28, 28)`` and the labels as
int64 ``(N,)``. It reads the IDX files (``*-ubyte`` or ``*-ubyte.gz``) from, in order:

1. ``root`` if given, 2. ``$VAELIB_DATA``, 3. the course's ``data/`` folder,
4. the system folder (Debian's ``dataset-fashion-mnist`` installs
   ``/usr/share/datasets/fashion-mnist``),

each either holding the files directly or in a sub-folder named after the data set
(``fashion-mnist/``, ``mnist/``, or torchvision's ``FashionMNIST/raw/``, ``MNIST/raw/``).
If none has them, it tries torchvision's download into ``data/``; where that fails too it
raises one ``FileNotFoundError`` that says what to install or set.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from vaelib import validate as check
from vaelib.runtime import fast_mode

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASETS = {
    "fashion-mnist": {"folders": ("fashion-mnist", "FashionMNIST/raw"), "tv": "FashionMNIST"},
    "mnist": {"folders": ("mnist", "MNIST/raw"), "tv": "MNIST"},
}
SYSTEM_DIRS = {
    "fashion-mnist": "/usr/share/datasets/fashion-mnist",
    "mnist": "/usr/share/datasets/mnist",
}
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CLASSES = {
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "mnist": tuple(str(d) for d in range(10)),
}  # fmt: skip
# Fast mode: a fixed, class-balanced subset (the first n/10 images of each class).
FAST_SIZES = {"train": 3000, "test": 1000}


def _check_name(name: str) -> str:
    key = name.lower().replace("_", "-")
    key = {"fashionmnist": "fashion-mnist"}.get(key, key)
    if key not in DATASETS:
        raise ValueError(
            f"name={name!r} is not a data set of the course: use one of {sorted(DATASETS)}."
        )
    return key


def _check_split(split: str) -> str:
    if split not in FILES:
        raise ValueError(f"split={split!r} is unknown: use 'train' or 'test'.")
    return split


def candidate_dirs(name: str, root: str | Path | None = None) -> list[Path]:
    """The folders searched for ``name``'s IDX files, in order (see the module docstring)."""
    name = _check_name(name)
    bases = [Path(root)] if root is not None else []
    if os.environ.get("VAELIB_DATA"):
        bases.append(Path(os.environ["VAELIB_DATA"]))
    bases.append(REPO_ROOT / "data")
    dirs = []
    for base in bases:
        dirs.append(base)
        dirs.extend(base / sub for sub in DATASETS[name]["folders"])
    dirs.append(Path(SYSTEM_DIRS[name]))
    return dirs


def _find_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def find_files(name: str, split: str, root: str | Path | None = None) -> tuple[Path, Path] | None:
    """The (images, labels) files of ``name``/``split``, or None where no folder has both."""
    image_stem, label_stem = FILES[_check_split(split)]
    for folder in candidate_dirs(name, root):
        images, labels = _find_file(folder, image_stem), _find_file(folder, label_stem)
        if images and labels:
            return images, labels
    return None


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gzipped or not) into a uint8 array of the shape its header gives."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"path={str(path)!r} is not an unsigned-byte IDX file.")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"path={str(path)!r} is truncated: expected shape {shape}.")
    return data.reshape(shape)


def _network_allows(host: str = "ossci-datasets.s3.amazonaws.com", timeout: float = 3.0) -> bool:
    if os.environ.get("VAELIB_NO_DOWNLOAD", "0") == "1":
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _download(name: str) -> bool:
    """Download through torchvision into ``data/``; True on success, False when it cannot."""
    if not _network_allows():
        return False
    try:
        from torchvision import datasets

        dataset_cls = getattr(datasets, DATASETS[name]["tv"])
        for train in (True, False):
            dataset_cls(root=str(REPO_ROOT / "data"), train=train, download=True)
        return True
    except Exception:  # noqa: BLE001 - any failure means "no data"; the caller says what to do
        return False


def missing_data_message(name: str) -> str:
    searched = "\n  ".join(str(d) for d in candidate_dirs(name))
    return (
        f"No {name} data found. Searched:\n  {searched}\n"
        "Fix: on Debian/Ubuntu run `sudo apt-get install dataset-fashion-mnist`, "
        "or put the four *-ubyte(.gz) files in a folder and set VAELIB_DATA to it "
        f"(e.g. `export VAELIB_DATA=$HOME/datasets/{name}`)."
    )


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
    int64 ``(N,)``. ``fast=None`` follows ``fast_mode()``; fast mode keeps a fixed,
    class-balanced subset of ``FAST_SIZES[split]`` images.
    """
    name, split = _check_name(name), _check_split(split)
    files = find_files(name, split, root)
    if files is None and download and _download(name):
        files = find_files(name, split, root)
    if files is None:
        raise FileNotFoundError(missing_data_message(name))
    images = torch.from_numpy(read_idx(files[0]).copy()).unsqueeze(1)
    labels = torch.from_numpy(read_idx(files[1]).astype(np.int64))
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{files[0]} and {files[1]} hold different numbers of examples.")
    if fast_mode() if fast is None else fast:
        keep = stratified_subset(labels, FAST_SIZES[split])
        images, labels = images[keep], labels[keep]
    return images, labels


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
        n = self.x.shape[0]
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.x.device)
        else:
            order = torch.arange(n, device=self.x.device)
        for i in range(len(self)):
            x = self.x[order[i * self.batch_size : (i + 1) * self.batch_size]]
            if self.binarize:
                x = torch.bernoulli(x, generator=self.device_generator)
            yield x


def main(argv: list[str] | None = None) -> int:
    """``python -m vaelib.data --ensure``: find the data, or install Debian's package as root."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--name", default="fashion-mnist")
    parser.add_argument(
        "--ensure", action="store_true", help="install the Debian package if missing"
    )
    args = parser.parse_args(argv)
    name = _check_name(args.name)
    found = find_files(name, "train") and find_files(name, "test")
    if (
        not found
        and args.ensure
        and name == "fashion-mnist"
        and shutil.which("apt-get")
        and os.geteuid() == 0
    ):
        print("==> Fashion-MNIST not found: apt-get install -y dataset-fashion-mnist")
        subprocess.run(["apt-get", "install", "-y", "-qq", "dataset-fashion-mnist"], check=False)
        found = find_files(name, "train") and find_files(name, "test")
    if not found:
        print(missing_data_message(name), file=sys.stderr)
        return 1
    print(f"==> {name}: {found[0].parent}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
