"""One training loop for every model of the course, with progress bar, history and checkpoints.

A loss function takes ``(model, x)`` and returns a dict of per-image means whose ``"loss"``
entry is minimised; the other entries (e.g. ``"recon"``, ``"kl"``) are logged alongside.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from vaelib import validate as check
from vaelib.checkpoint import (  # re-exported: lessons and tests import them from here
    CheckpointError,
    check_writable,
    checkpoint_path,
    load_checkpoint,
    load_if_matching,
    save_checkpoint,
)
from vaelib.data import DeviceLoader, load_dataset
from vaelib.losses import negative_elbo
from vaelib.models import VAE, Autoencoder, ConvVAE
from vaelib.reparam import reparameterize
from vaelib.runtime import fast_mode

__all__ = ["CheckpointError", "checkpoint_path", "load_checkpoint", "save_checkpoint", "train"]
REPO_ROOT = Path(__file__).resolve().parents[1]
LossFn = Callable[[nn.Module, torch.Tensor], dict[str, torch.Tensor]]
History = dict[str, list[float]]


def ae_loss(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Autoencoder loss: the BCE sum per image, ``recon = BCE(x, sigmoid(logits)) / N``
    (``losses.reconstruction_loss_with_logits`` without its per-batch input check: the loader
    checked the data once)."""
    logits = model.decode_logits(model.encode(x))
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
    return {"loss": recon, "recon": recon}


def vae_loss_fn(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The VAE's loss, the negative ELBO (``vaelib.losses.negative_elbo``), as means over the
    batch's images: loss = recon + kl, recon = BCE(x, sigmoid(logits)), kl = KL(q(z|x) || N(0, I)).
    """
    mu, logvar = model.encode(x)
    z = reparameterize(mu, logvar)
    terms = negative_elbo(x, model.decode_logits(z), mu, logvar)
    return {"loss": terms.loss.mean(), "recon": terms.recon.mean(), "kl": terms.kl.mean()}


def train(
    model: nn.Module,
    loader: Iterable[torch.Tensor],
    loss_fn: LossFn = ae_loss,
    *,
    epochs: int,
    lr: float = 1e-3,
    optimizer: torch.optim.Optimizer | None = None,
    checkpoint: str | Path | None = None,
    meta: dict | None = None,
    progress: bool = True,
    desc: str = "training",
    amp: bool | None = None,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``loader`` and return the per-epoch history.

    history[key][e] is the mean over epoch e's batches of ``loss_fn(model, x)[key]``. With
    ``checkpoint`` set, a checkpoint whose meta equals ``{"epochs": epochs, **meta}`` (how it
    was made: pass the recipe in ``meta``) is loaded instead of training; otherwise the model
    trains from its own initial weights and a fresh checkpoint is written (atomically).
    The optimizer defaults to Adam (``fast_adam``); ``amp`` (default ``default_amp(device)``)
    runs the forward pass under bfloat16 autocast.

    Nothing half-made is saved: an epoch that ran no batch (an empty or exhausted loader), or
    a non-finite loss or weight, raises ValueError and writes no checkpoint. The finite check
    runs once per epoch on the epoch's summed loss (no host sync per batch); the checkpoint
    records the optimizer steps that ran (``meta["steps"]``). An unwritable checkpoint folder
    fails before training (PermissionError).
    """
    check.integer(epochs, "epochs", 1, "passes over the loader")
    if optimizer is None:
        check.number(lr, "lr", minimum=0, strict=True)
    expected = {"epochs": epochs, **(meta or {})}
    if checkpoint is not None and Path(checkpoint).exists():
        history = load_if_matching(Path(checkpoint), model, expected)
        if history is not None:
            return history
    if checkpoint is not None:
        check_writable(checkpoint)  # fail now, not after the run
    device = next(model.parameters()).device
    optimizer = optimizer or fast_adam(model, lr)
    amp = default_amp(device) if amp is None else amp
    history: History = {}
    n_batches = len(loader) if hasattr(loader, "__len__") else None
    total = epochs * n_batches if n_batches else None
    steps = 0
    model.train()
    with tqdm(total=total, desc=desc, unit="batch", disable=not progress) as bar:
        for epoch in range(epochs):
            sums: dict[str, torch.Tensor] = {}
            count = 0
            for x in loader:
                # Speed, in one place: under bf16 autocast the matrix products and convolutions
                # run in bfloat16 (twice the float32 rate on CPUs with native bf16); the BCE and
                # the optimizer stay in float32. Off where it is not measured faster.
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                    terms = loss_fn(model, x)
                optimizer.zero_grad(set_to_none=True)
                terms["loss"].backward()
                optimizer.step()
                for key, value in terms.items():  # summed on the device: no sync per batch
                    sums[key] = sums.get(key, 0) + value.detach().float()
                count += 1
                bar.update(1)
            totals = _checked_epoch_sums(epoch, epochs, count, sums, model, lr)
            steps += count
            for key, value in totals.items():
                history.setdefault(key, []).append(value / count)
            bar.set_postfix(epoch=epoch + 1, **{k: f"{v[-1]:.2f}" for k, v in history.items()})
    model.eval()
    if checkpoint is not None:
        save_checkpoint(checkpoint, model, history, {**expected, "steps": steps})
    return history


def fast_adam(model: nn.Module, lr: float = 1e-3) -> torch.optim.Adam:
    """Adam with torch's fused kernel (one kernel for all parameters) where torch has one (CPU,
    CUDA): the same update as ``torch.optim.Adam(model.parameters(), lr)``, measured faster."""
    device = next(model.parameters()).device
    fused = device.type in ("cpu", "cuda") or None
    return torch.optim.Adam(model.parameters(), lr=lr, fused=fused)


def default_amp(device: str | torch.device) -> bool:
    """Whether training uses bfloat16 autocast by default: on CPUs with native bf16 matrix
    instructions (AVX512-BF16 or AMX), where it measured faster with no loss of model quality
    (docs/benchmarks.md); off elsewhere (GPUs: not measured yet)."""
    device = torch.device(device)
    return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def _checked_epoch_sums(
    epoch: int, epochs: int, count: int, sums: dict[str, torch.Tensor], model: nn.Module, lr
) -> dict[str, float]:
    """The epoch's summed terms as floats, read from the device in one go; stops (ValueError,
    nothing saved) after an epoch without batches or with a non-finite loss or weight."""
    where = f"epoch {epoch + 1} of {epochs}"
    if count == 0:
        raise ValueError(
            f"{where} ran no batch: the loader is empty or was used up (a generator or iterator "
            "runs once). Pass a list of batches or a DeviceLoader, which restart every epoch. "
            "No checkpoint was written."
        )
    finite = torch.stack([torch.isfinite(p.detach()).all() for p in model.parameters()]).all()
    *values, weights_ok = torch.stack([v.float() for v in sums.values()] + [finite]).tolist()
    if not (weights_ok and all(math.isfinite(v) for v in values)):
        raise ValueError(
            f"training diverged in {where}: the loss or the weights became nan or inf "
            f"(loss sums {dict(zip(sums, values, strict=False))}). Check the data for nan pixels "
            f"(torch.isnan(x).any()) or lower the learning rate (lr={lr}). No checkpoint was "
            "written."
        )
    return dict(zip(sums, values, strict=True))


@torch.no_grad()
def evaluate_loss(
    model: nn.Module, loader: Iterable[torch.Tensor], loss_fn: LossFn = ae_loss
) -> dict[str, float]:
    """Mean of each entry of ``loss_fn`` over a whole data set (weighted by batch size)."""
    model.eval()
    sums: dict[str, torch.Tensor] = {}
    n = 0
    for x in loader:
        for key, value in loss_fn(model, x).items():
            sums[key] = sums.get(key, 0) + value * x.shape[0]
        n += x.shape[0]
    return {key: float(value) / n for key, value in sums.items()}


@dataclass(frozen=True)
class Recipe:
    """How a named model of the course is trained: a few plain values, one per lesson model.

    ``epochs`` in full mode, ``fast_epochs`` in fast mode (which also uses the data subset).
    """

    kind: str  # "ae" (lesson 01), "vae_mlp" or "vae_conv" (lesson 06)
    latent_dim: int
    epochs: int
    fast_epochs: int = 2
    batch_size: int = 128
    lr: float = 1e-3
    binarize: bool = False
    dataset: str = "fashion-mnist"


CLASSIFIER_EPOCHS, VQ_EPOCHS = 3, 10  # lesson 10, measured against 3x the epochs (docs)
LABELED_KINDS = ("classifier", "cvae_mlp")  # trained on (x, y) batches: classifier.LabeledLoader
RECIPES: dict[str, Recipe] = {
    # Lesson 01: 20 epochs (~2 min on 2 cores); 10 fast epochs of the 3000-image subset.
    "ae_latent2": Recipe("ae", latent_dim=2, epochs=20, fast_epochs=10),
    "ae_latent20": Recipe("ae", latent_dim=20, epochs=20, fast_epochs=10),
    # Lesson 06: the classic 784-400-20 VAE for its classic 10 epochs (with lr 2e-3, not 1e-3:
    # 243.1 instead of 244.3-244.9 test nats, measured), and a 2-D one to draw.
    "vae_mlp_latent20": Recipe("vae_mlp", latent_dim=20, epochs=10, lr=2e-3),
    "vae_mlp_latent2": Recipe("vae_mlp", latent_dim=2, epochs=20),
    "vae_conv_latent20": Recipe("vae_conv", latent_dim=20, epochs=15),
    # Trained on dynamically binarised pixels, where the Bernoulli likelihood is a true one.
    "vae_mlp_latent20_binarized": Recipe("vae_mlp", latent_dim=20, epochs=20, binarize=True),
    # Lesson 10 (vaelib.classifier, .conditional, .vq): the course's feature network
    # (latent_dim: its feature width), the conditional VAE (lesson 06's recipe, with labels) and
    # the VQ-VAE (latent_dim: its number of code positions M; K = 32 codes of size 16).
    "classifier": Recipe("classifier", latent_dim=64, epochs=CLASSIFIER_EPOCHS, fast_epochs=6),
    "cvae_mlp_latent20": Recipe("cvae_mlp", latent_dim=20, epochs=10, fast_epochs=8, lr=2e-3),
    "vqvae_mlp": Recipe("vqvae_mlp", latent_dim=8, epochs=VQ_EPOCHS, fast_epochs=4, lr=2e-3),
}


def build_model(recipe: Recipe) -> tuple[nn.Module, LossFn]:
    """The untrained model and the loss a recipe names."""
    if recipe.kind == "ae":
        return Autoencoder(latent_dim=recipe.latent_dim), ae_loss
    if recipe.kind == "vae_mlp":
        return VAE(latent_dim=recipe.latent_dim), vae_loss_fn
    if recipe.kind == "vae_conv":
        return ConvVAE(latent_dim=recipe.latent_dim), vae_loss_fn
    from vaelib import classifier, conditional, vq  # lesson 10's modules

    if recipe.kind == "classifier":
        return classifier.Classifier(recipe.latent_dim), classifier.classifier_loss
    if recipe.kind == "cvae_mlp":
        return conditional.ConditionalVAE(recipe.latent_dim), conditional.cvae_loss
    if recipe.kind == "vqvae_mlp":
        return vq.VQVAE(n_positions=recipe.latent_dim), vq.vq_loss
    raise ValueError(f"recipe kind {recipe.kind!r} is unknown: add it to build_model.")


def train_or_load(
    name: str, device: str | torch.device = "cpu", *, seed: int = 0, progress: bool = True
) -> tuple[nn.Module, History]:
    """The model ``RECIPES[name]`` trained on its data set's train split, from its checkpoint
    (``checkpoint_path(name)``) when one exists, else trained now and saved for later lessons.
    """
    if name not in RECIPES:
        raise ValueError(f"name={name!r} has no recipe: use one of {sorted(RECIPES)}.")
    recipe = RECIPES[name]
    torch.manual_seed(seed)
    model, loss_fn = build_model(recipe)
    model = model.to(device)
    images, labels = load_dataset(recipe.dataset, "train")
    kw = {"device": device, "seed": seed, "binarize": recipe.binarize}
    if recipe.kind in LABELED_KINDS:  # yields (x, y)
        from vaelib.classifier import LabeledLoader

        loader = LabeledLoader(images, labels, recipe.batch_size, **kw)
    else:
        loader = DeviceLoader(images, recipe.batch_size, **kw)
    epochs = recipe.fast_epochs if fast_mode() else recipe.epochs
    history = train(
        model, loader, loss_fn, epochs=epochs, lr=recipe.lr, checkpoint=checkpoint_path(name),
        meta={"recipe": asdict(recipe), "seed": seed}, progress=progress, desc=name,
    )  # fmt: skip
    return model, history
