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
from tqdm.auto import tqdm

from vaelib import validate as check
from vaelib.checkpoint import (
    check_writable,
    checkpoint_path,
    load_if_matching,
    plain,
    save_checkpoint,
)
from vaelib.data import DeviceLoader, load_dataset
from vaelib.losses import ELBOLoss, ae_loss, vae_loss
from vaelib.models import VAE, Autoencoder, ConvVAE
from vaelib.runtime import bf16_matmul_speedup, fast_mode

LossFn = Callable[[nn.Module, torch.Tensor], dict[str, torch.Tensor]]
History = dict[str, list[float]]


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
    expected = plain({"epochs": epochs, **(meta or {})}, "meta")  # refused now, not after training
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
    # One bar per model, redrawn at most twice a second with a slowly smoothed rate: a light
    # load on the kernel's output channel (issue #21) and an estimate that does not jump.
    with tqdm(
        total=total, desc=desc, unit="batch", disable=not progress, mininterval=0.5, smoothing=0.05
    ) as bar:
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
            postfix = {k: f"{v[-1]:.2f}" for k, v in history.items()}
            bar.set_postfix(epoch=epoch + 1, **postfix, refresh=False)  # drawn at the next tick
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


AMP_MIN_SPEEDUP = 1.25  # bf16 autocast only where its matrix products are this much faster


def default_amp(device: str | torch.device) -> bool:
    """Whether training uses bfloat16 autocast by default: on CPUs whose bf16 matrix product
    measures at least ``AMP_MIN_SPEEDUP`` times the float32 rate at the MLP VAE's shape
    (``runtime.bf16_matmul_speedup``: about 2x on AMD Zen 4 with AVX512-BF16, 0.5x on an
    AVX512-BF16 Xeon without AMX), where bf16 training measured no loss of model quality
    (docs/benchmarks.md); off elsewhere (GPUs: not measured yet)."""
    device = torch.device(device)
    return device.type == "cpu" and bf16_matmul_speedup("cpu") >= AMP_MIN_SPEEDUP


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
    The loss (VAE kinds): ``beta`` (the beta-VAE), ``free_bits`` (Kingma et al. 2016, in nats
    per dimension), ``warmup_fraction`` (beta rises from 0 over that share of the training
    steps: KL annealing) and ``prior``: None for N(0, I), or ``"mixture"`` for a learnable
    ``priors.MixturePrior`` that ``train_or_load(..., prior=...)`` passes in, trained with the
    VAE. With all four at their defaults a VAE trains with ``losses.vae_loss``.
    """

    kind: str  # "ae" (lesson 01), "vae_mlp" or "vae_conv" (lessons 06 to 08)
    latent_dim: int
    epochs: int
    fast_epochs: int = 2
    batch_size: int = 128
    lr: float = 1e-3
    binarize: bool = False
    dataset: str = "fashion-mnist"
    beta: float = 1.0
    free_bits: float = 0.0
    warmup_fraction: float = 0.0
    prior: str | None = None

    @property
    def plain(self) -> bool:
        """True for the plain VAE loss: beta 1, no free bits, no warm-up, the N(0, I) prior."""
        return (self.beta, self.free_bits, self.warmup_fraction, self.prior) == (
            1.0,
            0.0,
            0.0,
            None,
        )


# Lesson 08's models (and lesson 06's binarised one): 60 epochs, where three times the training
# gains less than 1.5 nats of test -ELBO. Three need longer (LESSON08_LONGER): beta = 0.1 is within
# from 110 epochs on, beta = 8 from 80, and beta = 8 with annealing was within at 120 and not at 60
# (curves of one long run each: docs/convergence.json, docs/benchmarks.md).
LESSON08_EPOCHS = 60
LESSON08_LONGER = {"lesson08_beta0.1": 120, "lesson08_beta8": 80, "lesson08_beta8_warmup": 120}


def _lesson08(
    epochs: int = LESSON08_EPOCHS, fast_epochs: int = 30, kind: str = "vae_mlp", **loss: object
) -> Recipe:
    """A lesson 08 model: the 784-400-20 VAE on binarised pixels (a true Bernoulli likelihood)."""
    return Recipe(
        kind, latent_dim=20, epochs=epochs, fast_epochs=fast_epochs, binarize=True, **loss
    )


def _lesson11(**loss: object) -> Recipe:
    """A lesson 11 autoregressive VAE (``autoregressive.ARVAE``) on binarised pixels, with a
    high learning rate (1e-2: the decoder learns the pixels before the encoder learns z; at 1e-3
    it kept about 8 nats of KL in our runs, at 3e-3 about 3)."""
    return Recipe(
        "arvae", latent_dim=20, epochs=AR_EPOCHS, fast_epochs=AR_FAST_EPOCHS, lr=1e-2,
        binarize=True, **loss,
    )  # fmt: skip


AR_EPOCHS, AR_FAST_EPOCHS = 3, 8
AR_FIXES = {"": {}, "_warmup": {"warmup_fraction": 0.5}, "_freebits": {"free_bits": 0.25}}
# Lesson 11's two-level VAE and the one-level VAE it is compared with: lesson 08's recipe at 90
# epochs, where both pass the plateau test (docs/convergence.json; at 20 and 60 epochs the
# two-level VAE does not).
DEEP_EPOCHS = 90
# Lesson 10's models, each measured against 3x its epochs (benchmarks/lesson10_plateau.py, docs).
CLASSIFIER_EPOCHS, CVAE_EPOCHS, VQ_EPOCHS = 27, 30, 30
LABELED_KINDS = ("classifier", "cvae_mlp")  # trained on (x, y) batches: classifier.LabeledLoader
RECIPES: dict[str, Recipe] = {
    # Lesson 01: 40 and 30 epochs (every later gap to 3x is within 1.5 nats either way from 35
    # and 25 on; at 20 they were 2.9 and 1.8: docs/convergence.json); 10 fast epochs of the
    # 3000-image subset.
    "ae_latent2": Recipe("ae", latent_dim=2, epochs=40, fast_epochs=10),
    "ae_latent20": Recipe("ae", latent_dim=20, epochs=30, fast_epochs=10),
    # Lesson 06: the classic 784-400-20 VAE with lr 2e-3, not 1e-3 (at 10 epochs: 243.1 instead
    # of 244.3-244.9 test nats, measured), for 30 epochs, not the classic 10, to reach its
    # plateau (docs/convergence.json), and a 2-D one to draw, for 70 epochs: its gap to 3x is
    # within 1.5 nats from 70 on (at 20 to 60 it was 1.2 to 2.1; docs/convergence.json).
    "vae_mlp_latent20": Recipe("vae_mlp", latent_dim=20, epochs=30, lr=2e-3),
    "vae_mlp_latent2": Recipe("vae_mlp", latent_dim=2, epochs=70),
    "vae_conv_latent20": Recipe("vae_conv", latent_dim=20, epochs=15),
    # Trained on dynamically binarised pixels, where the Bernoulli likelihood is a true one: lesson
    # 08's beta = 1 recipe, at its epochs (LESSON08_EPOCHS).
    "vae_mlp_latent20_binarized": Recipe(
        "vae_mlp", latent_dim=20, epochs=LESSON08_EPOCHS, binarize=True
    ),  # fmt: skip
    # Lesson 08: a beta sweep, the two fixes of collapse at beta = 8, and a learned prior, each
    # LESSON08_EPOCHS or its LESSON08_LONGER epochs (fast mode: 30 epochs of the subset).
    **{
        f"lesson08_beta{b:g}": _lesson08(
            epochs=LESSON08_LONGER.get(f"lesson08_beta{b:g}", LESSON08_EPOCHS), beta=b
        )
        for b in (0.1, 0.5, 1.0, 2.0, 4.0, 8.0)
    },
    "lesson08_beta8_warmup": _lesson08(
        epochs=LESSON08_LONGER["lesson08_beta8_warmup"], beta=8.0, warmup_fraction=0.5
    ),
    "lesson08_beta8_freebits": _lesson08(beta=8.0, free_bits=0.5),
    "lesson08_mog_prior": _lesson08(prior="mixture"),
    # Lesson 10 (vaelib.classifier, .conditional, .vq): the course's feature network
    # (latent_dim: its feature width), the conditional VAE (lesson 06's recipe, with labels) and
    # the VQ-VAE (latent_dim: its number of code positions M; K = 32 codes of size 16).
    "classifier": Recipe("classifier", latent_dim=64, epochs=CLASSIFIER_EPOCHS, fast_epochs=6),
    "cvae_mlp_latent20": Recipe(
        "cvae_mlp", latent_dim=20, epochs=CVAE_EPOCHS, fast_epochs=8, lr=2e-3
    ),  # fmt: skip
    # ... and its unconditional twin, lesson 06's VAE on the CVAE's budget (the rate it saves)
    "lesson10_vae": Recipe("vae_mlp", latent_dim=20, epochs=CVAE_EPOCHS, fast_epochs=8, lr=2e-3),
    "vqvae_mlp": Recipe("vqvae_mlp", latent_dim=8, epochs=VQ_EPOCHS, fast_epochs=4, lr=2e-3),
    # Lesson 11 (vaelib.autoregressive, .hierarchical): a VAE whose decoder models the rows of x
    # on their own (it collapses at beta = 1), the two fixes of that collapse, and a two-level VAE
    # against its one-level twin: lesson 08's beta = 1 recipe (binarised, batch 128, lr 1e-3) at
    # DEEP_EPOCHS (fast mode: 30 epochs of the subset), both at their plateau.
    **{f"arvae{tag}": _lesson11(**loss) for tag, loss in AR_FIXES.items()},
    "lesson11_vae": _lesson08(epochs=DEEP_EPOCHS),
    "hvae_mlp": _lesson08(epochs=DEEP_EPOCHS, kind="hvae_mlp"),
}
PRIOR_KINDS = {"mixture": "MixturePrior"}  # Recipe.prior -> the class train_or_load expects


def build_model(
    recipe: Recipe, *, prior: nn.Module | None = None, warmup_steps: int = 0
) -> tuple[nn.Module, LossFn]:
    """The untrained model and the loss a recipe names. ``prior``: the initial prior module
    for a recipe with ``prior`` set (attached as ``model.prior``, so the optimiser trains it);
    ``warmup_steps``: the warm-up's length in steps (``train_or_load`` computes it)."""
    if recipe.kind == "ae":
        return Autoencoder(latent_dim=recipe.latent_dim), ae_loss
    if recipe.kind == "vae_mlp":
        model = VAE(latent_dim=recipe.latent_dim)
    elif recipe.kind == "vae_conv":
        model = ConvVAE(latent_dim=recipe.latent_dim)
    elif recipe.kind == "arvae":
        from vaelib.autoregressive import ARVAE  # lesson 11

        model = ARVAE(latent_dim=recipe.latent_dim)
    elif recipe.kind == "hvae_mlp":
        from vaelib import hierarchical  # lesson 11: its own two-level loss

        return hierarchical.TwoLevelVAE(z1_dim=recipe.latent_dim), hierarchical.hvae_loss
    elif recipe.kind in ("classifier", "cvae_mlp", "vqvae_mlp"):
        from vaelib import classifier, conditional, vq  # lesson 10's modules

        if recipe.kind == "classifier":
            return classifier.Classifier(recipe.latent_dim), classifier.classifier_loss
        if recipe.kind == "cvae_mlp":
            return conditional.ConditionalVAE(recipe.latent_dim), conditional.cvae_loss
        return vq.VQVAE(n_positions=recipe.latent_dim), vq.vq_loss
    else:
        raise ValueError(f"recipe kind {recipe.kind!r} is unknown: add it to build_model.")
    _check_prior(recipe, prior)
    if recipe.plain:
        return model, vae_loss
    if prior is not None:
        model.prior = prior  # a submodule: trained with the VAE, saved in its state_dict
    loss = ELBOLoss(recipe.beta, free_bits=recipe.free_bits, warmup_steps=warmup_steps, prior=prior)
    return model, loss


def _check_prior(recipe: Recipe, prior: nn.Module | None) -> None:
    if recipe.prior is None:
        if prior is not None:
            raise ValueError("prior is given, but the recipe has prior=None: it trains N(0, I).")
        return
    expected = PRIOR_KINDS.get(recipe.prior)
    if expected is None:
        raise ValueError(
            f"recipe prior {recipe.prior!r} is unknown: use one of {sorted(PRIOR_KINDS)}."
        )
    if prior is None or type(prior).__name__ != expected:
        raise ValueError(
            f"this recipe trains a learned {recipe.prior} prior: pass its initial module, "
            f"prior=priors.{expected}(...) (e.g. {expected}.from_gmm(fitted_mixture))."
        )


def _prior_meta(prior: nn.Module | None) -> dict | None:
    """How the prior started, for the checkpoint's meta: its class, size and a fingerprint of
    its initial parameters (a checkpoint trained from another start won't load)."""
    if prior is None:
        return None
    with torch.no_grad():
        total = sum(float(p.double().abs().sum()) for p in prior.parameters())
        count = sum(p.numel() for p in prior.parameters())
    return {"class": type(prior).__name__, "parameters": count, "abs_sum": round(total, 6)}


def train_or_load(
    name: str,
    device: str | torch.device = "cpu",
    *,
    seed: int = 0,
    progress: bool = True,
    prior: nn.Module | None = None,
    fast: bool | None = None,
) -> tuple[nn.Module, History]:
    """The model ``RECIPES[name]`` trained on its data set's train split, from its checkpoint
    (``checkpoint_path(name)``) when one exists, else trained now and saved for later lessons.

    ``prior``: for a recipe with a learned prior, the prior's initial module (e.g.
    ``priors.MixturePrior.from_gmm(...)``); it is moved to ``device`` and trained with the VAE
    (``model.prior``). The warm-up of a recipe with ``warmup_fraction`` lasts that share of all
    training steps. ``fast=None`` follows ``runtime.fast_mode()`` (pass ``lesson.fast``): the
    data subset, ``recipe.fast_epochs`` and the fast checkpoint folder.
    """
    if name not in RECIPES:
        raise ValueError(f"name={name!r} has no recipe: use one of {sorted(RECIPES)}.")
    recipe = RECIPES[name]
    _check_prior(recipe, prior)
    prior_meta = _prior_meta(prior)
    torch.manual_seed(seed)
    fast = fast_mode() if fast is None else fast
    images, labels = load_dataset(recipe.dataset, "train", fast=fast)
    kw = {"device": device, "seed": seed, "binarize": recipe.binarize}
    if recipe.kind in LABELED_KINDS:  # yields (x, y)
        from vaelib.classifier import LabeledLoader

        loader = LabeledLoader(images, labels, recipe.batch_size, **kw)
    else:
        loader = DeviceLoader(images, recipe.batch_size, **kw)
    epochs = recipe.fast_epochs if fast else recipe.epochs
    warmup_steps = int(recipe.warmup_fraction * epochs * len(loader))
    model, loss_fn = build_model(recipe, prior=prior, warmup_steps=warmup_steps)
    model = model.to(device)
    meta = {"recipe": asdict(recipe), "seed": seed}
    if prior_meta is not None:
        meta["prior"] = prior_meta
    history = train(
        model, loader, loss_fn, epochs=epochs, lr=recipe.lr, checkpoint=checkpoint_path(name, fast=fast),
        meta=meta, progress=progress, desc=name,
    )  # fmt: skip
    return model, history


def load_trained(
    name: str, device: str | torch.device = "cpu", *, fast: bool | None = None
) -> tuple[nn.Module, History]:
    """The model ``RECIPES[name]`` as a lesson trained and saved it, loaded without retraining:
    for a model whose start only its own lesson can rebuild (lesson 08's learned prior starts
    from a mixture fitted to another model's codes). A learned mixture prior is rebuilt with
    the size its checkpoint holds and attached as ``model.prior``. Raises FileNotFoundError
    (run that lesson first) when there is no checkpoint, and ``CheckpointError`` when the one
    there was made by another recipe or for fewer epochs."""
    from vaelib.checkpoint import CheckpointError, load_checkpoint, read_checkpoint

    if name not in RECIPES:
        raise ValueError(f"name={name!r} has no recipe: use one of {sorted(RECIPES)}.")
    recipe = RECIPES[name]
    fast = fast_mode() if fast is None else fast
    path = checkpoint_path(name, fast=fast)
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint for {name!r} ({'fast' if fast else 'full'} mode): the lesson that "
            f"trains it saves it; run that lesson first (lesson {name[6:8]} for lessonNN_ names)."
        )
    blob = read_checkpoint(path)
    epochs = recipe.fast_epochs if fast else recipe.epochs
    saved = blob["meta"]
    if saved.get("recipe") != plain(asdict(recipe)) or saved.get("epochs") != epochs:
        raise CheckpointError(
            f"{path.name} was made by another recipe or epoch count than RECIPES[{name!r}] "
            f"({epochs} epochs): re-run the lesson that trains it."
        )
    model, _ = build_model(recipe) if recipe.prior is None else (None, None)
    if recipe.prior == "mixture":
        from vaelib.priors import MixturePrior

        k, d = blob["state_dict"]["prior.means"].shape
        model, _ = build_model(recipe, prior=MixturePrior(int(k), int(d)))
    history, _ = load_checkpoint(path, model.to(device))
    return model, history


# Recipe fields that only weigh the loss: recipes that differ only in these train as one stack.
LOSS_WEIGHT_FIELDS = frozenset({"beta", "free_bits", "warmup_fraction"})


def train_or_load_many(
    names: list[str],
    device: str | torch.device = "cpu",
    *,
    seed: int = 0,
    progress: bool = True,
    fast: bool | None = None,
) -> dict[str, tuple[nn.Module, History]]:
    """``{name: train_or_load(name, device, seed=seed, fast=fast)}`` for each name, faster:
    recipes that differ only in their loss weights (``LOSS_WEIGHT_FIELDS``) and in the epochs
    of the other mode (``fast_epochs`` in full mode, ``epochs`` in fast mode), and whose models
    stack (MLP VAEs and autoencoders, no learned prior) train together as one stacked model
    (``vaelib.stacked.train_many``: each model ends where it ends alone, to float rounding).
    Each model gets the checkpoint and history ``train_or_load`` gives it (the same file and
    meta: either function loads what the other saved). A recipe with a learned prior needs its
    prior module: train it with ``train_or_load(name, prior=...)``.
    """
    from vaelib import stacked

    unknown = [name for name in names if name not in RECIPES]
    if unknown:
        raise ValueError(f"names {unknown} have no recipe: use names from {sorted(RECIPES)}.")
    fast = fast_mode() if fast is None else fast
    groups: dict[tuple, list[str]] = {}
    unused = "epochs" if fast else "fast_epochs"  # the mode's other budget does not split groups
    for name in dict.fromkeys(names):
        shared = {
            k: v
            for k, v in asdict(RECIPES[name]).items()
            if k not in LOSS_WEIGHT_FIELDS and k != unused
        }
        groups.setdefault(tuple(sorted(shared.items())), []).append(name)
    out: dict[str, tuple[nn.Module, History]] = {}
    for group in groups.values():
        recipe = RECIPES[group[0]]
        if len(group) == 1 or recipe.prior is not None or recipe.kind == "vae_conv":
            out.update({name: train_or_load(name, device, seed=seed, progress=progress, fast=fast)
                        for name in group})  # fmt: skip
            continue
        images, _ = load_dataset(recipe.dataset, "train", fast=fast)
        loader = DeviceLoader(
            images, recipe.batch_size, device=device, seed=seed, binarize=recipe.binarize
        )
        epochs = recipe.fast_epochs if fast else recipe.epochs
        models, loss_fns, states = [], [], []
        for name in group:  # as train_or_load: the same initial weights and noise stream
            torch.manual_seed(seed)
            warmup_steps = int(RECIPES[name].warmup_fraction * epochs * len(loader))
            model, loss_fn = build_model(RECIPES[name], warmup_steps=warmup_steps)
            models.append(model.to(device))
            loss_fns.append(loss_fn)
            cuda = torch.device(device).type == "cuda"
            states.append(torch.cuda.get_rng_state(device) if cuda else torch.get_rng_state())
        histories = stacked.train_many(
            models, loader, loss_fns, epochs=epochs, lr=recipe.lr,
            checkpoints=[checkpoint_path(name, fast=fast) for name in group],
            metas=[{"recipe": asdict(RECIPES[name]), "seed": seed} for name in group],
            rng_states=states, progress=progress, desc=f"{group[0]} and {len(group) - 1} more",
        )  # fmt: skip
        out.update({name: (m, h) for name, m, h in zip(group, models, histories, strict=True)})
    return {name: out[name] for name in names}
