"""vaelib.stacked: models trained as one stack end where each trained alone ends."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vaelib import stacked
from vaelib import train as T
from vaelib.checkpoint import load_checkpoint
from vaelib.losses import ELBOLoss, ae_loss, vae_loss
from vaelib.models import VAE, Autoencoder, ConvVAE


def _batches(n_batches: int = 3, n: int = 16, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(n, 1, 28, 28, generator=g) for _ in range(n_batches)]


def _alone(make, loss_fn, batches, epochs=2, lr=3e-3):
    torch.manual_seed(0)
    model = make()
    history = T.train(model, batches, loss_fn, epochs=epochs, lr=lr, progress=False, amp=False)
    return model, history


def _close(a: torch.nn.Module, b: torch.nn.Module, lr: float = 3e-3, steps: int = 6) -> None:
    """Equal to float rounding. Adam divides by sqrt(v), so the few gradients that are rounding
    noise (a dead ReLU unit's, about 1 weight in 10^5) get steps of up to lr either way: all
    weights agree within ``2 * lr * steps``, all but 1 in 10^4 within 1e-4, and the outputs."""
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        diff = (p - q).abs()
        assert diff.max() <= 2 * lr * steps, name
        assert (diff > 1e-4).float().mean() < 1e-4, name
    x = _batches(1, 8, seed=9)[0]
    with torch.no_grad():
        torch.testing.assert_close(a.decode_logits(_code(a, x)), b.decode_logits(_code(b, x)),
                                   rtol=1e-3, atol=1e-3)  # fmt: skip


def _code(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    z = model.encode(x)
    return z[0] if isinstance(z, tuple) else z  # a VAE's mu


def test_each_stacked_vae_ends_where_it_ends_alone():
    batches = _batches()
    losses = [
        lambda: vae_loss,
        lambda: ELBOLoss(0.5),
        lambda: ELBOLoss(4.0, free_bits=0.5),
        lambda: ELBOLoss(8.0, warmup_steps=4),
    ]
    alone = [_alone(lambda: VAE(latent_dim=20), make(), batches) for make in losses]
    models = []
    for _ in losses:
        torch.manual_seed(0)
        models.append(VAE(latent_dim=20))
    fns = [make() for make in losses]
    histories = stacked.train_many(
        models, batches, fns, epochs=2, lr=3e-3, progress=False, amp=False
    )
    for (model_alone, history_alone), model, history in zip(alone, models, histories, strict=True):
        _close(model_alone, model)
        assert set(history) == set(history_alone)
        for key, values in history_alone.items():
            assert history[key] == pytest.approx(values, rel=1e-5)
        assert not model.training
    assert fns[3].step == 6  # the warm-up advanced as in training alone
    assert histories[3]["beta"] == pytest.approx([2.0, 22 / 3])  # beta_t = 8 min(1, t / 4)


def test_each_stacked_autoencoder_ends_where_it_ends_alone_with_its_own_data():
    data = [_batches(seed=s) for s in (1, 2)]
    alone = [_alone(lambda: Autoencoder(latent_dim=2), ae_loss, b) for b in data]
    models = []
    for _ in data:
        torch.manual_seed(0)
        models.append(Autoencoder(latent_dim=2))
    histories = stacked.train_many(
        models, data, [ae_loss] * 2, epochs=2, lr=3e-3, progress=False, amp=False
    )
    for (model_alone, history_alone), model, history in zip(alone, models, histories, strict=True):
        _close(model_alone, model)
        assert history["loss"] == pytest.approx(history_alone["loss"], rel=1e-5)


def test_checkpoints_are_the_files_train_writes(tmp_path):
    batches = _batches(2)
    paths = [tmp_path / "a.pt", tmp_path / "b.pt"]
    meta = {"recipe": "test"}
    models = [VAE(latent_dim=4), VAE(latent_dim=4)]
    stacked.train_many(
        models, batches, [ELBOLoss(1.0), ELBOLoss(2.0)], epochs=1, checkpoints=paths,
        metas=[meta, meta], progress=False,
    )  # fmt: skip
    again = VAE(latent_dim=4)
    history = T.train(again, batches, vae_loss, epochs=1, checkpoint=paths[1], meta=meta)
    assert history["loss"] and load_checkpoint(paths[1], VAE(latent_dim=4))[1]["steps"] == 2
    _close(again, models[1])  # train.train loaded it, trained nothing


@pytest.mark.parametrize(
    ("models", "loss_fns", "match"),
    [
        ([ConvVAE(), ConvVAE()], [vae_loss] * 2, "MLP VAEs or Autoencoders"),
        ([VAE(latent_dim=4), VAE(latent_dim=5)], [vae_loss] * 2, "one class and shape"),
        ([VAE(latent_dim=4)] * 2, [vae_loss], "one loss_fn per model"),
        ([VAE(latent_dim=4)] * 2, [ae_loss] * 2, "ELBO losses"),
        ([VAE(latent_dim=4)] * 2, [lambda m, x: {}] * 2, "cannot be stacked"),
    ],
)
def test_what_cannot_stack_is_refused(models, loss_fns, match):
    with pytest.raises(ValueError, match=match):
        stacked.train_many(models, _batches(1), loss_fns, epochs=1, progress=False)


@pytest.mark.parametrize(("amp", "rel"), [(False, 1e-5), (True, 1e-3)])
def test_train_or_load_many_stacks_and_saves_what_train_or_load_loads(
    monkeypatch, capsys, amp, rel
):
    """In float32 the stack's loss history equals training alone to float rounding; with bfloat16
    autocast (the default on a CPU where bf16 matmuls pay, e.g. AVX-512 bf16) the batched and
    the single matrix products round differently, so to bf16's 3 significant digits."""
    monkeypatch.setattr(T, "default_amp", lambda device: amp)
    tiny = T.Recipe("vae_mlp", latent_dim=2, epochs=1, fast_epochs=1)
    warm = T.Recipe("vae_mlp", latent_dim=2, epochs=1, fast_epochs=1, beta=2.0, warmup_fraction=0.5)
    for name, recipe in (("tiny_a", tiny), ("tiny_b", warm), ("tiny_alone", warm)):
        monkeypatch.setitem(T.RECIPES, name, recipe)
    monkeypatch.setitem(T.RECIPES, "tiny_ae", T.Recipe("ae", latent_dim=2, epochs=1, fast_epochs=1))
    out = T.train_or_load_many(["tiny_a", "tiny_b", "tiny_ae"], progress=False)
    assert list(out) == ["tiny_a", "tiny_b", "tiny_ae"]
    model, history = out["tiny_b"]  # stacked with tiny_a (the plain loss): beta 2, warmed up
    assert isinstance(model, VAE) and not model.training and len(history["loss"]) == 1
    assert 0 < history["beta"][0] < 2.0
    alone, alone_history = T.train_or_load("tiny_alone", progress=False)
    assert history["loss"] == pytest.approx(alone_history["loss"], rel=rel)
    if not amp:
        _close(alone, model, lr=1e-3, steps=len(history["loss"]) * 24)
    capsys.readouterr()
    again, history2 = T.train_or_load("tiny_b", progress=False)  # the stack's checkpoint
    assert "loaded" in capsys.readouterr().out and history2 == out["tiny_b"][1]
    assert torch.equal(again.mu_head.weight, out["tiny_b"][0].mu_head.weight)
    with pytest.raises(ValueError, match="no recipe"):
        T.train_or_load_many(["tiny_a", "nope"])


@pytest.mark.parametrize(("fast", "stacks"), [(True, [["tiny_a", "tiny_b"]]), (False, [])])
def test_train_or_load_many_groups_by_the_epochs_the_mode_uses(monkeypatch, fast, stacks):
    """Lesson 08's recipes differ in their full-mode epochs (each to its plateau) but share
    their fast epochs: fast mode stacks them as one; full mode trains each budget apart."""
    monkeypatch.setitem(T.RECIPES, "tiny_a", T.Recipe("vae_mlp", latent_dim=2, epochs=3))
    monkeypatch.setitem(T.RECIPES, "tiny_b", T.Recipe("vae_mlp", latent_dim=2, epochs=5, beta=2.0))
    stacked_groups, alone = [], []
    monkeypatch.setattr(
        T, "load_dataset", lambda *a, **k: (torch.zeros(8, 1, 28, 28, dtype=torch.uint8), None)
    )

    def fake_many(models, loader, loss_fns, *, checkpoints, **kwargs):
        stacked_groups.append([p.stem for p in checkpoints])
        return [{"loss": []} for _ in models]

    monkeypatch.setattr(stacked, "train_many", fake_many)
    monkeypatch.setattr(T, "checkpoint_path", lambda name, fast: Path(name + ".pt"))
    monkeypatch.setattr(T, "train_or_load", lambda name, *a, **k: alone.append(name) or (None, {}))
    T.train_or_load_many(["tiny_a", "tiny_b"], progress=False, fast=fast)
    assert stacked_groups == stacks
    assert alone == ([] if fast else ["tiny_a", "tiny_b"])
