"""The data files of Fashion-MNIST (the course's default) and MNIST: finding, checking and
downloading them, and the command line ``python -m vaelib.datafiles [--name mnist] --ensure``.

``find_valid(name, split)`` reads the IDX files (``*-ubyte`` or ``*-ubyte.gz``) from, in order:

1. ``root`` if given, 2. ``$VAELIB_DATA`` (``runtime.data_dir()``), 3. the course's ``data/``
   folder, 4. the system folder (Debian's ``dataset-fashion-mnist`` installs
   ``/usr/share/datasets/fashion-mnist``),

each in a sub-folder named after the data set (``fashion-mnist/``, ``mnist/``, or
torchvision's ``FashionMNIST/raw/``, ``MNIST/raw/``), or in a folder so named; files lying
elsewhere are used only when their checksums are the data set's (so MNIST is never read from
Fashion-MNIST's files). Every file is checked against what the data set must be (IDX header,
28 x 28 images, 60,000/10,000 examples, labels 0..9); a broken folder is reported (a warning
naming the file and the problem) and skipped, and a ``VAELIB_DATA`` without the files warns.
``download`` tries torchvision's download into ``data/`` (not with ``VAELIB_NO_DOWNLOAD=1``);
``missing_data_message`` says what to install or set. ``vaelib.data.load_dataset`` uses all this.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np

from vaelib import runtime

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
ALIASES = {"fashion-mnist": ("fashion-mnist", "fashionmnist"), "mnist": ("mnist",)}
SIZES = {"train": 60_000, "test": 10_000}  # examples per split, both data sets
IMAGE_SHAPE = (28, 28)
# md5 of each file as released (gzipped: the original and Debian's recompressed copy) or of its
# content: files in a folder not named after a data set are used only when one matches.
KNOWN_MD5 = {
    "fashion-mnist": {
        "train-images-idx3-ubyte": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                                    "cf8536b0aa1a6ac5fa3f23001093305c",
                                    "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        "train-labels-idx1-ubyte": ("25c81989df183df01b3e8a0aad5dffbe",
                                    "10bea18fdb374794d4bb42e356e600c9",
                                    "9018921c3c673c538a1fc5bad174d6f9"),
        "t10k-images-idx3-ubyte": ("bef4ecab320f06d8554ea6380940ec79",
                                   "f78720b4224f21cce2f2ccf2d7a94c9a",
                                   "8181f5470baa50b63fa0f6fddb340f0a"),
        "t10k-labels-idx1-ubyte": ("bb300cfdad3c16e7a12a480ee83cd310",
                                   "0d30e22e447f3c33dab9ed536400ac01",
                                   "15d484375f8d13e6eb1aabb0c3f46965"),
    },
    "mnist": {  # the gzipped originals (as torchvision downloads them)
        "train-images-idx3-ubyte": ("f68b3c2dcbeaaa9fbdd348bbdeb94873",),
        "train-labels-idx1-ubyte": ("d53e105ee54ea40749a09fcbcd1e9432",),
        "t10k-images-idx3-ubyte": ("9fb629c4189551a2d022fa330f9573f3",),
        "t10k-labels-idx1-ubyte": ("ec29112dd5afa0611ce80d1b7f02629c",),
    },
}  # fmt: skip


def check_name(name: str) -> str:
    """The data set's key ("fashion-mnist" or "mnist") for any spelling of it."""
    key = name.lower().replace("_", "-")
    key = {"fashionmnist": "fashion-mnist"}.get(key, key)
    if key not in DATASETS:
        raise ValueError(
            f"name={name!r} is not a data set of the course: use one of {sorted(DATASETS)}."
        )
    return key


def check_split(split: str) -> str:
    """``split`` when it is "train" or "test"."""
    if split not in FILES:
        raise ValueError(f"split={split!r} is unknown: use 'train' or 'test'.")
    return split


def candidate_dirs(name: str, root: str | Path | None = None) -> list[Path]:
    """The folders searched for ``name``'s IDX files, in order (see the module docstring)."""
    name = check_name(name)
    dirs = []
    for base in _bases(root):
        dirs.append(base)
        dirs.extend(base / sub for sub in DATASETS[name]["folders"])
    dirs.append(Path(SYSTEM_DIRS[name]))
    return dirs


def _bases(root: str | Path | None) -> list[Path]:
    bases = [Path(root)] if root is not None else []
    if runtime.data_dir() is not None:
        bases.append(runtime.data_dir())
    bases.append(runtime.REPO_ROOT / "data")
    return bases


def names_dataset(folder: Path, name: str) -> bool:
    """True when ``folder`` is named after data set ``name``: ``fashion-mnist/``,
    ``FashionMNIST/raw/``, ``mnist/``, ``MNIST/raw/`` (case and ``_``/``-`` ignored), or is
    its system folder. Files elsewhere count only when their checksums are ``name``'s."""
    folder = Path(folder)
    if str(folder) == SYSTEM_DIRS[name]:
        return True
    own = folder.parent.name if folder.name == "raw" else folder.name
    return own.lower().replace("_", "-") in ALIASES[name]


def _find_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def find_files(name: str, split: str, root: str | Path | None = None) -> tuple[Path, Path] | None:
    """The (images, labels) files of ``name``/``split`` in the first folder that holds both
    (unchecked: ``load_split`` checks them), or None where no folder has both."""
    image_stem, label_stem = FILES[check_split(split)]
    for folder in candidate_dirs(name, root):
        images, labels = _find_file(folder, image_stem), _find_file(folder, label_stem)
        if images and labels:
            return images, labels
    return None


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gzipped or not) into a uint8 array of the shape its header gives.

    Any problem (unreadable, not gzip, truncated, not an unsigned-byte IDX file) raises a
    ValueError that names the file.
    """
    try:
        raw = _read_bytes(path)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(
            f"path={str(path)!r} cannot be read ({type(err).__name__}: {err or 'truncated'}): "
            "a partial or broken download; delete it and fetch the data again."
        ) from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"path={str(path)!r} is not an unsigned-byte IDX file.")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"path={str(path)!r} is truncated inside its header.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size < int(np.prod(shape)):
        raise ValueError(f"path={str(path)!r} is truncated: expected shape {shape}.")
    if data.size > int(np.prod(shape)):
        raise ValueError(
            f"path={str(path)!r} has {data.size - int(np.prod(shape))} bytes after the {shape} "
            "its header gives: not a clean IDX file; fetch it again."
        )
    return data.reshape(shape)


def _read_bytes(path: str | Path) -> bytes:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read()


def _md5(path: Path) -> tuple[str, str]:
    """md5 of the file as stored and of its content (decompressed when ``.gz``)."""
    stored = path.read_bytes()
    content = gzip.decompress(stored) if path.suffix == ".gz" else stored
    return hashlib.md5(stored).hexdigest(), hashlib.md5(content).hexdigest()


def _check_release(name: str, path: Path) -> None:
    """For files in a folder not named after ``name``: their checksum must be ``name``'s."""
    stem = path.name.removesuffix(".gz")
    known = KNOWN_MD5[name].get(stem, ())
    if not known or not set(_md5(path)) & set(known):
        raise ValueError(
            f"{path} is not a known release of {name} (its checksum matches none), and its folder "
            f"is not named after it: put {name}'s files in a folder named "
            f"{DATASETS[name]['folders'][0]}/ (or {DATASETS[name]['folders'][1]}/)."
        )


def load_split(
    name: str, split: str, images_path: str | Path, labels_path: str | Path
) -> tuple[np.ndarray, np.ndarray]:
    """Read and check one split's two IDX files against what data set ``name`` must be:
    images ``(SIZES[split], 28, 28)``, labels ``(SIZES[split],)`` in 0..9. A ValueError names
    the file and what is wrong (e.g. a labels file holding images)."""
    name, split = check_name(name), check_split(split)
    n = SIZES[split]
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim == 1 and labels.ndim == 3:
        raise ValueError(
            f"{images_path} holds labels and {labels_path} holds images: the two files are "
            "swapped; rename them."
        )
    if images.shape != (n, *IMAGE_SHAPE):
        raise ValueError(
            f"{images_path} holds shape {images.shape}, but {name}'s {split} images are "
            f"({n}, 28, 28): a different or partial data set; fetch the original files."
        )
    if labels.shape != (n,):
        what = "images, not labels" if labels.ndim == 3 else f"shape {labels.shape}"
        raise ValueError(
            f"{labels_path} holds {what}, but {name}'s {split} labels are ({n},): fetch the "
            "original labels file."
        )
    if labels.max() >= len(CLASSES[name]):
        raise ValueError(
            f"{labels_path} holds label {int(labels.max())}, but {name} has labels 0..9 only: "
            "a different or corrupt file; fetch the original."
        )
    return images, labels


def find_valid(
    name: str, split: str, root: str | Path | None = None
) -> tuple[tuple[np.ndarray, np.ndarray, Path] | None, list[str]]:
    """The first candidate folder whose files pass ``load_split`` (and, for a folder not
    named after ``name``, the checksums): ``((images, labels, folder), problems)``, with
    ``problems`` one line per broken folder skipped (also warned); ``(None, problems)`` when
    no folder serves."""
    name, split = check_name(name), check_split(split)
    image_stem, label_stem = FILES[split]
    _warn_if_env_has_nothing(name, split)
    problems = []
    for folder in dict.fromkeys(candidate_dirs(name, root)):  # in order, without repeats
        images_path, labels_path = _find_file(folder, image_stem), _find_file(folder, label_stem)
        if not (images_path and labels_path):
            continue
        try:
            if not names_dataset(folder, name):
                _check_release(name, images_path), _check_release(name, labels_path)
            images, labels = load_split(name, split, images_path, labels_path)
        except (ValueError, OSError) as err:
            problems.append(f"{folder}: {err}")
            warnings.warn(f"skipping {folder} for {name}: {err}", stacklevel=3)
            continue
        return (images, labels, folder), problems
    return None, problems


def _warn_if_env_has_nothing(name: str, split: str) -> None:
    base = runtime.data_dir()
    if base is None:
        return
    value = str(base)
    folders = [base, *(base / sub for sub in DATASETS[name]["folders"])]
    image_stem, label_stem = FILES[split]
    if any(_find_file(f, image_stem) and _find_file(f, label_stem) for f in folders):
        return
    state = "does not exist" if not base.exists() else f"holds no {name} {split} files"
    warnings.warn(
        f"VAELIB_DATA={value} {state} (looked in {', '.join(str(f) for f in folders)}): fix or "
        "unset VAELIB_DATA; searching the other folders.",
        stacklevel=4,
    )


def _network_allows(host: str = "ossci-datasets.s3.amazonaws.com", timeout: float = 3.0) -> bool:
    if not runtime.download_allowed():
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def download(name: str) -> str | None:
    """Download through torchvision into ``data/``: None on success, else why it could not."""
    if not runtime.download_allowed():
        return "the download is disabled (VAELIB_NO_DOWNLOAD=1)"
    if not _network_allows():
        return "no network: the download server cannot be reached"
    try:
        from torchvision import datasets

        dataset_cls = getattr(datasets, DATASETS[name]["tv"])
        for train in (True, False):
            dataset_cls(root=str(runtime.REPO_ROOT / "data"), train=train, download=True)
        return None
    except Exception as err:  # noqa: BLE001 - any failure means "no data"; the caller says so
        return f"the torchvision download failed ({type(err).__name__}: {err})"


def missing_data_message(name: str, problems: list[str] | None = None) -> str:
    searched = "\n  ".join(str(d) for d in dict.fromkeys(candidate_dirs(name)))
    broken = "".join(f"\nSkipped (broken): {p}" for p in problems or [])
    if name == "mnist":
        fix = (
            "Fix: no Debian package ships MNIST; where the network allows run "
            "`python -m vaelib.datafiles --name mnist --ensure` (torchvision downloads it into "
            "data/MNIST/raw), or put the four *-ubyte(.gz) files in a folder named mnist/ and "
            "set VAELIB_DATA to its parent (e.g. `export VAELIB_DATA=$HOME/datasets`)."
        )
    else:
        fix = (
            "Fix: on Debian/Ubuntu run `sudo apt-get install dataset-fashion-mnist`, "
            "or put the four *-ubyte(.gz) files in a folder named fashion-mnist/ and set "
            "VAELIB_DATA to its parent (e.g. `export VAELIB_DATA=$HOME/datasets`), or run "
            "`make data` where the network allows (torchvision download)."
        )
    return f"No usable {name} data found. Searched:\n  {searched}{broken}\n{fix}"


def _find_both(name: str) -> tuple[Path | None, list[str]]:
    (train, p1), (test, p2) = find_valid(name, "train"), find_valid(name, "test")
    return (train[2] if train and test else None), p1 + p2


def main(argv: list[str] | None = None) -> int:
    """``python -m vaelib.datafiles --ensure``: find the data, else get it: Debian's package (as
    root, Fashion-MNIST), then torchvision's download where the network allows."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--name", default="fashion-mnist")
    parser.add_argument(
        "--ensure", action="store_true", help="install or download the data if missing"
    )
    args = parser.parse_args(argv)
    name = check_name(args.name)
    folder, problems = _find_both(name)
    if folder is None and args.ensure:
        if name == "fashion-mnist" and shutil.which("apt-get") and os.geteuid() == 0:
            print("==> Fashion-MNIST not found: apt-get install -y dataset-fashion-mnist")
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "dataset-fashion-mnist"], check=False
            )
            folder, problems = _find_both(name)
        if folder is None:
            print(
                f"==> {name} not found: trying torchvision's download into {runtime.REPO_ROOT / 'data'}"
            )
            why_not = download(name)
            if why_not:
                print(f"==> no download: {why_not}", file=sys.stderr)
            folder, problems = _find_both(name)
    if folder is None:
        print(missing_data_message(name, problems), file=sys.stderr)
        return 1
    print(f"==> {name}: {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
