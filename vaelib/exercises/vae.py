"""Self-checks for lesson 06 (training a VAE), in the course's one voice (``feedback``).

Each ``check_*`` calls the student's function on inputs the notebook never showed (several
shapes, edge cases), refuses the vaelib function it re-implements while it runs, prints
``Right: <why>`` or ``Not yet: <hint>`` and returns the bool. The right answers come from
vaelib's one home of the loss (``losses.negative_elbo``, bound here before any refusal), in
float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from vaelib.exercises.feedback import call_student, not_yet, refuse_shortcut, right, unanswered
from vaelib.losses import negative_elbo as _negative_elbo  # the reference, never refused

F64 = torch.float64


def _shortcuts() -> list[tuple[object, str]]:
    """vaelib's versions of the VAE loss and its KL term, refused while a check runs."""
    from vaelib import evaluate, kl, losses

    return [
        (losses, "negative_elbo"),
        (losses, "vae_loss"),
        (losses, "reconstruction_loss"),
        (losses, "reconstruction_loss_with_logits"),
        (kl, "kl_gaussian"),
        (evaluate, "model_negative_elbo"),
    ]


# ----------------------------------------------------------------------------- exercise 1


def _elbo_cases() -> list[tuple[torch.Tensor, ...]]:
    """(x, logits, mu, logvar) batches of several shapes, one with logits far beyond +-17."""
    g = torch.Generator().manual_seed(6)
    cases = []
    for n, d, side in ((5, 8, 28), (3, 2, 8), (1, 1, 4)):
        x = torch.rand(n, 1, side, side, generator=g, dtype=F64)
        x[0, 0, 0] = torch.tensor([0.0, 1.0] * (side // 2), dtype=F64)  # exact 0s and 1s too
        logits = 3 * torch.randn(n, 1, side, side, generator=g, dtype=F64)
        mu = torch.randn(n, d, generator=g, dtype=F64)
        logvar = torch.randn(n, d, generator=g, dtype=F64)
        cases.append((x, logits, mu, logvar))
    cases[1][1][:, 0, 0, :4] = torch.tensor([40.0, -40.0, 60.0, -60.0], dtype=F64)
    return cases


def _elbo_terms(x, logits, mu, logvar) -> tuple[torch.Tensor, torch.Tensor]:
    """recon (N,) = sum_pixels softplus(l) - x l; kl (N,) = -0.5 sum (1 + lv - mu^2 - e^lv):
    ``losses.negative_elbo``'s two terms."""
    terms = _negative_elbo(x, logits, mu, logvar)
    return terms.recon, terms.kl


def _elbo_hint(got: torch.Tensor, x, logits, mu, logvar) -> str | None:
    """A hint for a wrong per-image loss, or None if it is right."""
    recon, kl = _elbo_terms(x, logits, mu, logvar)
    n, pixels = x.shape[0], x[0].numel()

    def close(t: torch.Tensor) -> bool:
        return got.shape == t.shape and bool(torch.allclose(got, t, rtol=1e-6, atol=1e-6))

    if got.dim() == 0 or got.shape != (n,):
        if got.numel() == 1 and n > 1:
            return (
                "return one value per image, shape (N,): sum over pixels and latent dimensions "
                "(dim=1 after flatten(1)), not over the batch."
            )
        return f"return one value per image, shape (N,) = ({n},), got {tuple(got.shape)}."
    if not bool(torch.isfinite(got).all()):
        return (
            "some values are inf or nan: for large logits sigmoid rounds to 0 or 1 and log(0) = "
            "-inf. Use the softplus form softplus(logits) - x * logits (or "
            "F.binary_cross_entropy_with_logits(..., reduction='none'))."
        )
    if close(recon + kl):
        return None
    if close(recon):
        return "that is the reconstruction term alone: add the KL, -0.5 * sum(1 + logvar - mu^2 - exp(logvar))."
    if close(kl):
        return "that is the KL term alone: add the reconstruction BCE, summed over pixels."
    if close(recon - kl):
        return "the KL term is added (it is >= 0): check its sign."
    if close(recon + 2 * kl) or close(recon + 0.5 * kl):
        return "check the KL's factor: -0.5 * sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))."
    if close(recon / pixels + kl) or close(recon / pixels + kl / mu.shape[1]):
        return "sum over pixels and latent dimensions, don't average: nats per image."
    return (
        "compare term by term: recon = sum over pixels of softplus(logits) - x * logits, kl = "
        "-0.5 * sum_j (1 + logvar - mu^2 - exp(logvar)), loss = recon + kl, per image."
    )


def check_negative_elbo(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None,
) -> bool:
    """Exercise 1: ``fn(x, logits, mu, logvar)`` returns the negative ELBO per image, (N,):
    ``sum_pixels BCE(x, sigmoid(logits)) - 0.5 * sum_j (1 + logvar - mu^2 - exp(logvar))``.

    Tried on three batches of different shapes (one with logits of +-60) in float64, with
    vaelib's loss and KL refused while it runs.
    """
    if unanswered(fn, "your function"):
        return False
    with refuse_shortcut(fn, *_shortcuts()) as stand_in:
        fn = stand_in or fn  # a stand-in when fn is the library function itself
        for x, logits, mu, logvar in _elbo_cases():
            got = call_student(fn, x, logits, mu, logvar, none_hint="write its body.")
            if isinstance(got, str):
                return not_yet(got)
            hint = _elbo_hint(got, x, logits, mu, logvar)
            if hint is not None:
                return not_yet(f"{hint} (batch of {x.shape[0]}, {mu.shape[1]}-D codes)")
    return right(
        "recon + KL per image, stable for any logit: the loss lesson 04 derives as -ELBO, on "
        "every batch and shape tried."
    )


# ----------------------------------------------------------------------------- exercise 2


def _blind_cases() -> list[torch.Tensor]:
    """Images (N, 1, H, W) in [0, 1]: grey with pixels that are 0 (or 1) in every image,
    binary, and a single image."""
    g = torch.Generator().manual_seed(7)
    grey = torch.rand(50, 1, 28, 28, generator=g, dtype=F64)
    grey[:, :, :, :3] = 0.0  # a black border, as in Fashion-MNIST
    grey[:, :, 0, 10:12] = 1.0
    binary = torch.bernoulli(torch.full((7, 1, 5, 5), 0.3, dtype=F64), generator=g)
    single = torch.rand(1, 1, 6, 6, generator=g, dtype=F64)
    return [grey, binary, single]


def _blind_nats(x: torch.Tensor) -> float:
    """``-(1/N) sum_n sum_i [x log m + (1 - x) log(1 - m)]`` with m the mean image."""
    m = x.mean(0, keepdim=True).expand_as(x)
    bce = -(torch.special.xlogy(x, m) + torch.special.xlogy(1 - x, 1 - m))
    return float(bce.flatten(1).sum(1).mean())


def check_blind_decoder_nats(fn: Callable[[torch.Tensor], object] | None) -> bool:
    """Exercise 2: ``fn(x)`` returns the mean over images of the BCE (summed over pixels) of
    the decoder that ignores z and outputs the mean image: ``sum_i H(m_i)`` in nats per image,
    ``H(m) = -m log m - (1 - m) log(1 - m)``, m = x.mean(0). Checked to rel 1e-6 on three sets.
    """
    if unanswered(fn, "your function"):
        return False
    with refuse_shortcut(fn, *_shortcuts()) as stand_in:
        fn = stand_in or fn  # a stand-in when fn is the library function itself
        for x in _blind_cases():
            got = call_student(fn, x, none_hint="write its body and return the number.")
            if isinstance(got, str):
                return not_yet(got)
            if got.numel() != 1:
                return not_yet(
                    f"return one number (nats per image, averaged over the N images), got a "
                    f"tensor of shape {tuple(got.shape)}."
                )
            value, target = float(got), _blind_nats(x)
            pixels, n = x[0].numel(), x.shape[0]
            hint = _blind_hint(value, target, pixels, n)
            if hint is not None:
                return not_yet(f"{hint} (images of shape {tuple(x.shape[1:])})")
    from vaelib.data import load_dataset, to_float

    test = to_float(load_dataset("fashion-mnist", "test")[0]).double()
    nats = float(torch.as_tensor(fn(test)))
    return right(
        f"x_hat = the mean image minimises the expected BCE when z is ignored; on the "
        f"{len(test)} test images it costs {nats:.1f} nats per image. The VAE's reconstruction "
        "term (section 2) is lower: the difference is what z buys, for the KL it costs."
    )


def _blind_hint(value: float, target: float, pixels: int, n: int) -> str | None:
    def near(t: float) -> bool:
        return math.isfinite(value) and math.isclose(value, t, rel_tol=1e-6, abs_tol=1e-9)

    if near(target):
        return None
    if not math.isfinite(value):
        return (
            "your number is nan or inf: pixels that are 0 in every image have m = 0, and "
            "0 * log 0 must count as 0 (torch.special.xlogy, or clamp m to [1e-12, 1 - 1e-12])."
        )
    if near(pixels * math.log(2)):
        return "that is the decoder that outputs 0.5 everywhere (D log 2): output the mean image instead."
    if near(target / pixels):
        return "that is per pixel: sum the BCE over the pixels of an image."
    if near(target * n):
        return "that is the sum over the N images: average over images (nats per image)."
    return (
        "use m = x.mean(0) (the mean image over the batch), then the BCE of every image against "
        "m, summed over pixels, averaged over images."
    )


# ----------------------------------------------------------------------------- exercise 3


def _lme_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(log_w, target) pairs: hundreds of nats below 0, above 0, k = 1, and a random one."""
    g = torch.Generator().manual_seed(8)
    random_w = 300 * torch.randn(4, 7, generator=g, dtype=F64) - 500
    target = torch.logsumexp(random_w, 1) - math.log(7)
    return [
        (
            torch.tensor([[-1000.0, -1000.0], [0.0, math.log(3.0)], [5.0, 5.0]], dtype=F64),
            torch.tensor([-1000.0, math.log(2.0), 5.0], dtype=F64),
        ),
        (torch.tensor([[800.0, 800.0, 800.0]], dtype=F64), torch.tensor([800.0], dtype=F64)),
        (torch.tensor([[-3.0], [-700.0]], dtype=F64), torch.tensor([-3.0, -700.0], dtype=F64)),
        (random_w, target),
    ]


def check_log_mean_exp(fn: Callable[[torch.Tensor], torch.Tensor] | None) -> bool:
    """Exercise 3: ``fn(log_w)`` with log_w (N, k) returns ``log((1/k) sum_i exp(log_w_i))``,
    (N,), without overflow or underflow. Tried on four (N, k) sets, to rel 1e-6."""
    if unanswered(fn, "your function"):
        return False
    for log_w, target in _lme_cases():
        n, k = log_w.shape
        got = call_student(fn, log_w, none_hint="write its body and return a tensor.")
        if isinstance(got, str):
            return not_yet(got)
        if got.shape != target.shape:
            return not_yet(
                f"return one value per row, shape (N,) = ({n},), got {tuple(got.shape)} for "
                f"log_w of shape ({n}, {k}): reduce over dim=1."
            )
        if not bool(torch.isfinite(got).all()):
            return not_yet(
                "exp(-1000) underflows to 0 and exp(800) overflows: subtract each row's maximum "
                "before exp and add it back after the log (that is torch.logsumexp)."
            )
        if torch.allclose(got, target, rtol=1e-6, atol=1e-9):
            continue
        if torch.allclose(got, target + math.log(k), rtol=1e-6, atol=1e-9):
            return not_yet("that is log-SUM-exp: the mean divides by k, so subtract log k.")
        if torch.allclose(got, log_w.mean(1), rtol=1e-6, atol=1e-9):
            return not_yet(
                "that is the mean of the log-weights (an ELBO estimate): the log goes outside "
                "the mean, log((1/k) sum_i exp(log_w_i))."
            )
        return not_yet(f"on log_w of shape ({n}, {k}): compute log((1/k) sum_i exp(log_w_i)).")
    return right(
        "logsumexp(log_w, 1) - log k: the largest weight is factored out, so nothing over- or "
        "underflows; this is the IWAE bound L_k from its log-weights."
    )
