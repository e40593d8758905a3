"""Faults around checkpoints and training (tests/test_bad_inputs.py holds the bad-input table,
these the behaviours): nothing half-made is saved, a foreign or broken checkpoint means retrain
and say why, an unwritable folder fails before training, a killed save never leaves a broken
file, and the finite check reads the device once per epoch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from vaelib import checkpoint, data
from vaelib import checkpoint as C
from vaelib import losses as L
from vaelib import train as T
from vaelib.models import VAE, Autoencoder

REPO = Path(__file__).resolve().parents[1]
X = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))  # pixels in [0, 1]
U8 = (X * 255).to(torch.uint8)
NAN_X = X.clone()
NAN_X[0, 0, 0, 0] = float("nan")


def one_shot(n: int = 1):
    return iter([X] * n)


def nan_state() -> dict:
    state = VAE(latent_dim=2).state_dict()
    state["mu_head.weight"] = state["mu_head.weight"] * float("nan")
    return state


def test_empty_loader_and_nan_pixel_write_no_checkpoint(tmp_path):
    for loader in ([], [NAN_X], one_shot()):
        ckpt = tmp_path / "m.pt"
        with pytest.raises(ValueError, match="No checkpoint was written|nan or inf"):
            T.train(
                VAE(latent_dim=2), loader, L.vae_loss, epochs=2, checkpoint=ckpt, progress=False
            )
        assert list(tmp_path.iterdir()) == []  # nothing, not even a temp file
    with pytest.raises(ValueError, match="contains nan"):
        data.DeviceLoader(NAN_X)  # the course's loader refuses it before training


class _Tracked(torch.Tensor):
    """A tensor that logs every read of its values back to the host (a sync on a GPU); what
    is computed from it is tracked too."""

    reads: list[str] = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in {"item", "tolist", "__bool__", "__float__", "numpy"}:
            cls.reads.append(func.__name__)
        return super().__torch_function__(func, types, args, kwargs or {})


def test_the_finite_check_reads_the_device_once_per_epoch():
    _Tracked.reads = []
    x = X.as_subclass(_Tracked)
    model = Autoencoder(latent_dim=2)
    history = T.train(model, [x] * 5, L.ae_loss, epochs=3, progress=False)
    assert len(history["loss"]) == 3
    assert _Tracked.reads == ["tolist"] * 3  # one read per epoch, none per batch


def test_a_checkpoint_records_the_steps_that_ran(tmp_path):
    ckpt = tmp_path / "m.pt"
    history = T.train(
        VAE(latent_dim=2), [X, X, X], L.vae_loss, epochs=2, checkpoint=ckpt, progress=False
    )
    _, meta = C.load_checkpoint(ckpt, VAE(latent_dim=2))
    assert meta["steps"] == 6 and len(history["loss"]) == 2


@pytest.mark.parametrize(
    ("blob", "reason"),
    [(b"", "empty (0 bytes"), (b"not a checkpoint\n", "not a readable checkpoint"),
     ([1, 2, 3], "holds a list"), (torch.zeros(3), "holds a Tensor"),
     ({"state_dict": {}}, "has keys"), ("shapes", "size mismatch"),
     ("nan", "non-finite"), ("short history", "half-made")],
)  # fmt: skip
def test_a_foreign_checkpoint_means_retrain_and_say_why(tmp_path, capsys, blob, reason):
    ckpt = tmp_path / "m.pt"
    if isinstance(blob, bytes):
        ckpt.write_bytes(blob)
    elif blob == "shapes":
        torch.save(
            {"state_dict": VAE(latent_dim=3).state_dict(), "history": {}, "meta": {"epochs": 1}},
            ckpt,
        )
    elif blob == "nan":
        torch.save({"state_dict": nan_state(), "history": {}, "meta": {"epochs": 1}}, ckpt)
    elif blob == "short history":
        torch.save({"state_dict": VAE(latent_dim=2).state_dict(), "history": {"loss": []},
                    "meta": {"epochs": 1, "steps": 0}}, ckpt)  # fmt: skip
    else:
        torch.save(blob, ckpt)
    history = T.train(VAE(latent_dim=2), [X], L.vae_loss, epochs=1, checkpoint=ckpt, progress=False)
    out = capsys.readouterr().out
    assert f"training afresh: checkpoint {Path(*ckpt.parts[-3:])} was" in out and reason in out
    assert len(history["loss"]) == 1
    history2, meta = C.load_checkpoint(ckpt, VAE(latent_dim=2))  # replaced by a good one
    assert meta == {"epochs": 1, "steps": 1} and history2 == history


def test_a_zero_byte_checkpoint_makes_train_or_load_retrain(monkeypatch, capsys):
    monkeypatch.setitem(
        T.RECIPES, "tiny", T.Recipe("vae_mlp", latent_dim=2, epochs=1, fast_epochs=1)
    )
    monkeypatch.setattr(T, "load_dataset", lambda *args, **kwargs: (U8, torch.arange(4)))
    path = C.checkpoint_path("tiny")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")  # what a power cut after an un-fsynced rename leaves
    model, history = T.train_or_load("tiny", progress=False)
    assert "empty (0 bytes" in capsys.readouterr().out
    assert path.stat().st_size > 0 and len(history["loss"]) == 1


def test_unwritable_folder_fails_before_training(tmp_path, monkeypatch):
    calls = []

    def loss_fn(model, x):
        calls.append(1)
        return L.vae_loss(model, x)

    (tmp_path / "file").write_text("")
    with pytest.raises(PermissionError, match="Nothing was trained"):
        T.train(VAE(latent_dim=2), [X], loss_fn, epochs=1, checkpoint=tmp_path / "file" / "m.pt",
                progress=False)  # fmt: skip
    assert calls == []


def test_a_failed_save_leaves_no_temp_file(tmp_path, monkeypatch):
    model = VAE(latent_dim=2)
    checkpoint.save_checkpoint(tmp_path / "m.pt", model, {"loss": [1.0]})

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", boom)
    with pytest.raises(OSError, match="No space left"):
        checkpoint.save_checkpoint(tmp_path / "m.pt", model, {"loss": [2.0]})
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # the old one, and no orphan
    assert C.load_checkpoint(tmp_path / "m.pt", model)[0] == {"loss": [1.0]}


KILLER = textwrap.dedent(
    """
    import json, os, random, signal, sys, time
    import torch
    torch.set_num_threads(1)  # no thread pool before fork
    from vaelib.checkpoint import read_checkpoint, save_checkpoint
    target, rng = sys.argv[1], random.Random(0)
    model = torch.nn.Linear(600, 600)  # 1.4 MB: a save takes milliseconds
    for i in range(10):
        pid = os.fork()
        if pid == 0:  # the saver: saves version (i, n) until killed
            n = 0
            while True:
                save_checkpoint(target, model, {"loss": [float(i)]}, {"v": i, "n": n})
                n += 1
        while not os.path.exists(target) or read_checkpoint(target)["meta"]["v"] != i:
            time.sleep(0.001)
        time.sleep(rng.uniform(0.0, 0.02))
        os.kill(pid, signal.SIGKILL)  # at a random moment of some save
        os.waitpid(pid, 0)
        temps = [p for p in os.listdir(os.path.dirname(target)) if p.endswith(".tmp")]
        blob = read_checkpoint(target)  # raises if the target were broken
        print(json.dumps({"v": blob["meta"]["v"], "n": blob["meta"]["n"], "temps": len(temps)}))
    """
)


def test_saves_killed_midway_never_leave_a_broken_checkpoint(tmp_path):
    """SIGKILL a process that saves in a loop, 10 times at random moments: the target always
    loads (the old or the new version), and the next save removes the temp files left."""
    target = tmp_path / "m.pt"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", KILLER, str(target)], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout  # fmt: skip
    rounds = [json.loads(line) for line in out.splitlines()]
    assert [r["v"] for r in rounds] == list(range(10))  # every kill left a loadable checkpoint
    checkpoint.save_checkpoint(target, torch.nn.Linear(2, 2))
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # killed saves' temp files removed
    if sum(r["temps"] for r in rounds) == 0:
        pytest.skip("no kill landed inside a save (timing): the cleanup was not exercised")
