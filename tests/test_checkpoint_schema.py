"""The checkpoint schema: what ``save_checkpoint`` writes, ``read_checkpoint`` accepts.

A property-style test draws nested meta and history values from every type the course puts
there (Python, numpy and 0-d tensor numbers, tuples, paths, the recipes of ``train`` and of
lesson 08's loss) and round-trips each through a file; values outside the schema are refused
before a byte is written.
"""

from __future__ import annotations

import random
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from vaelib import checkpoint as C
from vaelib import train as T
from vaelib.losses import ELBOLoss
from vaelib.models import VAE

LEAVES = [  # (value, what it reads back as)
    (None, None), (True, True), (False, False), (3, 3), (-1, -1), (0.25, 0.25), ("vae", "vae"),
    (np.float64(0.5), 0.5), (np.float32(0.25), 0.25), (np.int64(7), 7), (np.int32(-2), -2),
    (np.bool_(True), True), (np.array(1.5), 1.5), (torch.tensor(2.5), 2.5),
    (torch.tensor(4), 4), (torch.tensor(0.5, dtype=torch.float64), 0.5),
    (Path("checkpoints/fast/m.pt"), "checkpoints/fast/m.pt"),
    (np.linspace(0.5, 4, 3)[0], 0.5),
]  # fmt: skip
COURSE_META = [  # what the course itself puts in meta
    ({**ELBOLoss(np.linspace(0.5, 4, 3)[0]).recipe()},
     {"beta": 0.5, "free_bits": 0.0, "warmup_steps": 0, "prior": None}),
    ({"recipe": asdict(T.RECIPES["vae_mlp_latent20"]), "seed": np.int64(0)},
     {"recipe": asdict(T.RECIPES["vae_mlp_latent20"]), "seed": 0}),
    ({"betas": (0.5, 1.0), "shape": torch.Size([1, 28, 28])}, {"betas": [0.5, 1.0], "shape": [1, 28, 28]}),
]  # fmt: skip


def draw(rng: random.Random, depth: int = 0) -> tuple[object, object]:
    """A random nested value of the schema and what it reads back as."""
    kind = rng.choice(["leaf"] * 3 + (["list", "tuple", "dict"] if depth < 3 else []))
    if kind == "leaf":
        return rng.choice(LEAVES)
    items = [draw(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "dict":
        return {f"k{i}": v for i, (v, _) in enumerate(items)}, {
            f"k{i}": w for i, (_, w) in enumerate(items)
        }
    values = [v for v, _ in items]
    return (tuple(values) if kind == "tuple" else values), [w for _, w in items]


def draw_history(rng: random.Random) -> tuple[dict, dict]:
    numbers = [(v, w) for v, w in LEAVES if isinstance(w, (int, float)) and not isinstance(w, bool)]
    history, expected = {}, {}
    for key in ("loss", "recon", "kl", "beta")[: rng.randint(1, 4)]:
        picked = [rng.choice(numbers) for _ in range(rng.randint(1, 4))]
        values = [v for v, _ in picked]
        history[key] = tuple(values) if rng.random() < 0.3 else values
        expected[key] = [float(w) for _, w in picked]
    return history, expected


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(2, 1)


@pytest.mark.parametrize("seed", range(40))
def test_every_value_the_course_saves_reads_back(tmp_path, seed):
    rng = random.Random(seed)
    meta, meta_read = draw(rng)
    meta, meta_read = {"epochs": 2, "value": meta}, {"epochs": 2, "value": meta_read}
    if seed < len(COURSE_META):
        meta, meta_read = COURSE_META[seed]
    history, history_read = draw_history(rng)
    path = C.save_checkpoint(tmp_path / "m.pt", tiny(), history, meta)
    blob = C.read_checkpoint(path)  # weights_only=True: what the schema promises
    assert blob["meta"] == meta_read and blob["history"] == history_read
    assert all(type(v) is float for values in blob["history"].values() for v in values)
    model = tiny()
    expected = {k: v for k, v in meta.items()}
    if "epochs" in expected:  # load_if_matching compares the in-memory recipe, tuples and all
        expected["epochs"] = len(next(iter(history.values())))
        if all(len(v) == expected["epochs"] for v in history.values()):
            C.save_checkpoint(path, model, history, expected)
            assert C.load_if_matching(path, model, expected) == history_read


@pytest.mark.parametrize(
    ("meta", "match"),
    [
        ({"x": np.zeros(3)}, r"meta\['x'\] is a ndarray of shape \(3,\).*tolist"),
        ({"x": torch.zeros(2)}, r"meta\['x'\] is a Tensor of shape \(2,\)"),
        ({"x": {1, 2}}, r"meta\['x'\] is a set"),
        ({"x": [object()]}, r"meta\['x'\]\[0\] is a object"),
        ({"loss": ELBOLoss()}, r"meta\['loss'\] is a ELBOLoss.*recipe|ELBOLoss"),
        ({1: "a"}, r"meta has the key 1 \(int\).*str\(key\)"),
        ({"model": nn.Linear(1, 1)}, r"meta\['model'\] is a Linear"),
    ],
)
def test_values_outside_the_schema_are_refused_before_a_byte_is_written(tmp_path, meta, match):
    with pytest.raises(C.CheckpointError, match=match):
        C.save_checkpoint(tmp_path / "m.pt", tiny(), {"loss": [1.0]}, meta)
    assert list(tmp_path.iterdir()) == []  # no file, no temp file


@pytest.mark.parametrize(
    ("history", "match"),
    [
        ({"loss": [1.0, "2"]}, r"history\['loss'\] must be a list of numbers"),
        ({"loss": 1.0}, r"history\['loss'\] must be a list of numbers"),
        ({"loss": [True]}, r"history\['loss'\] must be a list of numbers"),
        ({"loss": [np.float64("nan")]}, "non-finite"),
        ([1.0, 2.0], "history is a list"),
    ],
)
def test_histories_outside_the_schema_are_refused(tmp_path, history, match):
    with pytest.raises(C.CheckpointError, match=match):
        C.save_checkpoint(tmp_path / "m.pt", tiny(), history, {})
    assert list(tmp_path.iterdir()) == []


def test_a_recipe_with_numpy_numbers_trains_once_then_loads(tmp_path, capsys):
    """Before, ``meta`` holding an np.float64 saved fine and never loaded: every later run
    printed "training afresh ... Weights only load failed" and retrained, forever."""
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    loss = ELBOLoss(np.linspace(0.5, 4, 3)[0])
    meta = {**loss.recipe(), "path": Path("x"), "sizes": (1, 2)}
    for _run in range(2):
        torch.manual_seed(0)
        model = VAE(latent_dim=2)
        T.train(model, [x], loss, epochs=1, checkpoint=tmp_path / "c.pt", meta=meta, progress=False)
    out = capsys.readouterr().out
    assert "training afresh" not in out and "loaded checkpoint" in out


def test_train_refuses_an_unsaveable_meta_before_training(tmp_path):
    calls = []

    def loss_fn(model, x):
        calls.append(1)
        return {"loss": model(x).sum()}

    with pytest.raises(C.CheckpointError, match=r"meta\['w'\] is a ndarray"):
        T.train(nn.Linear(2, 1), [torch.ones(1, 2)], loss_fn, epochs=1,
                checkpoint=tmp_path / "c.pt", meta={"w": np.ones(2)}, progress=False)  # fmt: skip
    assert calls == [] and list(tmp_path.iterdir()) == []
