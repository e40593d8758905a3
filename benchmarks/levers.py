"""``python benchmarks/levers.py``: what each speed lever does to one MLP VAE training step.

One process, one thread (thread CPU time: on a shared machine the steadiest clock), every
variant timed in turn, ``--repeats`` times, the fastest block of each counted, all blocks kept.
The step: ``vaelib.models.VAE`` (784-400-20), batch 128, Adam, the negative ELBO. Variants:

- ``eager_fp32`` / ``eager_bf16``: ``losses.vae_loss``, fused Adam, float32 or bf16 autocast;
- ``eager_fp32_adam``: ``torch.optim.Adam`` without ``fused=True``;
- ``lean_fp32``: the same loss without the per-step input checks (``negative_elbo``'s range
  check of x, ``reparameterize``'s finiteness check);
- ``manual_fp32``: a hand-written step (forward, backward and fused Adam without autograd: the
  ``addmm``s of the forward, ``(sigmoid(l) - x) / N`` for the BCE's gradient, the ReLU masks),
  checked to give the eager step's losses;
- ``compiled_fp32`` (``--compile``): ``torch.compile`` of ``lean``, its first two steps'
  seconds reported apart (``compile_seconds``, wall clock: inductor compiles in subprocesses);
- ``gemm_fp32`` / ``gemm_bf16``: the step's matrix products alone (the floor ``bench.py``
  calls ``gemm``).

Prints one JSON object: milliseconds per step (best and every block) and each over ``gemm``.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.nn import functional as F

from vaelib.losses import vae_loss
from vaelib.models import VAE
from vaelib.runtime import cpu_name

D, B = 20, 128
LAYERS = [(784, 400, False), (400, 2 * D, True), (D, 400, True), (400, 784, True)]


def _x() -> torch.Tensor:
    return torch.rand(B, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def lean_loss(model, x):
    """``losses.vae_loss`` without the per-step input checks: same numbers, same noise."""
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    logits = model.decode_logits(z)
    n = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum() / n
    return {"loss": recon + kl, "recon": recon, "kl": kl}


def eager(loss_fn=vae_loss, amp=False, fused=True, compile_=False):
    torch.manual_seed(0)
    model, x = VAE(D), _x()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, fused=fused or None)
    loss_fn = torch.compile(loss_fn) if compile_ else loss_fn

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            terms = loss_fn(model, x)
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        opt.step()
        return terms["loss"].detach()

    return step


def manual():
    """The hand-written step: forward, backward and Adam, no autograd."""
    torch.manual_seed(0)
    m, x = VAE(D), _x().flatten(1)
    with torch.no_grad():
        heads_w = torch.cat([m.mu_head.weight, m.logvar_head.weight])
        heads_b = torch.cat([m.mu_head.bias, m.logvar_head.bias])
    p = [m.encoder[0].weight, m.encoder[0].bias, heads_w, heads_b, m.decoder[0].weight,
         m.decoder[0].bias, m.decoder[2].weight, m.decoder[2].bias]  # fmt: skip
    p = [t.detach() for t in p]
    opt = torch.optim.Adam(p, lr=2e-3, fused=True)

    @torch.no_grad()
    def step():
        n = x.shape[0]
        h1 = torch.addmm(p[1], x, p[0].t()).relu_()
        ml = torch.addmm(p[3], h1, p[2].t())
        mu, lv = ml[:, :D], ml[:, D:]
        std = torch.exp(0.5 * lv)
        eps = torch.randn_like(mu)
        z = torch.addcmul(mu, std, eps)
        h2 = torch.addmm(p[5], z, p[4].t()).relu_()
        logits = torch.addmm(p[7], h2, p[6].t())
        var = std * std
        recon = (F.softplus(logits).sum() - torch.dot(x.flatten(), logits.flatten())) / n
        kl = 0.5 * (mu.pow(2) + var - 1 - lv).sum() / n
        dl = torch.sigmoid(logits).sub_(x).div_(n)  # d BCE / d logits
        g = [None] * 8
        g[6], g[7] = dl.t() @ h2, dl.sum(0)
        dh2 = (dl @ p[6]).mul_(h2 > 0)
        g[4], g[5] = dh2.t() @ z, dh2.sum(0)
        dz = dh2 @ p[4]
        dml = torch.cat([dz + mu / n, torch.addcmul(0.5 * (var - 1) / n, dz, 0.5 * std * eps)], 1)
        g[2], g[3] = dml.t() @ h1, dml.sum(0)
        dh1 = (dml @ p[2]).mul_(h1 > 0)
        g[0], g[1] = dh1.t() @ x, dh1.sum(0)
        for t, grad in zip(p, g, strict=True):
            t.grad = grad
        opt.step()
        return recon + kl

    return step


def gemm(dtype):
    """The step's matrix products alone: forward, input gradients (not the first layer's) and
    weight gradients of each layer (the two heads as one)."""
    gen = torch.Generator().manual_seed(0)
    ops = []
    for k, n, input_grad in LAYERS:
        a, w = torch.randn(B, k, generator=gen), torch.randn(k, n, generator=gen)
        g, wt = torch.randn(B, n, generator=gen), torch.randn(n, k, generator=gen)
        ops.append([t.to(dtype) for t in (a, w, g, wt)] + [input_grad])

    def step():
        for a, w, g, wt, input_grad in ops:
            a @ w
            if input_grad:
                g @ wt
            g.t() @ a

    return step


def block_ms(step, n: int) -> float:
    start = time.thread_time()
    for _ in range(n):
        step()
    return (time.thread_time() - start) / n * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip("`"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30, help="steps per timed block")
    parser.add_argument("--compile", action="store_true", help="also torch.compile (slow)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    variants = {
        "eager_fp32": eager(),
        "eager_bf16": eager(amp=True),
        "eager_fp32_adam": eager(fused=False),
        "lean_fp32": eager(lean_loss),
        "manual_fp32": manual(),
        "gemm_fp32": gemm(torch.float32),
        "gemm_bf16": gemm(torch.bfloat16),
    }
    torch.manual_seed(5)
    reference = [float(variants["eager_fp32"]()) for _ in range(3)]
    out: dict = {"cpu": cpu_name(), "torch": torch.__version__, "threads": 1}
    for name in ("lean_fp32", "manual_fp32"):
        torch.manual_seed(5)
        out[f"{name}_first_losses_minus_eager"] = [
            float(variants[name]()) - r for r in reference
        ]  # fmt: skip
    if args.compile:
        variants["compiled_fp32"] = eager(lean_loss, compile_=True)
        start = time.perf_counter()
        variants["compiled_fp32"]()
        variants["compiled_fp32"]()
        out["compile_seconds"] = time.perf_counter() - start
    blocks: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.repeats):
        for name, step in variants.items():
            step()
            blocks[name].append(block_ms(step, args.steps))
    with open("/proc/loadavg") as f:
        out["load_average_1min"] = float(f.read().split()[0])
    gemm_ms = min(min(blocks["gemm_fp32"]), min(blocks["gemm_bf16"]))
    out["ms_per_step"] = {k: min(v) for k, v in blocks.items()}
    out["over_gemm"] = {k: min(v) / gemm_ms for k, v in blocks.items()}
    out["blocks_ms"] = blocks
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
