"""vaelib.train: the loop lowers the loss, checkpoints round-trip atomically, recipes."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from vaelib import checkpoint as C
from vaelib import losses as L
from vaelib import train as T
from vaelib.models import VAE, Autoencoder, ConvVAE


def _tiny_batch(n: int = 32) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def _real_batch(n: int = 32) -> torch.Tensor:
    from vaelib.data import load_dataset, to_float

    return to_float(load_dataset("fashion-mnist", "test")[0][:n])


@pytest.mark.parametrize(
    ("model", "loss_fn"),
    [(Autoencoder(latent_dim=2), L.ae_loss), (VAE(latent_dim=4), L.vae_loss)],
)
def test_a_few_steps_lower_the_loss(model, loss_fn):
    torch.manual_seed(0)
    x = _real_batch()
    history = T.train(model, [x] * 5, loss_fn, epochs=4, lr=3e-3, progress=False)
    assert len(history["loss"]) == 4
    assert history["loss"][-1] < 0.8 * history["loss"][0]


def test_vae_loss_is_the_batch_mean_of_negative_elbo():
    from vaelib.losses import negative_elbo

    torch.manual_seed(0)
    model, x = VAE(latent_dim=3), _tiny_batch(8)
    torch.manual_seed(1)
    terms = L.vae_loss(model, x)
    torch.manual_seed(1)
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # the same eps (same seed)
    x_hat = model.decode(z)
    recon = F.binary_cross_entropy(x_hat, x, reduction="sum") / 8  # the deck's form
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / 8
    torch.testing.assert_close(terms["recon"], recon, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(terms["kl"], kl)
    torch.testing.assert_close(terms["loss"], recon + kl, rtol=1e-5, atol=1e-3)
    expected = negative_elbo(x, model.decode_logits(z), mu, logvar)
    torch.testing.assert_close(terms["loss"], expected.loss.mean())
    assert set(terms) == {"loss", "recon", "kl"}


def test_checkpoint_round_trip_is_atomic_and_weights_only(tmp_path):
    torch.manual_seed(0)
    model = VAE(latent_dim=5)
    path = C.save_checkpoint(tmp_path / "m.pt", model, {"loss": [3.0, 2.0]}, {"epochs": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]  # no temp file left
    blob = torch.load(path, weights_only=True)  # plain tensors and lists: loads safely
    assert set(blob) == {"state_dict", "history", "meta"}
    other = VAE(latent_dim=5)
    history, meta = C.load_checkpoint(path, other)
    assert history == {"loss": [3.0, 2.0]} and meta == {"epochs": 2}
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    with pytest.raises(RuntimeError):
        C.load_checkpoint(path, VAE(latent_dim=6))


def test_train_reuses_a_checkpoint_of_the_same_epochs(tmp_path):
    x = _tiny_batch(16)
    ckpt = tmp_path / "c.pt"
    torch.manual_seed(0)
    first = VAE(latent_dim=2)
    h1 = T.train(first, [x], L.vae_loss, epochs=2, checkpoint=ckpt, progress=False)
    second = VAE(latent_dim=2)
    h2 = T.train(second, [x], L.vae_loss, epochs=2, checkpoint=ckpt, progress=False)
    assert h1 == h2
    assert torch.equal(first.mu_head.weight, second.mu_head.weight)


def test_train_or_load_trains_once_then_loads(monkeypatch, capsys):
    monkeypatch.setitem(
        T.RECIPES, "tiny_vae", T.Recipe("vae_mlp", latent_dim=2, epochs=1, fast_epochs=1)
    )
    model, history = T.train_or_load("tiny_vae", progress=False)
    assert C.checkpoint_path("tiny_vae").exists()
    assert "/fast/" in str(C.checkpoint_path("tiny_vae"))
    again, history2 = T.train_or_load("tiny_vae", progress=False)
    assert "loaded" in capsys.readouterr().out
    assert history == history2
    assert torch.equal(model.mu_head.weight, again.mu_head.weight)


def test_vae_recipes_for_lesson_06():
    for name, latent in (("vae_mlp_latent2", 2), ("vae_mlp_latent20", 20)):
        recipe = T.RECIPES[name]
        model, loss_fn = T.build_model(recipe)
        assert isinstance(model, VAE) and loss_fn is L.vae_loss
        mu, logvar = model.encode(_tiny_batch(3))
        assert mu.shape == logvar.shape == (3, latent)
        x_hat = model.decode(mu)
        assert x_hat.shape == (3, 1, 28, 28) and 0 <= x_hat.min() and x_hat.max() <= 1
    classic = T.RECIPES["vae_mlp_latent20"]
    assert (classic.epochs, classic.batch_size, classic.lr) == (30, 128, 2e-3)  # at its plateau
    assert isinstance(T.build_model(T.RECIPES["vae_conv_latent20"])[0], ConvVAE)
    assert T.RECIPES["vae_mlp_latent20_binarized"].binarize


def test_recipe_errors():
    with pytest.raises(ValueError, match="no recipe"):
        T.train_or_load("vae_mlp_latent3")
    with pytest.raises(ValueError, match="unknown"):
        T.build_model(T.Recipe("gan", latent_dim=2, epochs=1))
    with pytest.raises(ValueError, match="epochs"):
        T.train(VAE(), [_tiny_batch(2)], L.vae_loss, epochs=0)
    for bad in ("", "a/b", "m.pt"):
        with pytest.raises(ValueError, match="bare file stem"):
            C.checkpoint_path(bad)


def test_train_ignores_a_checkpoint_of_another_recipe_and_starts_fresh(tmp_path, capsys):
    x = _tiny_batch(8)
    ckpt = tmp_path / "m.pt"
    torch.manual_seed(0)
    T.train(VAE(latent_dim=2), [x], L.vae_loss, epochs=2, checkpoint=ckpt, meta={"lr": 1.0},
            progress=False)  # fmt: skip
    torch.manual_seed(1)
    fresh = VAE(latent_dim=2)
    initial = {k: v.clone() for k, v in fresh.state_dict().items()}
    torch.manual_seed(1)
    reference = VAE(latent_dim=2)
    torch.manual_seed(2)  # the same eps draws in both runs
    T.train(reference, [x], L.vae_loss, epochs=2, progress=False)
    torch.manual_seed(2)
    T.train(fresh, [x], L.vae_loss, epochs=2, checkpoint=ckpt, meta={"lr": 2.0}, progress=False)
    assert "training afresh" in capsys.readouterr().out
    assert not all(torch.equal(initial[k], v) for k, v in fresh.state_dict().items())
    # trained from its own initial weights (as the reference), not from the stale checkpoint
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[key], value)
    _, meta = C.load_checkpoint(ckpt, VAE(latent_dim=2))
    assert meta == {"epochs": 2, "lr": 2.0, "steps": 2}


def test_train_or_load_records_the_recipe_in_the_checkpoint(monkeypatch):
    recipe = T.Recipe("vae_mlp", latent_dim=2, epochs=1, fast_epochs=1)
    monkeypatch.setitem(T.RECIPES, "tiny_vae2", recipe)
    T.train_or_load("tiny_vae2", progress=False)
    _, meta = C.load_checkpoint(C.checkpoint_path("tiny_vae2"), VAE(latent_dim=2))
    assert meta["recipe"]["lr"] == recipe.lr and meta["epochs"] == 1 and meta["seed"] == 0


@pytest.mark.parametrize("amp", [False, True])
def test_bf16_autocast_trains_and_logs_float32_means(amp):
    torch.manual_seed(0)
    x = _real_batch()
    model = VAE(latent_dim=4)
    history = T.train(model, [x] * 5, L.vae_loss, epochs=3, lr=3e-3, amp=amp, progress=False)
    assert history["loss"][-1] < 0.9 * history["loss"][0]
    for key in ("loss", "recon", "kl"):
        assert all(isinstance(v, float) and v == v for v in history[key])
    # The logged loss is the epoch's mean of recon + kl, summed in float32 even under bf16.
    for e in range(3):
        assert history["loss"][e] == pytest.approx(history["recon"][e] + history["kl"][e], 1e-4)


def test_fast_adam_is_fused_adam_on_the_cpu():
    optimizer = T.fast_adam(VAE(latent_dim=2), lr=2e-3)
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["fused"] is True
    assert optimizer.defaults["lr"] == 2e-3


def test_default_amp_follows_the_measured_bf16_speedup_on_cpus_only(monkeypatch):
    monkeypatch.setattr(T, "bf16_matmul_speedup", lambda device="cpu": T.AMP_MIN_SPEEDUP)
    assert T.default_amp("cpu") is True and T.default_amp("meta") is False
    monkeypatch.setattr(T, "bf16_matmul_speedup", lambda device="cpu": T.AMP_MIN_SPEEDUP - 0.01)
    assert T.default_amp("cpu") is False
    monkeypatch.setattr(T, "bf16_matmul_speedup", lambda device="cpu": 0.0)  # no native bf16
    assert T.default_amp("cpu") is False


def test_lesson08_recipes_build_their_losses_and_refuse_a_missing_prior():
    from vaelib import priors
    from vaelib.losses import ELBOLoss

    model, loss = T.build_model(T.RECIPES["lesson08_beta1"])
    assert loss is L.vae_loss and T.RECIPES["lesson08_beta1"].binarize  # beta 1: the plain loss
    _, loss = T.build_model(T.RECIPES["lesson08_beta8_freebits"])
    assert isinstance(loss, ELBOLoss) and (loss.beta, loss.free_bits) == (8.0, 0.5)
    _, loss = T.build_model(T.RECIPES["lesson08_beta8_warmup"], warmup_steps=12)
    assert loss.warmup_steps == 12 and T.RECIPES["lesson08_beta8_warmup"].warmup_fraction == 0.5
    prior = priors.MixturePrior(3, 20)
    model, loss = T.build_model(T.RECIPES["lesson08_mog_prior"], prior=prior)
    assert model.prior is prior and loss.prior is prior  # trained with the VAE
    with pytest.raises(ValueError, match="pass its initial module"):
        T.build_model(T.RECIPES["lesson08_mog_prior"])
    with pytest.raises(ValueError, match="the recipe has prior=None"):
        T.train_or_load("lesson08_beta1", prior=prior)
    meta = T._prior_meta(prior)
    assert meta["class"] == "MixturePrior" and meta["parameters"] == 3 + 2 * 3 * 20


def _save_as_lesson_did(name: str, model: torch.nn.Module, **extra: object) -> None:
    """A checkpoint exactly as train_or_load writes it for RECIPES[name] in fast mode."""
    from dataclasses import asdict

    recipe = T.RECIPES[name]
    epochs = recipe.fast_epochs
    meta = {"epochs": epochs, "recipe": asdict(recipe), "seed": 0, **extra, "steps": 5}
    history = {"loss": [1.0] * epochs}
    C.save_checkpoint(C.checkpoint_path(name, fast=True), model, history, meta)


def test_load_trained_rebuilds_a_learned_mixture_prior_of_the_saved_size():
    from vaelib.priors import MixturePrior

    saved = VAE(latent_dim=20)
    saved.prior = MixturePrior(3, 20, seed=4)  # K = 3: a size only the checkpoint knows
    _save_as_lesson_did("lesson08_mog_prior", saved, prior={"class": "MixturePrior"})
    model, history = T.load_trained("lesson08_mog_prior", fast=True)
    assert isinstance(model.prior, MixturePrior) and model.prior.means.shape == (3, 20)
    torch.testing.assert_close(model.prior.means, saved.prior.means)
    torch.testing.assert_close(model.decoder[0].weight, saved.decoder[0].weight)
    assert len(history["loss"]) == T.RECIPES["lesson08_mog_prior"].fast_epochs


def test_load_trained_refuses_a_missing_or_foreign_checkpoint():
    with pytest.raises(FileNotFoundError, match="run that lesson first"):
        T.load_trained("lesson08_beta1", fast=True)
    _save_as_lesson_did("lesson08_beta1", VAE(latent_dim=20))
    model, _ = T.load_trained("lesson08_beta1", fast=True)
    assert not hasattr(model, "prior")
    C.save_checkpoint(C.checkpoint_path("lesson08_beta2", fast=True), VAE(latent_dim=20),
                      {"loss": [1.0]}, {"epochs": 1, "recipe": {"kind": "vae_mlp"}})  # fmt: skip
    with pytest.raises(C.CheckpointError, match="another recipe"):
        T.load_trained("lesson08_beta2", fast=True)
    with pytest.raises(ValueError, match="has no recipe"):
        T.load_trained("nonexistent")
