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

``make convergence`` runs it. It trains every recipe for 3x its epochs: on 2 idle CPU cores
that is several times the course's own training time, so run it on a quiet machine
(``nice`` it on a shared one). ``--recipes a,b`` measures a few and merges them into an
existing ``--out`` file; the exit status is 1 when a measured recipe is more than
``--tolerance`` nats from its 3x run.
"""

from __future__ import annotations

import argparse
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
    name: str, device: torch.device, seed: int = 0, fast: bool = False, epochs: int | None = None
) -> dict:
    """Train ``RECIPES[name]`` for 3x its epochs; its test loss at 1x and at 3x the epochs.

    ``fast=True`` uses fast mode's data subset and ``fast_epochs`` (a smoke test, not a
    measurement); ``epochs`` overrides the recipe's (to try other epochs before changing it).
    """
    recipe = train.RECIPES[name]
    if epochs is None:
        epochs = recipe.fast_epochs if fast else recipe.epochs
    images, _ = load_dataset(recipe.dataset, "train", fast=fast)
    loader = DeviceLoader(images, recipe.batch_size, device=device, seed=seed,
                          binarize=recipe.binarize)  # fmt: skip
    torch.manual_seed(seed)
    # A learned prior starts as a mixture of PRIOR_COMPONENTS diagonal Gaussians (the lesson
    # starts it from a BIC fit; here only the epochs are in question). A warm-up lasts its
    # recipe's share of the lesson's steps; the 3x run keeps it and trains on at full beta.
    prior = None
    if recipe.prior is not None:
        prior = priors.MixturePrior(PRIOR_COMPONENTS, recipe.latent_dim, seed=seed)
    warmup_steps = int(recipe.warmup_fraction * epochs * len(loader))
    model, loss_fn = train.build_model(recipe, prior=prior, warmup_steps=warmup_steps)
    model = model.to(device)
    test_images, _ = load_dataset(recipe.dataset, "test", fast=fast)
    x_test = to_float(test_images).to(device)
    if recipe.binarize:
        x_test = binarize(x_test, generator=torch.Generator(device=device).manual_seed(0))
    optimizer = train.fast_adam(model, recipe.lr)
    start = time.perf_counter()
    result = {"epochs": epochs}
    for key, more in (("test_neg_elbo", epochs), ("test_neg_elbo_3x", 2 * epochs)):
        train.train(model, loader, loss_fn, epochs=more, optimizer=optimizer, progress=False)
        state = torch.get_rng_state()  # the measurement must not move the training's noise
        result[key] = round(test_loss(model, recipe, x_test), 3)
        torch.set_rng_state(state)
        model.train()
    result["gap"] = round(result["test_neg_elbo"] - result["test_neg_elbo_3x"], 3)
    result["within_tolerance"] = bool(result["gap"] <= TOLERANCE)
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["recipe"] = asdict(recipe)
    return result


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
    args = parser.parse_args(argv)
    names = [n for n in args.recipes.split(",") if n] or lesson_recipes()
    unknown = sorted(set(names) - set(train.RECIPES))
    if unknown:
        parser.error(f"--recipes names no recipe: {unknown}; use some of {sorted(train.RECIPES)}")
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs={args.epochs} must be at least 1")
    if not math.isfinite(args.tolerance) or args.tolerance <= 0:
        parser.error(f"--tolerance={args.tolerance} must be a positive number of nats")
    report = json.loads(args.out.read_text()) if args.out.exists() else {}
    report.setdefault("recipes", {})
    device = runtime.pick_device()
    for name in names:
        report["recipes"][name] = measure(name, device, fast=args.fast, epochs=args.epochs)
        print(json.dumps({name: report["recipes"][name]}), file=sys.stderr)
        report.update(
            tolerance_nats=args.tolerance,
            fast=args.fast,
            date=datetime.now().isoformat(timespec="seconds"),
            machine={"cpu": runtime.cpu_name(), "device": device.type, "torch": torch.__version__},
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")  # after each recipe: resumable
    failed = [n for n in names if report["recipes"][n]["gap"] > args.tolerance]
    for name in failed:
        r = report["recipes"][name]
        print(f"{name}: {r['epochs']} epochs are {r['gap']:.2f} nats above 3x the epochs "
              f"(tolerance {args.tolerance}): train it longer", file=sys.stderr)  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
