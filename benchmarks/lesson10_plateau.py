"""Lesson 10's recipes at their full-mode epochs and at 3x, on the whole data set: is the model
at its plateau (``PLATEAU`` says what that means for each)? Prints JSON, one record per recipe
and epochs, for ``docs/lesson10_plateau.jsonl``; ``tests/test_convergence_docs.py`` checks the
table of docs/benchmarks.md against those lines and ``train.RECIPES``. Not a test: run it on an
idle machine, ``PYTHONPATH=$PWD .venv/bin/python benchmarks/lesson10_plateau.py [--recipes a,b]
[--mults 1,3]``, about 30 minutes on 2 cores for all four at 1x and 3x.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from vaelib import classifier, conditional, losses, train, vq
from vaelib.data import DeviceLoader, load_dataset, to_float


def run(name: str, mult: int, data: dict) -> dict:
    recipe = train.RECIPES[name]
    torch.manual_seed(0)
    model, loss_fn = train.build_model(recipe)
    images, labels = data["train"]
    if recipe.kind in train.LABELED_KINDS:
        loader = classifier.LabeledLoader(images, labels, recipe.batch_size, seed=0)
    else:
        loader = DeviceLoader(images, recipe.batch_size, seed=0)
    start, cpu = time.time(), time.process_time()
    epochs = recipe.epochs * mult
    train.train(model, loader, loss_fn, epochs=epochs, lr=recipe.lr, progress=False)
    out = {"recipe": name, "epochs": epochs, "wall_s": round(time.time() - start, 1),
           "cpu_s": round(time.process_time() - cpu, 1)}  # fmt: skip
    x, y = data["test"]
    with torch.no_grad():
        if name == "classifier":
            out["test_accuracy"] = classifier.accuracy(model, x, y)  # leaves the model in eval
            nll = sum(float(classifier.classifier_loss(model, b)["loss"]) * len(b[0])
                      for b in zip(x.split(1000), y.split(1000), strict=True))  # fmt: skip
            out["test_nll"] = nll / len(x)  # cross-entropy, nats per test image
            data["clf"] = model
        elif name == "lesson10_vae":  # the CVAE's unconditional twin, scored the same way
            torch.manual_seed(1)
            out["test"] = {k: float(v) for k, v in losses.vae_loss(model, x).items()}
        elif name == "cvae_mlp_latent20":
            torch.manual_seed(1)
            out["test"] = {k: float(v) for k, v in conditional.cvae_loss(model, (x, y)).items()}
            y_gen = torch.arange(10).repeat_interleave(500)
            samples = model.sample(y_gen, torch.Generator().manual_seed(2))
            out["control"] = classifier.accuracy(data["clf"], samples, y_gen)
        else:
            out["test"] = {k: float(v) for k, v in vq.vq_loss(model, x).items()}
            codes = model.codes(x)
            out["perplexity"] = vq.perplexity(codes, model.n_codes)
            out["dead_codes"] = vq.dead_codes(codes, model.n_codes)
    return out


# What "at its plateau" means for each: (the record's measure, how much 3x the epochs may gain).
# The VAEs: test -ELBO in nats, the course's 1.5-nat test; the VQ-VAE: its reconstruction term
# (the codebook and commitment terms grow as the codes spread, so its total loss does not fall);
# the classifier: test accuracy, one point (its test cross-entropy is about 0.3 nats per image,
# so a 1.5-nat test would say nothing).
PLATEAU = {
    "classifier": ("test_accuracy", 0.01),
    "cvae_mlp_latent20": ("test.loss", 1.5),
    "lesson10_vae": ("test.loss", 1.5),
    "vqvae_mlp": ("test.recon", 1.5),
}
RECIPES = tuple(PLATEAU)  # in the order they train: the classifier first, for the CVAE's control


def measure(record: dict, name: str) -> float:
    """The record's value of ``PLATEAU[name]``'s measure (a dotted key)."""
    value = record
    for key in PLATEAU[name][0].split("."):
        value = value[key]
    return float(value)


def gain(at_1x: dict, at_3x: dict, name: str) -> float:
    """What 3x the epochs gained: accuracy up, or nats of loss down."""
    sign = 1.0 if PLATEAU[name][0] == "test_accuracy" else -1.0
    return sign * (measure(at_3x, name) - measure(at_1x, name))


def at_plateau(at_1x: dict, at_3x: dict, name: str) -> bool:
    """True when 3x the epochs gained less than ``PLATEAU[name]``'s tolerance."""
    return gain(at_1x, at_3x, name) < PLATEAU[name][1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", default=",".join(RECIPES),
                        help="comma-separated, of " + ", ".join(RECIPES))  # fmt: skip
    parser.add_argument("--mults", default="1,3", help="comma-separated multiples of the epochs")
    args = parser.parse_args(argv)
    names = [n for n in args.recipes.split(",") if n]
    if not names or set(names) - set(RECIPES):
        parser.error(f"--recipes={args.recipes!r}: use some of {', '.join(RECIPES)}")
    if "cvae_mlp_latent20" in names and "classifier" not in names:
        parser.error("--recipes: the CVAE's control is judged by the classifier; name it first")
    test_images, test_labels = load_dataset("fashion-mnist", "test", fast=False)
    data = {"train": load_dataset("fashion-mnist", "train", fast=False),
            "test": (to_float(test_images), test_labels)}  # fmt: skip
    for mult in (int(m) for m in args.mults.split(",")):
        for name in names:
            print(json.dumps(run(name, mult, data)), flush=True)


if __name__ == "__main__":
    main()
