"""``python benchmarks/convergence.py``: is every lesson model trained to its plateau?

Each lesson recipe (``vaelib.train.RECIPES``) is trained once for 3x its full-mode epochs, from
its own seed, and its test loss is measured twice on the way: after the lesson's ``epochs``
and after ``3 * epochs``. Both numbers come from one run because the loop is deterministic
given the seed (the loader's shuffling and binarisation draw from their own generators, and
the measurement in between saves and restores torch's global random state), so the first is
exactly what the lesson's own run reaches and the second what 3x the training would reach.

The test loss is the negative ELBO per test image for a VAE (beta = 1 whatever beta trained
it; one z ~ q(z|x) per image with a fixed generator; the one-sample Monte Carlo KL for a model
with a learned prior) and the BCE per test image for an autoencoder, both in nats. A recipe
trained on binarised images is scored on the test images binarised once (seed 0), as lessons
06 and 08 do. Test images are only scored, never fitted.

Writes ``docs/convergence.json`` (``--out``)::

    {"recipes": {name: {"epochs", "test_neg_elbo", "test_neg_elbo_3x", "gap",
                        "within_tolerance", "seconds"}},
     "tolerance_nats": 1.5, "machine": {...}}

``--every K --train-to M`` also records the test loss every K epochs up to epoch M (``curve``):
the loop is deterministic with a constant learning rate, so the curve's loss at n epochs is what
an n-epoch run ends at, and one long run tells which epochs a recipe needs to be within the
tolerance of 3x them (``plateau_epochs``). After changing a recipe's epochs to a point of its
curve, ``--from-curves`` rewrites its record there without training (``at_epochs``). A recipe
with a beta warm-up (a share of its epochs) has no curve: measure it at the epochs in question.

``make convergence`` runs it. It trains every recipe for 3x its epochs: on 2 idle CPU cores
that is several times the course's own training time, so run it on a quiet machine
(``nice`` it on a shared one). ``--recipes a,b`` measures a few and merges them into an
existing ``--out`` file; the exit status is 1 when a measured recipe is more than
``--tolerance`` nats from its 3x run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import torch

from vaelib import hierarchical, losses, priors, runtime, train
from vaelib.data import DeviceLoader, load_dataset, to_float
from vaelib.evaluate import binarize
from vaelib.models import decode_logits

REPO_ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1.5  # nats: a recipe is at its plateau when 3x the epochs gains less than this
# Recipes that only an exercise trains (lesson 06's convolutional VAE) are left out by default.
EXERCISE_ONLY = ("vae_conv_latent20",)
# Lesson 10's recipes train on (x, y) batches or with a codebook, and have their own check
# (benchmarks/lesson10_plateau.py), which measures them the same way.
OWN_CHECK = ("classifier", "cvae_mlp_latent20", "lesson10_vae", "vqvae_mlp")
PRIOR_COMPONENTS = 25  # a learned mixture prior's components (lesson 08 picks K by BIC)


def lesson_recipes() -> list[str]:
    """The names of the recipes the lessons train in full mode."""
    return [name for name in train.RECIPES if name not in EXERCISE_ONLY + OWN_CHECK]


@torch.no_grad()
def test_loss(model: torch.nn.Module, recipe: train.Recipe, x_test: torch.Tensor) -> float:
    """Mean test loss in nats per image: -ELBO (beta = 1) for a VAE, the BCE for an autoencoder.

    ``x_test`` ``(N, 1, 28, 28)`` in [0, 1] on the model's device (already binarised for a
    recipe trained on binarised images).
    """
    model.eval()
    generator = torch.Generator(device=x_test.device).manual_seed(0)
    total = 0.0
    for x in x_test.split(1000):
        if recipe.kind == "ae":
            terms = losses.ae_loss(model, x)
            total += float(terms["recon"]) * len(x)
            continue
        if recipe.kind == "hvae_mlp":  # lesson 11's two-level VAE: its own ELBO
            total += float(hierarchical.negative_elbo(model, x, generator).loss.sum())
            continue
        mu, logvar = model.encode(x)
        eps = torch.randn(mu.shape, generator=generator, device=x.device)
        z = mu + torch.exp(0.5 * logvar) * eps
        prior = getattr(model, "prior", None)
        extra = {} if prior is None else {"z": z, "log_prior": prior.log_prob}
        logits = decode_logits(model, z, x)  # lesson 11's autoregressive decoder reads x too
        terms = losses.negative_elbo(x, logits, mu, logvar, **extra)
        total += float(terms.loss.sum())
    return total / len(x_test)


def measure(
    name: str,
    device: torch.device,
    seed: int = 0,
    fast: bool = False,
    epochs: int | None = None,
    every: int = 0,
    train_to: int = 0,
    decay: float = 0.0,
) -> dict:
    """Train ``RECIPES[name]`` for 3x its epochs; its test loss at 1x and at 3x the epochs.

    ``fast=True`` uses fast mode's data subset and ``fast_epochs`` (a smoke test, not a
    measurement); ``epochs`` overrides the recipe's (to try other epochs before changing it).
    ``every=K`` also measures the test loss every K epochs, into ``result["curve"]``
    (``{epoch: loss}``), and ``train_to=M`` (>= 3x the epochs) trains on to epoch M. The loop is
    deterministic and the learning rate constant, so the curve's loss at epoch n is what a run of
    n epochs ends at, and ``curve[n] - curve[3n]`` is the plateau gap n epochs would have: one
    run tells which epochs a recipe needs. Not for a recipe with a warm-up, whose length is a
    share of the epochs (ValueError).

    ``decay=F`` (0 < F <= 1) is a trial of another schedule, not of the lesson's: the learning
    rate falls linearly to near 0 over the last F of the epochs (``decayed_lr``). The 1x and 3x
    runs are then two runs, each from the seed, each with its own schedule.
    """
    recipe = train.RECIPES[name]
    if epochs is None:
        epochs = recipe.fast_epochs if fast else recipe.epochs
    train_to = train_to or 3 * epochs
    if train_to < 3 * epochs:
        raise ValueError(f"train_to={train_to} must be at least 3x epochs = {3 * epochs}")
    if every < 0:
        raise ValueError(f"every={every} must be a positive number of epochs (or 0: no curve)")
    if (every or train_to > 3 * epochs) and recipe.warmup_fraction > 0:
        raise ValueError(
            f"{name} warms beta up over a share of its epochs, so a longer run is not its "
            "continuation: measure it without every and train_to, at the epochs in question"
        )
    if decay and not (0 < decay <= 1 and not every and train_to == 3 * epochs):
        raise ValueError(
            f"decay={decay} must be in (0, 1], without every or train_to (a decayed run "
            "ends where its schedule does: it has no curve)"
        )
    if decay:
        return _measure_decayed(name, device, seed, fast, epochs, decay)
    stops = {epochs, 3 * epochs, train_to} | (
        set(range(every, train_to + 1, every)) if every else set()
    )
    loader, model, loss_fn, optimizer = _start(recipe, device, seed, fast, epochs)
    x_test = _test_images(recipe, device, fast)
    start = time.perf_counter()
    result = {"epochs": epochs}
    curve: dict[int, float] = {}
    done = 0
    for stop in sorted(stops):
        train.train(model, loader, loss_fn, epochs=stop - done, optimizer=optimizer, progress=False)
        done = stop
        state = torch.get_rng_state()  # the measurement must not move the training's noise
        curve[stop] = round(test_loss(model, recipe, x_test), 3)
        torch.set_rng_state(state)
        model.train()
    result["test_neg_elbo"], result["test_neg_elbo_3x"] = curve[epochs], curve[3 * epochs]
    _finish(result, recipe, start)
    if every:
        result["curve"] = {str(n): loss for n, loss in curve.items()}
        result["train_to"] = train_to
    return result


def _start(recipe: train.Recipe, device: torch.device, seed: int, fast: bool, epochs: int):
    """The loader, untrained model, loss and optimiser of a recipe's run from ``seed``.

    A learned prior starts as a mixture of PRIOR_COMPONENTS diagonal Gaussians (the lesson
    starts it from a BIC fit; here only the epochs are in question). A warm-up lasts its
    recipe's share of ``epochs`` (the lesson's); a 3x run keeps it and trains on at full beta.
    """
    images, _ = load_dataset(recipe.dataset, "train", fast=fast)
    loader = DeviceLoader(images, recipe.batch_size, device=device, seed=seed,
                          binarize=recipe.binarize)  # fmt: skip
    torch.manual_seed(seed)
    prior = None
    if recipe.prior is not None:
        prior = priors.MixturePrior(PRIOR_COMPONENTS, recipe.latent_dim, seed=seed)
    warmup_steps = int(recipe.warmup_fraction * epochs * len(loader))
    model, loss_fn = train.build_model(recipe, prior=prior, warmup_steps=warmup_steps)
    model = model.to(device)
    return loader, model, loss_fn, train.fast_adam(model, recipe.lr)


def _test_images(recipe: train.Recipe, device: torch.device, fast: bool) -> torch.Tensor:
    """The test images a recipe is scored on, ``(N, 1, 28, 28)``: binarised once (seed 0) for
    a binarised recipe."""
    test_images, _ = load_dataset(recipe.dataset, "test", fast=fast)
    x_test = to_float(test_images).to(device)
    if recipe.binarize:
        x_test = binarize(x_test, generator=torch.Generator(device=device).manual_seed(0))
    return x_test


def _finish(result: dict, recipe: train.Recipe, start: float) -> None:
    """Completes a record holding ``test_neg_elbo`` and ``test_neg_elbo_3x``: the gap, whether it
    is within the tolerance, the seconds since ``start`` and the recipe's settings."""
    _judge(result)
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["recipe"] = asdict(recipe)


def _judge(result: dict, tolerance: float = TOLERANCE) -> dict:
    """Sets a record's ``gap`` (``test_neg_elbo - test_neg_elbo_3x``, nats) and whether it is
    ``within_tolerance``, ``|gap| <= tolerance`` (a negative gap: the longer run ends worse on
    the test images, which is no plateau either when it is large); returns the record."""
    result["gap"] = round(result["test_neg_elbo"] - result["test_neg_elbo_3x"], 3)
    result["within_tolerance"] = bool(abs(result["gap"]) <= tolerance)
    return result


def decayed_lr(lr: float, epoch: int, epochs: int, decay: float) -> float:
    """The learning rate of epoch ``epoch`` (0-based) of ``epochs`` when it falls linearly over
    the last ``D = max(1, round(decay * epochs))`` of them: ``lr * min(1, (epochs - epoch) / D)``
    (``lr`` until then, ``lr / D`` in the last epoch)."""
    span = max(1, round(decay * epochs))
    return lr * min(1.0, (epochs - epoch) / span)


def _measure_decayed(
    name: str, device: torch.device, seed: int, fast: bool, epochs: int, decay: float
) -> dict:
    """``measure(..., decay=F)``: two runs from the seed, of ``epochs`` and ``3 * epochs``, each
    with its learning rate decayed over its last F (``decayed_lr``); the test loss of each."""
    recipe = train.RECIPES[name]
    x_test = _test_images(recipe, device, fast)
    start = time.perf_counter()
    result: dict = {"epochs": epochs, "lr_decay": decay}
    for key, total in (("test_neg_elbo", epochs), ("test_neg_elbo_3x", 3 * epochs)):
        loader, model, loss_fn, optimizer = _start(recipe, device, seed, fast, epochs)
        for epoch in range(total):
            for group in optimizer.param_groups:
                group["lr"] = decayed_lr(recipe.lr, epoch, total, decay)
            train.train(model, loader, loss_fn, epochs=1, optimizer=optimizer, progress=False)
        result[key] = round(test_loss(model, recipe, x_test), 3)
    _finish(result, recipe, start)
    return result


def plateau_epochs(curve: dict[int, float], tolerance: float = TOLERANCE) -> int | None:
    """The fewest epochs n of a measured curve (``{epoch: test loss}``, from ``every``) from
    which on every plateau gap ``curve[m] - curve[3m]`` (m >= n, both m and 3m on the curve) is
    at most ``tolerance`` nats either way (as ``_judge``), or None when the last one is not. "From which on", not "at": the
    test loss scatters from one epoch to the next at a constant learning rate (``scatter``), so
    a single gap can pass by luck."""
    gaps = {n: curve[n] - curve[3 * n] for n in sorted(curve) if 3 * n in curve}
    first = None
    for n, gap in gaps.items():
        if abs(gap) > tolerance:
            first = None
        elif first is None:
            first = n
    return first


def scatter(curve: dict[int, float], last: float = 1 / 3) -> float:
    """How much the test loss moves between consecutive points of the curve's ``last`` share
    (nats): the median of |curve[n_i+1] - curve[n_i]|, where training has all but stopped
    gaining, so what is left is the loss's noise at a constant learning rate."""
    epochs = sorted(curve)
    tail = [n for n in epochs if n >= epochs[-1] * (1 - last)]
    steps = sorted(abs(curve[b] - curve[a]) for a, b in itertools.pairwise(tail))
    if not steps:
        raise ValueError(f"curve needs two points in its last {last:.0%}: it has {epochs}")
    middle = len(steps) // 2
    return steps[middle] if len(steps) % 2 else (steps[middle - 1] + steps[middle]) / 2


def at_epochs(record: dict, epochs: int, tolerance: float = TOLERANCE) -> dict:
    """The record ``measure`` would write at ``epochs``, read off ``record``'s curve (no
    training: the curve's loss at n is what a run of n epochs ends at). ValueError when the
    curve lacks ``epochs`` or ``3 * epochs``."""
    curve = record.get("curve", {})
    missing = [n for n in (epochs, 3 * epochs) if str(n) not in curve]
    if missing:
        raise ValueError(
            f"the curve has no epoch {missing} (it has {sorted(map(int, curve))}): measure "
            f"the recipe with --every and --train-to at least {3 * epochs}"
        )
    one, three = curve[str(epochs)], curve[str(3 * epochs)]
    return _judge({
        **record,
        "epochs": epochs, "test_neg_elbo": one, "test_neg_elbo_3x": three,
        "recipe": {**record["recipe"], "epochs": epochs},
        "read_off_curve_from": record.get("read_off_curve_from", record["epochs"]),
    }, tolerance)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--recipes", default="", help="comma-separated names (default: every lesson recipe)"
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "convergence.json")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE)
    parser.add_argument(
        "--fast", action="store_true", help="smoke test: fast mode's subset and epochs"
    )
    parser.add_argument("--epochs", type=int, default=None, help="override the recipes' epochs")
    parser.add_argument(
        "--every", type=int, default=0, help="also measure every K epochs (the curve)"
    )
    parser.add_argument(
        "--train-to", type=int, default=0, help="train on to epoch M (>= 3x epochs) for the curve"
    )
    parser.add_argument(
        "--decay",
        type=float,
        default=0.0,
        help="a schedule trial: the learning rate falls linearly over the last share F of each run",
    )
    parser.add_argument(
        "--from-curves",
        action="store_true",
        help="no training: rewrite each named record at its recipe's epochs from its curve",
    )
    args = parser.parse_args(argv)
    names = [n for n in args.recipes.split(",") if n] or lesson_recipes()
    unknown = sorted(set(names) - set(train.RECIPES))
    if unknown:
        parser.error(f"--recipes names no recipe: {unknown}; use some of {sorted(train.RECIPES)}")
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs={args.epochs} must be at least 1")
    if args.every < 0 or args.train_to < 0:
        parser.error(f"--every={args.every} and --train-to={args.train_to} must not be negative")
    if not (0 <= args.decay <= 1) or (args.decay and (args.every or args.train_to)):
        parser.error(f"--decay={args.decay} must be in [0, 1], without --every or --train-to")
    if not math.isfinite(args.tolerance) or args.tolerance <= 0:
        parser.error(f"--tolerance={args.tolerance} must be a positive number of nats")
    report = json.loads(args.out.read_text()) if args.out.exists() else {}
    report.setdefault("recipes", {})
    if args.from_curves:
        return from_curves(report, names, args.out, args.tolerance)
    device = runtime.pick_device()
    for name in names:
        report["recipes"][name] = measure(
            name,
            device,
            fast=args.fast,
            epochs=args.epochs,
            every=args.every,
            train_to=args.train_to,
            decay=args.decay,
        )
        print(json.dumps({name: report["recipes"][name]}), file=sys.stderr)
        if args.every:
            curve = {int(n): loss for n, loss in report["recipes"][name]["curve"].items()}
            try:
                noise = f"{scatter(curve):.2f} nats"
            except ValueError:  # too few points late in the curve
                noise = "an unknown amount (too few points)"
            first = plateau_epochs(curve, args.tolerance)
            where = f"from {first} epochs on" if first else "at no point of the curve"
            print(f"{name}: the gaps to 3x the epochs are within {args.tolerance} nats {where}; "
                  f"the test loss scatters by {noise} between points", file=sys.stderr)  # fmt: skip
        report.update(
            tolerance_nats=args.tolerance,
            fast=args.fast,
            date=datetime.now().isoformat(timespec="seconds"),
            machine={"cpu": runtime.cpu_name(), "device": device.type, "torch": torch.__version__},
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")  # after each recipe: resumable
    return verdict(report, names, args.tolerance)


def verdict(report: dict, names: list[str], tolerance: float) -> int:
    """The exit status: 1 when a named record is more than ``tolerance`` nats from its 3x run,
    either way (``_judge``; each such one said on stderr), else 0. Names without a record are
    passed over."""
    judged = {
        n: _judge(dict(report["recipes"][n]), tolerance) for n in names if n in report["recipes"]
    }
    failed = [n for n, r in judged.items() if not r["within_tolerance"]]
    for name in failed:
        r = judged[name]
        print(f"{name}: {r['epochs']} epochs end {r['gap']:+.2f} nats from 3x the epochs "
              f"(tolerance {tolerance}, either way): train it longer", file=sys.stderr)  # fmt: skip
    return 1 if failed else 0


def from_curves(report: dict, names: list[str], out: Path, tolerance: float) -> int:
    """``--from-curves``: each named record that has a curve is rewritten at its recipe's
    current epochs; a recipe whose other settings changed since is refused (re-measure it)."""
    for name in names:
        record = report["recipes"].get(name)
        if record is None or "curve" not in record:
            continue
        recipe = asdict(train.RECIPES[name])
        changed = [k for k in recipe if k not in ("epochs", "fast_epochs")
                   and record["recipe"].get(k) != recipe[k]]  # fmt: skip
        if changed:
            raise SystemExit(f"{name}: {changed} changed since its curve: re-measure it")
        report["recipes"][name] = at_epochs(record, recipe["epochs"], tolerance)
        print(json.dumps({name: {k: report["recipes"][name][k] for k in ("epochs", "gap")}}),
              file=sys.stderr)  # fmt: skip
    out.write_text(json.dumps(report, indent=2) + "\n")
    return verdict(report, names, tolerance)


if __name__ == "__main__":
    sys.exit(main())
