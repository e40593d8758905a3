"""Lesson 10's recipes at their full-mode epochs and at 3x, on the whole data set: is the model
at its plateau? Prints JSON (one record per run). Not a test: run it once on an idle machine,
``PYTHONPATH=$PWD .venv/bin/python benchmarks/lesson10_plateau.py``, about 10 minutes on 2 cores.
"""

from __future__ import annotations

import json
import time

import torch

from vaelib import classifier, conditional, train, vq
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
            out["test_accuracy"] = classifier.accuracy(model, x, y)
            data["clf"] = model
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


def main() -> None:
    test_images, test_labels = load_dataset("fashion-mnist", "test", fast=False)
    data = {"train": load_dataset("fashion-mnist", "train", fast=False),
            "test": (to_float(test_images), test_labels)}  # fmt: skip
    for mult in (1, 3):
        for name in ("classifier", "cvae_mlp_latent20", "vqvae_mlp"):
            print(json.dumps(run(name, mult, data)), flush=True)


if __name__ == "__main__":
    main()
