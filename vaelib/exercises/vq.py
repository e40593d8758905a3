"""Self-checks for lesson 10 (control and discrete codes), in the course's one voice.

``check_quantize``: the student writes the VQ-VAE's quantisation step with the straight-through
gradient, ``quantize(z_e, codebook) -> z_st``. It is tried on inputs the notebook never shows
(shapes (5, 3, 4) and (2, 7, 2), float64), its value against the nearest codes and its gradient
against the decoder's (the straight-through estimator passes it to ``z_e`` unchanged), with
vaelib's ``vq.nearest_code`` and ``vq.straight_through`` refused.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vaelib import vq
from vaelib.exercises.feedback import (
    NoAnswer,
    ShortcutError,
    not_yet,
    refuse_shortcut,
    right,
    unanswered,
)

F64 = torch.float64


def _cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(z_e (N, M, D), codebook (K, D), upstream gradient (N, M, D)), float64."""
    g = torch.Generator().manual_seed(10)
    out = []
    for n, m, d, k in ((5, 3, 4, 6), (2, 7, 2, 3)):
        z_e = torch.randn(n, m, d, generator=g, dtype=F64)
        codebook = torch.randn(k, d, generator=g, dtype=F64)
        out.append((z_e, codebook, torch.randn(n, m, d, generator=g, dtype=F64)))
    return out


def _run(fn, z_e, codebook, upstream):
    """The student's z_st and the gradients it sends to z_e and to the codebook, or a hint."""
    z_e = z_e.clone().requires_grad_(True)
    codebook = codebook.clone().requires_grad_(True)
    try:
        got = fn(z_e, codebook)
    except ShortcutError as err:
        return str(err)
    except Exception as err:  # noqa: BLE001 - the student's code may fail in any way
        return f"your function raised {type(err).__name__}: {err}"
    if got is None:
        return NoAnswer("your function returns None; write its body and return z_st.")
    if not isinstance(got, torch.Tensor):
        return f"return a tensor z_st, got {type(got).__name__}."
    if got.shape != z_e.shape:
        return f"return z_st with z_e's shape {tuple(z_e.shape)}, got {tuple(got.shape)}."
    if not got.requires_grad:
        return (
            "z_st carries no gradient at all: the decoder's gradient must reach z_e. "
            "Build it from z_e: z_e + (z_q - z_e).detach()."
        )
    (got * upstream).sum().backward()
    return got.detach(), z_e.grad, codebook.grad


def check_quantize(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None) -> bool:
    """Exercise 1: ``fn(z_e, codebook)``, z_e (N, M, D), codebook (K, D), returns z_st
    (N, M, D) whose value is each vector's nearest code ``e_c``, ``c = argmin_k ||z_e - e_k||^2``,
    and whose gradient is the identity to z_e (straight-through): the encoder receives the
    decoder's gradient unchanged, and the codebook none (it learns from its own loss)."""
    if unanswered(fn, "your function"):
        return False
    with refuse_shortcut(fn, (vq, "nearest_code"), (vq, "straight_through")) as student:
        for z_e, codebook, upstream in _cases():
            out = _run(student, z_e, codebook, upstream)
            if isinstance(out, str):
                return not_yet(out)
            value, grad_z, grad_codebook = out
            dist = torch.cdist(z_e.reshape(-1, z_e.shape[-1]), codebook)
            z_q = codebook[dist.argmin(1)].view_as(z_e)
            if torch.allclose(value, z_e):
                return not_yet(
                    "z_st equals z_e: nothing was quantised. Its value must be the nearest code."
                )
            if torch.allclose(value, codebook[dist.argmax(1)].view_as(z_e)):
                return not_yet("those are the farthest codes: take the argmin of the distances.")
            if not torch.allclose(value, z_q, rtol=1e-6, atol=1e-9):
                return not_yet(
                    "the value of z_st must be each vector's nearest code, codebook[c] with "
                    "c = argmin_k ||z_e - e_k||^2 over the last dimension."
                )
            if grad_z is None or torch.allclose(grad_z, torch.zeros_like(grad_z)):
                return not_yet(
                    "the value is right, but no gradient reaches z_e: indexing the codebook "
                    "cuts it. Add the straight-through term: z_e + (z_q - z_e).detach()."
                )
            if grad_codebook is not None and grad_codebook.abs().sum() > 0:
                return not_yet(
                    "the decoder's gradient flows into the codebook: detach z_q - z_e as a "
                    "whole, z_e + (z_q - z_e).detach(), so only z_e receives it."
                )
            if not torch.allclose(grad_z, upstream, rtol=1e-6, atol=1e-9):
                return not_yet(
                    "z_e receives a changed gradient: straight-through copies it unchanged "
                    "(the identity), as z_e + (z_q - z_e).detach() does."
                )
    return right(
        "the forward pass uses the nearest code z_q, the backward pass treats quantisation as the "
        "identity: z_e + (z_q - z_e).detach() gives the encoder the decoder's gradient as it is."
    )
