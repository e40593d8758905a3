"""``python benchmarks/bench.py``: the lessons' training loop against its compute floor.

For each model of ``--models`` (recipes of ``vaelib.train.RECIPES``), in the same run:

- **loop**: ``vaelib.train.train`` exactly as ``train_or_load`` runs it: ``DeviceLoader`` over
  the training images (the data set copied to the device once, shuffled index slices), the
  recipe's batch size and learning rate, ``fast_adam``, bf16 autocast where
  ``default_amp`` says so, a progress bar, the history summed on the device. Seconds per
  epoch, the loader's construction included.
- **floor**: the same model, loss, optimizer and autocast, one forward + backward + optimizer
  step on one pre-loaded batch, repeated for an epoch's steps: an epoch with no data pipeline
  and no bookkeeping. ``loop_over_floor`` is loop / floor (target: at most 1.25).

For the MLP VAE it also times **usual**, the pipeline of pytorch/examples ``vae/main.py``:
torchvision's ``FashionMNIST(transform=ToTensor())`` + ``DataLoader(shuffle=True,
num_workers=0)``, a ``.to(device)`` per batch, the deck's loss on the sigmoid outputs,
``torch.optim.Adam`` and ``loss.item()`` per batch (same model, seed and learning rate), and
``usual_over_loop``. Each model's test loss (per image, one z per image, the same noise) says
that the faster path trains as well.

With ``--library`` it also times what the lessons compute beside training: the IWAE estimate
(``vaelib.evaluate.iwae_log_likelihood``) for several k and BIC curves (``vaelib.bic``).

Every variant runs ``--repeats`` times, in turn (a burst of load from elsewhere hits all of
them); the fastest run is reported, as ``timeit`` does (other processes only ever add time),
and every run is in ``runs``. One JSON object is printed (``--json``: only that).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from vaelib import train as T
from vaelib.data import DeviceLoader, load_dataset
from vaelib.datafiles import find_files
from vaelib.runtime import bf16_matmul_supported, cpu_name, pick_device

MODELS = {"mlp": "vae_mlp_latent20", "conv": "vae_conv_latent20", "ae": "ae_latent2"}
COMPILE_MODES = ("off", "default", "reduce-overhead", "max-autotune")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def machine(device: torch.device) -> dict:
    """What the timings were measured on."""
    info = {
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_native_bf16": bf16_matmul_supported(),
        "torch": torch.__version__,
    }
    with contextlib.suppress(OSError):
        info["load_average_1min"] = os.getloadavg()[0]
    return info


def torchvision_root(name: str = "fashion-mnist") -> Path:
    """A temp folder laid out as torchvision expects: ``root/FashionMNIST/raw/`` with the
    unpacked IDX files that ``vaelib.datafiles.find_files`` found (torchvision's own check refuses
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


class _Clock:
    """Seconds per epoch since construction: wall clock, and CPU time of this process (all its
    threads). On a machine shared with other work, CPU time is the steadier of the two."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        _sync(device)
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def per_epoch(self, epochs: int) -> tuple[float, float]:
        _sync(self.device)
        return (time.perf_counter() - self.wall) / epochs, (time.process_time() - self.cpu) / epochs


def _fresh(recipe: T.Recipe, device: torch.device, seed: int) -> tuple[nn.Module, Callable]:
    torch.manual_seed(seed)
    model, loss_fn = T.build_model(recipe)
    return model.to(device), loss_fn


def _maybe_compile(loss_fn: Callable, mode: str) -> Callable:
    """``torch.compile`` of the loss function, which runs the model (its ``encode`` and
    ``decode_logits``: compiling the module alone would compile only ``forward``); the backward
    pass is compiled with it. ``reduce-overhead`` adds CUDA graphs on a GPU."""
    return loss_fn if mode == "off" else torch.compile(loss_fn, mode=mode)


def time_loop(
    recipe: T.Recipe, images: torch.Tensor, device: torch.device, epochs: int, seed: int,
    amp: bool, compile_mode: str,
) -> tuple[nn.Module, tuple[float, float]]:  # fmt: skip
    """The lessons' loop, as ``train_or_load`` runs it; returns the model, (wall, CPU) s/epoch.
    The data set's one copy to the device is timed apart (``data_to_device``): it is paid once
    per lesson, not per epoch."""
    model, loss_fn = _fresh(recipe, device, seed)
    loss_fn = _maybe_compile(loss_fn, compile_mode)
    loader = DeviceLoader(
        images, recipe.batch_size, device=device, seed=seed, binarize=recipe.binarize
    )
    clock = _Clock(device)
    with contextlib.redirect_stderr(io.StringIO()):  # the progress bar draws, out of sight
        T.train(model, loader, loss_fn, epochs=epochs, lr=recipe.lr, amp=amp, desc="bench")
    return model, clock.per_epoch(epochs)


def time_floor(
    recipe: T.Recipe, images: torch.Tensor, device: torch.device, epochs: int, seed: int,
    amp: bool, compile_mode: str,
) -> tuple[float, float]:  # fmt: skip
    """The same training step on one pre-loaded batch, an epoch's steps: (wall, CPU) s/epoch."""
    model, loss_fn = _fresh(recipe, device, seed)
    loss_fn = _maybe_compile(loss_fn, compile_mode)
    model.train()
    optimizer = T.fast_adam(model, recipe.lr)
    x = DeviceLoader(images[: recipe.batch_size], recipe.batch_size, device=device).x
    if recipe.binarize:
        x = torch.bernoulli(x)
    steps = epochs * -(-images.shape[0] // recipe.batch_size)
    clock = _Clock(device)
    for _ in range(steps):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            terms = loss_fn(model, x)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()
    return clock.per_epoch(epochs)


def time_usual(
    recipe: T.Recipe, device: torch.device, epochs: int, seed: int, limit: int | None
) -> tuple[nn.Module, tuple[float, float]]:
    """pytorch/examples ``vae/main.py``'s pipeline on the same model: model, (wall, CPU) s/epoch."""
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
            dataset, batch_size=recipe.batch_size, shuffle=True, num_workers=0,
            pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(seed),
        )  # fmt: skip
        model, _ = _fresh(recipe, device, seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
        model.train()
        clock = _Clock(device)
        for _ in range(epochs):
            train_loss = 0.0
            for x, _ in loader:
                x = x.to(device)
                x_hat, mu, logvar = model(x)
                loss = F.binary_cross_entropy(x_hat, x, reduction="sum") - 0.5 * torch.sum(
                    1 + logvar - mu.pow(2) - logvar.exp()
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                train_loss += loss.item()
        seconds = clock.per_epoch(epochs)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    model.eval()
    return model, seconds


def eval_test_loss(
    model: nn.Module, loss_fn: Callable, device: torch.device, seed: int, limit
) -> float:
    """The loss per test image (nats), one z per image, the same noise for every model."""
    images, _ = load_dataset("fashion-mnist", "test", fast=False)
    loader = DeviceLoader(images[:limit], 1000, shuffle=False, device=device)
    torch.manual_seed(seed)
    return T.evaluate_loss(model, loader, loss_fn)["loss"]


def bench_model(
    name: str, device: torch.device, *, epochs: int, seed: int, limit: int | None, amp: bool,
    compile_mode: str, repeats: int, usual: bool,
) -> dict:  # fmt: skip
    """Loop, floor (and usual) for ``RECIPES[name]``, timed in turn ``repeats`` times."""
    recipe = T.RECIPES[name]
    images, _ = load_dataset(recipe.dataset, "train", fast=False)
    images = images[:limit]
    runs: dict[str, list[tuple[float, float]]] = {"loop": [], "floor": [], "usual": []}
    for _ in range(repeats):
        model, seconds = time_loop(recipe, images, device, epochs, seed, amp, compile_mode)
        runs["loop"].append(seconds)
        runs["floor"].append(time_floor(recipe, images, device, epochs, seed, amp, compile_mode))
        if usual:
            usual_model, seconds = time_usual(recipe, device, epochs, seed, limit)
            runs["usual"].append(seconds)

    def timing(part: str) -> dict:
        return {
            "seconds_per_epoch": min(wall for wall, _ in runs[part]),
            "runs": [wall for wall, _ in runs[part]],
            "cpu_seconds_per_epoch": min(cpu for _, cpu in runs[part]),
        }

    loss_fn = T.build_model(recipe)[1]
    clock = _Clock(device)
    DeviceLoader(images, recipe.batch_size, device=device, seed=seed, binarize=recipe.binarize)
    result = {
        "recipe": recipe.kind,
        "batch_size": recipe.batch_size,
        "lr": recipe.lr,
        "steps_per_epoch": -(-images.shape[0] // recipe.batch_size),
        "loop": {
            **timing("loop"),
            "test_loss": eval_test_loss(model, loss_fn, device, seed, limit),
        },
        "floor": timing("floor"),
        "data_to_device_seconds": clock.per_epoch(1)[0],
    }
    result["loop_over_floor"] = (
        result["loop"]["seconds_per_epoch"] / result["floor"]["seconds_per_epoch"]
    )
    result["loop_over_floor_cpu"] = (
        result["loop"]["cpu_seconds_per_epoch"] / result["floor"]["cpu_seconds_per_epoch"]
    )
    if usual:
        result["usual"] = {
            "pipeline": "torchvision FashionMNIST + ToTensor + DataLoader(num_workers=0) + .to, "
            "BCE on sigmoid outputs, torch.optim.Adam, loss.item() per batch",
            **timing("usual"),
            "test_loss": eval_test_loss(usual_model, loss_fn, device, seed, limit),
        }
        result["usual_over_loop"] = (
            result["usual"]["seconds_per_epoch"] / result["loop"]["seconds_per_epoch"]
        )
    return result


def _best_of(fn: Callable[[], object], repeats: int, device: torch.device) -> dict:
    """The fastest of ``repeats`` calls: wall seconds and CPU seconds (see ``_Clock``)."""
    times = []
    for _ in range(repeats):
        clock = _Clock(device)
        fn()
        times.append(clock.per_epoch(1))
    return {"seconds": min(w for w, _ in times), "cpu_seconds": min(c for _, c in times)}


def bench_library(
    device: torch.device, seed: int, repeats: int, n_test: int = 1000, n_codes: int = 10_000,
    ks: tuple[int, ...] = (1, 5, 10, 20, 40), iwae_ks: tuple[int, ...] = (1, 10, 100, 1000),
) -> dict:  # fmt: skip
    """Seconds for the IWAE estimate on ``n_test`` test images for each of ``iwae_ks`` (an
    untrained model: the cost does not depend on the weights) and for BIC curves over ``ks``
    on ``n_codes`` random codes (2-D and 20-D, one EM start per k)."""
    from vaelib import bic, evaluate
    from vaelib.data import to_float

    images, _ = load_dataset("fashion-mnist", "test", fast=False)
    x = to_float(images[:n_test]).to(device)
    out: dict = {"iwae": {"test_images": n_test, "likelihood": "continuous_bernoulli"}}
    for name in ("vae_mlp_latent20", "vae_conv_latent20"):
        model, _ = _fresh(T.RECIPES[name], device, seed)
        model.eval()
        seconds = {}
        for k in iwae_ks:
            g = torch.Generator(device=device).manual_seed(seed)
            seconds[str(k)] = _best_of(
                lambda m=model, k=k, g=g: evaluate.iwae_log_likelihood(
                    m, x, k, likelihood="continuous_bernoulli", generator=g
                ),
                repeats if k < 1000 else 1,
                device,
            )
        out["iwae"][name] = {"seconds_by_k": seconds}  # k: {"seconds", "cpu_seconds"}
    rng = torch.Generator().manual_seed(seed)
    out["bic"] = {}
    for d in (2, 20):
        z = torch.randn(n_codes, d, generator=rng)
        seconds = _best_of(lambda z=z: bic.bic_curve(z, list(ks), "full", 1, seed), 1, device)
        out["bic"][f"d={d}"] = {"codes": n_codes, "ks": list(ks), "n_init": 1, **seconds}
    return out


def benchmark(
    device: str | torch.device | None = None,
    models: tuple[str, ...] = ("mlp",),
    epochs: int = 1,
    seed: int = 0,
    limit: int | None = None,
    amp: bool | None = None,
    compile_mode: str = "off",
    repeats: int = 3,
    usual: bool = True,
    library: bool = False,
    library_images: int = 1000,
) -> dict:
    """Run the benchmark and return the JSON-ready result (see the module docstring).

    ``models``: keys of ``MODELS``; ``amp=None`` follows ``vaelib.train.default_amp``;
    ``limit`` keeps only the first ``limit`` train and test images (for a quick check).
    """
    for name, value in (("repeats", repeats), ("epochs", epochs)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}.")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1 or None (the whole data set), got {limit}.")
    unknown = sorted(set(models) - set(MODELS))
    if unknown or not (models or library):
        raise ValueError(f"models={models!r}: choose from {sorted(MODELS)}.")
    if compile_mode not in COMPILE_MODES:
        raise ValueError(f"compile_mode={compile_mode!r}: choose from {COMPILE_MODES}.")
    device = pick_device(str(device) if device is not None else None)
    amp = T.default_amp(device) if amp is None else amp
    result = {
        "machine": machine(device),
        "epochs": epochs,
        "repeats": repeats,
        "train_images": limit or 60_000,
        "amp_bf16": amp,
        "compile": compile_mode,
        "models": {},
    }
    for key in models:
        result["models"][MODELS[key]] = bench_model(
            MODELS[key], device, epochs=epochs, seed=seed, limit=limit, amp=amp,
            compile_mode=compile_mode, repeats=repeats, usual=usual and key == "mlp",
        )  # fmt: skip
    if library:
        result["library"] = bench_library(device, seed, repeats, library_images)
    return result


def summary(result: dict) -> str:
    """The lines ``make bench`` prints above the JSON."""
    m = result["machine"]
    lines = [
        f"{m['device_name']} ({m['device']}, {m['threads']} threads, torch {m['torch']}), "
        f"bf16 autocast {'on' if result['amp_bf16'] else 'off'}, compile {result['compile']}"
    ]
    for name, r in result["models"].items():
        lines.append(
            f"{name}: training loop {r['loop']['seconds_per_epoch']:.2f} s/epoch, floor "
            f"{r['floor']['seconds_per_epoch']:.2f} s/epoch, loop/floor "
            f"{r['loop_over_floor']:.2f} (target <= 1.25; CPU time {r['loop_over_floor_cpu']:.2f}); "
            f"test loss {r['loop']['test_loss']:.2f}"
        )
        if "usual" in r:
            lines.append(
                f"{name}: usual pipeline {r['usual']['seconds_per_epoch']:.2f} s/epoch "
                f"({r['usual_over_loop']:.1f}x the loop); test loss {r['usual']['test_loss']:.2f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/bench.py", description=__doc__.split("\n\n")[0].strip("`")
    )
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: GPU if any)")
    parser.add_argument(
        "--models",
        default="mlp",
        help=f"comma-separated, from {sorted(MODELS)}, or 'all' or 'none' (with --library)",
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5, help="runs each; the fastest counts")
    parser.add_argument("--limit", type=int, default=None, help="use the first N images only")
    parser.add_argument(
        "--amp", choices=("auto", "on", "off"), default="auto",
        help="bf16 autocast; auto: vaelib.train.default_amp (on for CPUs with native bf16)",
    )  # fmt: skip
    parser.add_argument("--compile", choices=COMPILE_MODES, default="off", help="torch.compile")
    parser.add_argument("--no-usual", action="store_true", help="skip the usual pipeline")
    parser.add_argument("--library", action="store_true", help="also time IWAE and BIC")
    parser.add_argument(
        "--library-images", type=int, default=1000, help="test images for the IWAE timing"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    named = {"all": tuple(MODELS), "none": ()}
    models = named[args.models] if args.models in named else tuple(args.models.split(","))
    amp = None if args.amp == "auto" else args.amp == "on"
    with contextlib.redirect_stdout(io.StringIO()):  # checkpoint messages etc.: not the JSON
        result = benchmark(
            args.device, models, args.epochs, args.seed, args.limit, amp, args.compile,
            args.repeats, not args.no_usual, args.library, args.library_images,
        )  # fmt: skip
    if args.json:
        print(json.dumps(result))
    else:
        print(summary(result))
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
