"""Train several models of one shape as one stacked model: one batched matrix multiply per
layer over a model axis instead of one small one per model.

A sweep of a lesson (lesson 08's betas and fixes, lesson 07's seeds) trains models that differ
only in their loss weights. ``train_many`` stacks each layer's weights, ``(M, out, in)``, and runs
every model's step at once: the layer is ``y[m] = x[m] @ W[m]^T + b[m]`` (``torch.baddbmm``), and
where all models read the same batch the first layer is one matrix product ``x @ [W_1; ...;
W_M]^T``. Each model keeps its own loss weights (beta, free bits, beta warm-up), its own noise
stream and its own Adam state (Adam is elementwise, so one Adam over stacked tensors is M Adams),
so **each model ends where training it alone with ``train.train`` ends** (to float rounding;
``tests/test_stacked.py``). The models come back as ordinary modules, each with its own history
and checkpoint, the same files ``train.train`` writes.

Stackable: ``models.VAE`` (MLP) trained with ``losses.vae_loss`` or an ``ELBOLoss`` (beta,
free bits, warm-up; no learned prior), and ``models.Autoencoder`` with ``losses.ae_loss``.
Speed-up on the six-beta sweep: ``python benchmarks/bench.py`` (``sweep``), docs/benchmarks.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from vaelib import train as T
from vaelib import validate as check
from vaelib.checkpoint import check_writable, load_if_matching, save_checkpoint
from vaelib.losses import beta_warmup, negative_elbo
from vaelib.models import VAE, Autoencoder

__all__ = ["LossWeights", "loss_weights", "stackable", "train_many"]


@dataclass(frozen=True)
class LossWeights:
    """One model's loss in a stack: ``"ae"`` (BCE only) or ``"elbo"`` (``negative_elbo`` with
    ``beta``, ``free_bits`` and ``beta_t = beta * min(1, t / warmup_steps)`` from step
    ``start_step``)."""

    kind: str
    beta: float = 1.0
    free_bits: float = 0.0
    warmup_steps: int = 0
    start_step: int = 0
    log_beta: bool = False  # ELBOLoss logs beta_t; losses.vae_loss does not


def loss_weights(loss_fn) -> LossWeights:
    """The ``LossWeights`` of a loss function ``train.train`` accepts, or ValueError when it
    cannot be stacked: ``losses.ae_loss``, ``losses.vae_loss`` (beta 1) and ``ELBOLoss``
    objects without a prior (their ``beta``, ``free_bits``, ``warmup_steps`` and ``step``)."""
    name = getattr(loss_fn, "__name__", type(loss_fn).__name__)
    if name == "ae_loss":
        return LossWeights("ae")
    if name == "vae_loss":
        return LossWeights("elbo")
    if all(hasattr(loss_fn, a) for a in ("beta", "free_bits", "warmup_steps")):
        if getattr(loss_fn, "prior", None) is not None:
            raise ValueError(
                "an ELBOLoss with a prior cannot be stacked (the prior is a module of its own "
                "model): train that model alone with train.train."
            )
        return LossWeights(
            "elbo", float(loss_fn.beta), float(loss_fn.free_bits), int(loss_fn.warmup_steps),
            int(getattr(loss_fn, "step", 0)), True,
        )  # fmt: skip
    raise ValueError(
        f"loss_fn {name!r} cannot be stacked: use losses.ae_loss, losses.vae_loss or an "
        "ELBOLoss (beta, free_bits, warmup_steps), or train the model alone with train.train."
    )


def _layers(seq: nn.Sequential) -> list[nn.Module]:
    for layer in seq:
        if not isinstance(layer, nn.Linear | nn.ReLU):
            raise ValueError(f"only Linear and ReLU layers stack, found {type(layer).__name__}.")
    return list(seq)


def _structure(model: nn.Module) -> tuple:
    """What must agree between stacked models: the class and every parameter's shape."""
    return type(model), tuple((n, tuple(p.shape)) for n, p in model.named_parameters())


def stackable(models: Sequence[nn.Module]) -> bool:
    """True when ``models`` are MLP ``VAE``s or ``Autoencoder``s of one shape (no extra modules)."""
    if not models or type(models[0]) not in (VAE, Autoencoder):
        return False
    first = _structure(models[0])
    try:
        _layers(models[0].encoder), _layers(models[0].decoder)
    except ValueError:
        return False
    return all(_structure(m) == first for m in models)


class _Stack:
    """The models' Linear layers as stacked leaf tensors ``W (M, out, in)``, ``b (M, out)``:
    the encoder, for a VAE its two heads as one layer (``[mu; logvar]``), the decoder."""

    def __init__(self, models: Sequence[nn.Module]) -> None:
        self.models, self.vae = list(models), isinstance(models[0], VAE)
        self.M = len(models)
        self.encoder = self._stack([_layers(m.encoder) for m in models])
        if self.vae:
            heads = [[nn.ModuleList([m.mu_head, m.logvar_head])] for m in models]
            self.heads = self._stack(heads)
        self.decoder = self._stack([_layers(m.decoder) for m in models])
        self.image_shape = models[0].image_shape

    def _stack(self, per_model: list[list[nn.Module]]) -> list:
        ops = []
        for layer in zip(*per_model, strict=True):
            if isinstance(layer[0], nn.ReLU):
                ops.append(("relu", None, None, None))
                continue
            parts = list(layer[0]) if isinstance(layer[0], nn.ModuleList) else [layer[0]]
            with torch.no_grad():
                w = torch.stack([torch.cat([p.weight for p in self._parts(m)]) for m in layer])
                b = torch.stack([torch.cat([p.bias for p in self._parts(m)]) for m in layer])
            ops.append(("linear", w.requires_grad_(), b.requires_grad_(), len(parts)))
        return ops

    @staticmethod
    def _parts(module: nn.Module) -> list[nn.Linear]:
        return list(module) if isinstance(module, nn.ModuleList) else [module]

    def parameters(self) -> list[torch.Tensor]:
        layers = self.encoder + (self.heads if self.vae else []) + self.decoder
        return [t for op, w, b, _ in layers if op == "linear" for t in (w, b)]

    def _run(self, ops: list, h: torch.Tensor) -> torch.Tensor:
        for op, w, b, _ in ops:
            if op == "relu":
                h = torch.relu(h)
            elif h.dim() == 2:  # one input for every model: one matrix product for all of them
                out = F.linear(h, w.flatten(0, 1), b.flatten())
                h = out.view(h.shape[0], self.M, -1).transpose(0, 1).contiguous()
            else:
                h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        return h

    def encode(self, x: torch.Tensor):
        """x: (B, C, H, W) shared or (M, B, C, H, W) -> (M, B, D) codes, or (mu, logvar)."""
        h = self._run(self.encoder, x.flatten(-3))
        if not self.vae:
            return h
        return self._run(self.heads, h).chunk(2, dim=-1)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """z: (M, B, D) -> logits (M, B, C, H, W)."""
        return self._run(self.decoder, z).unflatten(-1, self.image_shape)

    @torch.no_grad()
    def write_back(self) -> None:
        """Copy each model's slice of the stacked weights into its own modules."""
        models = self.models
        layers = [(self.encoder, [_layers(m.encoder) for m in models])]
        if self.vae:
            layers.append(
                (self.heads, [[nn.ModuleList([m.mu_head, m.logvar_head])] for m in models])
            )
        layers.append((self.decoder, [_layers(m.decoder) for m in models]))
        for ops, per_model in layers:
            for i, (op, w, b, _) in enumerate(ops):
                if op != "linear":
                    continue
                for m, mods in enumerate(per_model):
                    row = 0
                    for lin in self._parts(mods[i]):
                        n = lin.weight.shape[0]
                        lin.weight.copy_(w[m, row : row + n])
                        lin.bias.copy_(b[m, row : row + n])
                        row += n


def _generators(models, rng_states, device) -> list[torch.Generator]:
    """One noise stream per model: a generator in the state the global one would have when the
    model trains alone (default: the global state now, i.e. right after building the models
    each from ``torch.manual_seed(seed)``)."""
    gens = []
    for i in range(len(models)):
        g = torch.Generator(device=device)
        if rng_states is not None:
            state = rng_states[i]
        elif device.type == "cuda":
            state = torch.cuda.get_rng_state(device)
        else:
            state = torch.get_rng_state()
        g.set_state(state)
        gens.append(g)
    return gens


def _batches(loaders, n_models: int):
    """Yield x: (B, ...) when one loader serves every model, else (M, B, ...) stacked."""
    if not isinstance(loaders, list | tuple) or not loaders or torch.is_tensor(loaders[0]):
        yield from loaders
        return
    if len(loaders) != n_models:
        raise ValueError(f"pass one loader, or one per model ({n_models}), got {len(loaders)}.")
    if all(loader is loaders[0] for loader in loaders):
        yield from loaders[0]
        return
    for xs in zip(*loaders, strict=True):
        yield torch.stack(xs)


def _stack_loss(stack: _Stack, x, weights: list[LossWeights], gens, step: int):
    """The stacked step's summed loss and each model's logged terms, (M,) tensors."""
    B = x.shape[-4]
    if not stack.vae:
        logits = stack.decode_logits(stack.encode(x))
        xs = x.expand_as(logits)
        recon = F.binary_cross_entropy_with_logits(logits, xs, reduction="none")
        recon = recon.flatten(1).sum(1) / B  # (M,): each model's per-image mean
        return recon.sum(), {"loss": recon, "recon": recon}
    mu, logvar = stack.encode(x)
    eps = torch.stack(
        [torch.randn(mu.shape[1:], generator=g, device=mu.device, dtype=mu.dtype) for g in gens]
    )
    z = mu + torch.exp(0.5 * logvar) * eps
    logits = stack.decode_logits(z)
    M = logits.shape[0]
    # The one loss home, once for the whole stack (models as more rows): each image's recon
    # and KL, then each model's own beta_t. A model with free bits gets its own call.
    xs = x.expand_as(logits) if x.dim() == logits.dim() - 1 else x
    t = negative_elbo(xs.flatten(0, 1), logits.flatten(0, 1), mu.flatten(0, 1),
                      logvar.flatten(0, 1))  # fmt: skip
    recon, kl = t.recon.view(M, B).mean(1), t.kl.view(M, B).mean(1)
    betas = [beta_warmup(w.start_step + step, w.warmup_steps, w.beta) for w in weights]
    beta = torch.tensor(betas, device=recon.device, dtype=recon.dtype)
    losses = list((recon + beta * kl).unbind())
    for m, w in enumerate(weights):
        if w.free_bits > 0:
            own = negative_elbo(
                xs[m], logits[m], mu[m], logvar[m], beta=betas[m], free_bits=w.free_bits
            )
            losses[m] = own.loss.mean()
    out = {"loss": torch.stack(losses), "recon": recon, "kl": kl, "beta": beta}
    out = {key: value.float() for key, value in out.items()}
    return out["loss"].sum(), out


def train_many(
    models: Sequence[nn.Module],
    loaders,
    loss_fns: Sequence,
    *,
    epochs: int,
    lr: float = 1e-3,
    checkpoints: Sequence[str | Path | None] | None = None,
    metas: Sequence[dict | None] | None = None,
    rng_states: Sequence[torch.Tensor] | None = None,
    amp: bool | None = None,
    progress: bool = True,
    desc: str = "stacked",
) -> list[T.History]:
    """Train ``models`` (same class and shapes, see ``stackable``) together, each as
    ``train.train(models[i], loader, loss_fns[i], epochs=epochs, lr=lr, ...)`` would alone.

    ``loaders``: one loader for all (each model sees the same batches, as when each trains alone
    from an identically seeded ``DeviceLoader``) or one per model. ``checkpoints``/``metas``:
    per model, as ``train.train``'s ``checkpoint``/``meta``: a matching checkpoint is loaded and
    that model leaves the stack; the others are saved after training with the same meta,
    ``{"epochs": epochs, **meta, "steps": steps}``. ``rng_states``: each model's noise stream
    (default: the global RNG's state now, which is each model's when every model was built
    right after ``torch.manual_seed(seed)``). Returns each model's history; ``ELBOLoss``
    objects advance their ``step`` as in training alone.
    """
    n = len(models)
    check.integer(epochs, "epochs", 1, "passes over the loader")
    check.number(lr, "lr", minimum=0, strict=True)
    if len(loss_fns) != n:
        raise ValueError(f"pass one loss_fn per model: {len(loss_fns)} for {n} models.")
    checkpoints = list(checkpoints) if checkpoints is not None else [None] * n
    metas = list(metas) if metas is not None else [None] * n
    if len(checkpoints) != n or len(metas) != n:
        raise ValueError(f"checkpoints and metas need one entry per model ({n}).")
    if not stackable(models):
        raise ValueError(
            "models must be MLP VAEs or Autoencoders of one class and shape (vaelib.models.VAE "
            "or Autoencoder, no extra submodules): train other models with train.train."
        )
    weights = [loss_weights(f) for f in loss_fns]
    if {w.kind for w in weights} != {"elbo" if isinstance(models[0], VAE) else "ae"}:
        raise ValueError("a VAE stack needs ELBO losses, an Autoencoder stack losses.ae_loss.")
    histories: list[T.History | None] = [None] * n
    expected = [{"epochs": epochs, **(meta or {})} for meta in metas]
    for i, path in enumerate(checkpoints):
        if path is not None and Path(path).exists():
            histories[i] = load_if_matching(Path(path), models[i], expected[i])
        if histories[i] is None and path is not None:
            check_writable(path)
    todo = [i for i in range(n) if histories[i] is None]
    if not todo:
        return histories
    device = next(models[0].parameters()).device
    amp = T.default_amp(device) if amp is None else amp
    gens = _generators(models, rng_states, device)
    stack = _Stack([models[i] for i in todo])
    optimizer = torch.optim.Adam(stack.parameters(), lr=lr, fused=device.type in ("cpu", "cuda"))
    if isinstance(loaders, list | tuple) and len(loaders) == n and not torch.is_tensor(loaders[0]):
        loaders = [loaders[i] for i in todo]
    w_todo, g_todo = [weights[i] for i in todo], [gens[i] for i in todo]
    means: list[dict[str, list[float]]] = []  # per epoch: key -> each model's mean
    step = 0
    first = loaders[0] if isinstance(loaders, list | tuple) and todo else loaders
    total = epochs * len(first) if hasattr(first, "__len__") else None
    with tqdm(total=total, desc=desc, unit="batch", disable=not progress) as bar:
        for epoch in range(epochs):
            sums: dict[str, torch.Tensor] = {}
            count = 0
            for x in _batches(loaders, len(todo)):
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                    loss, terms = _stack_loss(stack, x, w_todo, g_todo, step)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                for key, value in terms.items():
                    sums[key] = sums.get(key, 0) + value.detach().float()
                count, step = count + 1, step + 1
                bar.update(1)
            means.append(_checked(sums, count, stack, epoch, epochs, lr))
            bar.set_postfix(epoch=epoch + 1)
    stack.write_back()
    for j, i in enumerate(todo):
        keys = [k for k in means[0] if k != "beta" or weights[i].log_beta]
        histories[i] = {k: [epoch[k][j] for epoch in means] for k in keys}
        models[i].eval()
        if hasattr(loss_fns[i], "step"):
            loss_fns[i].step += step
        if checkpoints[i] is not None:
            save_checkpoint(checkpoints[i], models[i], histories[i], {**expected[i], "steps": step})
    return histories


def _checked(sums, count, stack: _Stack, epoch: int, epochs: int, lr) -> dict:
    """An epoch's sums per model, read from the device once; ValueError (nothing saved) when
    the epoch ran no batch or any model's loss or weights stopped being finite."""
    if count == 0:
        raise ValueError(
            f"epoch {epoch + 1} of {epochs} ran no batch: the loader is empty or used up (pass a "
            "list of batches or a DeviceLoader). No checkpoint was written."
        )
    finite = torch.stack(
        [torch.isfinite(p.detach()).flatten(1).all(1) for p in stack.parameters()]
    ).all(0)
    ok = finite & torch.isfinite(sums["loss"])
    if not bool(ok.all()):
        bad = [i for i, v in enumerate(ok.tolist()) if not v]
        raise ValueError(
            f"training diverged in epoch {epoch + 1} of {epochs} for stacked model(s) {bad}: the "
            f"loss or the weights became nan or inf. Lower the learning rate (lr={lr}). No "
            "checkpoint was written."
        )
    return {k: (v / count).tolist() for k, v in sums.items()}
