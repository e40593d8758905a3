"""``python benchmarks/bench.py``: the usual data pipeline against vaelib's, on the same VAE.

Both pipelines train the classic 784-400-20 MLP VAE (Adam, lr 1e-3, batch 128, Fashion-MNIST)
from the same initial weights for the same number of epochs:

(a) the usual pipeline, as in pytorch/examples ``vae/main.py``: torchvision's
    ``datasets.FashionMNIST(transform=ToTensor())`` + ``DataLoader(shuffle=True,
    num_workers=0)``, a ``.to(device)`` per batch, the deck's loss on the sigmoid outputs
    (``F.binary_cross_entropy(x_hat, x, reduction="sum") + KL``) and ``loss.item()`` per batch;
(b) vaelib's path: the whole data set on the device once (``DeviceLoader``: batches are index
    slices, no PIL, no per-sample Python, no collate), the same loss computed stably from the
    logits (``vaelib.losses.negative_elbo``), ``vaelib.train.train`` (no host sync per
    batch), fused Adam, bf16 autocast where it measured faster (``--amp auto``: CPUs with
    native bf16) and optionally ``torch.compile`` (``--compile``).

It prints one JSON object: each pipeline's seconds per epoch (the fastest of ``--repeats``
runs), the ratio a/b, and each one's test loss (the negative ELBO per image, one z per image,
evaluated the same way for both).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn import functional as F

from vaelib.data import DeviceLoader, find_files, load_dataset
from vaelib.kl import kl_gaussian
from vaelib.models import VAE
from vaelib.runtime import pick_device
from vaelib.train import evaluate_loss, train, vae_loss_fn


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _cpu_name() -> str:
    try:  # Linux: the model name, e.g. "AMD EPYC 9R14"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def torchvision_root(name: str = "fashion-mnist") -> Path:
    """A temp folder laid out as torchvision expects: ``root/FashionMNIST/raw/`` with the
    unpacked IDX files that ``vaelib.data.find_files`` found (torchvision's own check refuses
    Debian's recompressed ``.gz`` files: their md5 differs)."""
    root = Path(tempfile.mkdtemp(prefix="vaelib-bench-"))
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "test"):
        files = find_files(name, split)
        if files is None:
            raise FileNotFoundError(f"no {name} {split} files: run `make data` first.")
        for path in files:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rb") as src, open(raw / path.name.removesuffix(".gz"), "wb") as dst:
                shutil.copyfileobj(src, dst)
    return root


def run_usual(
    device: torch.device, epochs: int, batch_size: int, seed: int, limit: int | None
) -> tuple[VAE, float]:
    """Pipeline (a); returns the trained model and its seconds per epoch."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    root = torchvision_root()
    try:
        dataset = datasets.FashionMNIST(
            str(root), train=True, download=False, transform=transforms.ToTensor()
        )
        if limit is not None:
            dataset = Subset(dataset, range(min(limit, len(dataset))))
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=True,
            num_workers=0,
            pin_memory=device.type == "cuda",
            generator=torch.Generator().manual_seed(seed),
        )
        torch.manual_seed(seed)
        model = VAE().to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()
        _sync(device)
        start = time.perf_counter()
        for _ in range(epochs):
            train_loss = 0.0
            for x, _ in loader:
                x = x.to(device)
                x_hat, mu, logvar = model(x)
                loss = (
                    F.binary_cross_entropy(x_hat, x, reduction="sum")
                    + kl_gaussian(mu, logvar).sum()
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                train_loss += loss.item()
        _sync(device)
        seconds = (time.perf_counter() - start) / epochs
    finally:
        shutil.rmtree(root, ignore_errors=True)
    model.eval()
    return model, seconds


def _autocast_loss(loss_fn: Callable, device: torch.device, amp: bool) -> Callable:
    if not amp:
        return loss_fn

    def wrapped(model, x):
        with torch.autocast(device.type, dtype=torch.bfloat16):
            return loss_fn(model, x)

    return wrapped


def run_vaelib(
    device: torch.device,
    epochs: int,
    batch_size: int,
    seed: int,
    limit: int | None,
    *,
    amp: bool = False,
    compile_model: bool = False,
) -> tuple[VAE, float]:
    """Pipeline (b); returns the trained model and its seconds per epoch (the one copy of the
    data set to the device included)."""
    images, _ = load_dataset("fashion-mnist", "train", fast=False)
    if limit is not None:
        images = images[:limit]
    torch.manual_seed(seed)
    model = VAE().to(device)
    fused = device.type in ("cpu", "cuda")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused or None)
    step_model = torch.compile(model) if compile_model else model
    loss_fn = _autocast_loss(vae_loss_fn, device, amp)
    _sync(device)
    start = time.perf_counter()
    loader = DeviceLoader(images, batch_size, device=device, seed=seed)
    train(step_model, loader, loss_fn, epochs=epochs, optimizer=optimizer, progress=False)
    _sync(device)
    seconds = (time.perf_counter() - start) / epochs
    return model, seconds


def negative_elbo_on_test(model: VAE, device: torch.device, seed: int, limit: int | None) -> float:
    """Negative ELBO per test image (nats), one z per image, the same noise for every model."""
    images, _ = load_dataset("fashion-mnist", "test", fast=False)
    if limit is not None:
        images = images[:limit]
    loader = DeviceLoader(images, 1000, shuffle=False, device=device)
    torch.manual_seed(seed)
    return evaluate_loss(model, loader, vae_loss_fn)["loss"]


def benchmark(
    device: str | torch.device | None = None,
    epochs: int = 1,
    batch_size: int = 128,
    seed: int = 0,
    limit: int | None = None,
    amp: bool = False,
    compile_model: bool = False,
    repeats: int = 3,
) -> dict:
    """Run both pipelines and return the JSON-ready result (see the module docstring).

    Each pipeline trains ``repeats`` times from the same initial weights, a and b in turn (so
    a burst of load from elsewhere hits both); its seconds per epoch is the fastest run, as
    ``timeit`` reports (other processes only ever add time). ``limit`` keeps only the first
    ``limit`` train and test images (for a quick check).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}.")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1 or None (the whole data set), got {limit}.")
    device = pick_device(str(device) if device is not None else None)
    runs_a, runs_b = [], []
    for _ in range(repeats):
        model_a, seconds = run_usual(device, epochs, batch_size, seed, limit)
        runs_a.append(seconds)
        model_b, seconds = run_vaelib(
            device, epochs, batch_size, seed, limit, amp=amp, compile_model=compile_model
        )
        runs_b.append(seconds)
    seconds_a, seconds_b = min(runs_a), min(runs_b)
    loss_a = negative_elbo_on_test(model_a, device, seed, limit)
    loss_b = negative_elbo_on_test(model_b, device, seed, limit)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return {
        "device": device.type,
        "device_name": name or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "model": "VAE 784-400-20 (Adam, lr 1e-3)",
        "epochs": epochs,
        "batch_size": batch_size,
        "train_images": limit or 60000,
        "repeats": repeats,
        "a": {
            "pipeline": "torchvision FashionMNIST + ToTensor + DataLoader(num_workers=0) + .to",
            "seconds_per_epoch": seconds_a,
            "seconds_per_epoch_runs": runs_a,
            "test_loss": loss_a,
        },
        "b": {
            "pipeline": "vaelib DeviceLoader + train (fused Adam, logits BCE)",
            "amp_bf16": amp,
            "compile": compile_model,
            "seconds_per_epoch": seconds_b,
            "seconds_per_epoch_runs": runs_b,
            "test_loss": loss_b,
        },
        "ratio_a_over_b": seconds_a / seconds_b,
        "test_loss_relative_diff_b_vs_a": (loss_b - loss_a) / loss_a,
    }


def default_amp(device: str | torch.device | None) -> bool:
    """bf16 autocast by default only where it measured faster: CPUs with native bf16 matrix
    instructions (AVX512-BF16/AMX; 2x the fp32 matmul rate, measured). On a GPU it stays off:
    not measured yet, and a model this small is expected to be bound by kernel launches."""
    device = pick_device(str(device) if device is not None else None)
    return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/bench.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: GPU if any)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per pipeline; the fastest is reported"
    )
    parser.add_argument("--limit", type=int, default=None, help="use the first N images only")
    parser.add_argument(
        "--amp",
        choices=("auto", "on", "off"),
        default="auto",
        help="bf16 autocast for pipeline (b); auto: on for CPUs with native bf16 (measured "
        "faster there, see docs/benchmarks.md), off elsewhere",
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile for (b)")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    args = parser.parse_args(argv)
    with contextlib.redirect_stdout(None) if args.json else contextlib.nullcontext():
        result = benchmark(
            args.device, args.epochs, args.batch_size, args.seed, args.limit,
            default_amp(args.device) if args.amp == "auto" else args.amp == "on", args.compile,
            args.repeats,
        )  # fmt: skip
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
