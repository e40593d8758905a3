"""Lesson 10's recipes at their full-mode epochs and at 3x, on the whole data set: is the model
at its plateau (``PLATEAU`` says what that means for each)? Prints JSON, one record per recipe
and epochs, for ``docs/lesson10_plateau.jsonl``; ``tests/test_convergence_docs.py`` checks the
table of docs/benchmarks.md against those lines and ``train.RECIPES``. Not a test: run it on an
idle machine, ``PYTHONPATH=$PWD .venv/bin/python benchmarks/lesson10_plateau.py [--recipes a,b]
[--mults 1,3]``, about 35 minutes on 2 cores for all five at 1x and 3x.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from vaelib import classifier, conditional, losses, train, vq
from vaelib.data import DeviceLoader, load_dataset, to_float

CODE_PRIOR = "vqvae_mlp_code_prior"  # the VQ-VAE's GRU prior over its codes (vq.fit_code_prior)


def epochs_of(name: str) -> int:
    """The full-mode epochs the lesson trains ``name`` for."""
    return vq.CODE_PRIOR_EPOCHS if name == CODE_PRIOR else train.RECIPES[name].epochs


@torch.no_grad()
def codes_of(model: vq.VQVAE, images: torch.Tensor) -> torch.Tensor:
    """The code indices (N, M) of ``images`` (N, 1, 28, 28) uint8, in batches, as lesson 10."""
    return torch.cat([model.codes(to_float(x)) for x in images.split(5000)])


def run_code_prior(mult: int, data: dict) -> dict:
    """The code prior fitted for ``mult`` x its epochs to the codes of the training images under
    the VQ-VAE at its own (1x) epochs, as lesson 10 fits it; scored by its rate on the test
    codes, E[-log p(c)] in nats per test image: the prior's term of the VQ-VAE's ELBO, so the
    course's 1.5-nat test applies to it as to a VAE's -ELBO."""
    if "vq" not in data:  # the VQ-VAE at 1x, trained once per invocation, whatever the mults
        run("vqvae_mlp", 1, data)
    model = data["vq"]
    codes_train, codes_test = codes_of(model, data["train"][0]), model.codes(data["test"][0])
    start, cpu = time.time(), time.process_time()
    epochs = vq.CODE_PRIOR_EPOCHS * mult
    prior, _ = vq.fit_code_prior(codes_train, model.n_codes, CODE_PRIOR, epochs=epochs,
                                 progress=False, cache=False)  # fmt: skip
    with torch.no_grad():
        rate = float(-prior.log_prob(codes_test).mean())
    return {"recipe": CODE_PRIOR, "epochs": epochs, "wall_s": round(time.time() - start, 1),
            "cpu_s": round(time.process_time() - cpu, 1), "vqvae_epochs": train.RECIPES["vqvae_mlp"].epochs,
            "test": {"code_nll": rate}}  # fmt: skip


def run(name: str, mult: int, data: dict) -> dict:
    """``name`` trained for ``mult`` x its epochs on the training set, scored on the test set
    (the classifier, and the VQ-VAE at 1x, are kept in ``data`` for the models judged by them)."""
    if name == CODE_PRIOR:
        return run_code_prior(mult, data)
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
            if mult == 1:
                data["vq"] = model  # the code prior is fitted to the lesson's VQ-VAE
    return out


# What "at its plateau" means for each: (the record's measure, how much 3x the epochs may gain).
# The VAEs: test -ELBO in nats, the course's 1.5-nat test; the VQ-VAE: its reconstruction term
# (the codebook and commitment terms grow as the codes spread, so its total loss does not fall);
# the classifier: test accuracy, one point (its test cross-entropy is about 0.3 nats per image,
# so a 1.5-nat test would say nothing); the code prior: its test rate, a term of the VQ-VAE's
# ELBO, in nats per image (fitted to the codes of the VQ-VAE at its own epochs).
PLATEAU = {
    "classifier": ("test_accuracy", 0.01),
    "cvae_mlp_latent20": ("test.loss", 1.5),
    "lesson10_vae": ("test.loss", 1.5),
    "vqvae_mlp": ("test.recon", 1.5),
    CODE_PRIOR: ("test.code_nll", 1.5),
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
