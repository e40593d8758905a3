"""Self-checks for lesson 09 (build it yourself), in the course's one voice (``feedback``).

The student writes a VAE module, a training loop, the IWAE bound and (optionally) a Gaussian
decoder's negative log-likelihood. Each ``check_*`` runs the student's code on inputs the
lesson never shows (other latent sizes, other image sizes, models built to make the right answer
exact), refuses vaelib's version while it runs, prints ``Right: <why>`` or ``Not yet: <hint>``
(the hint names the likely mistake) and returns the bool.

What is checked, by exercise:

1. ``check_vae_module(MyVAE)``: shapes and dtypes, two heads, logits not probabilities, the
   reparameterized sample (``z = mu + exp(0.5 logvar) eps``, one eps per image, differentiable).
2. ``check_training_loop(train_vae)``: the loss goes down on a fixed batch, every batch of every
   epoch runs, the gradients are zeroed, the history holds one mean per epoch, a progress bar.
3. ``check_iwae_bound(iwae_bound)``: exact where it can be (q = p(z) and a decoder that ignores
   z: every log-weight is log p(x), far below exp's range), equal to ``evaluate``'s estimate at
   k = 1 and k = 100 in expectation, ``E[L_k] >= E[L_1]`` on every image, and autograd's
   gradient against finite differences (``torch.autograd.gradcheck``, float64).
4. ``check_trains_like_vaelib(MyVAE, train_vae)``: the student's model and loop reach a test
   -ELBO within ``MARGIN_NATS`` of vaelib's model and loop on the same budget.
5. ``check_gaussian_nll(gaussian_nll)`` (optional): the Gaussian decoder's -log p(x|z) with a
   learned variance, against the closed form.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from vaelib import evaluate as _evaluate
from vaelib.exercises.feedback import ShortcutError, not_yet, refuse_shortcut, right
from vaelib.models import VAE as _VAE  # the reference model, never refused for the check's own use

F64 = torch.float64
MARGIN_NATS = 10.0  # exercise 4: the student's test -ELBO may exceed vaelib's by this much
_LOG_2PI = math.log(2 * math.pi)
_iwae_reference = _evaluate.iwae_log_likelihood  # bound before any refusal


def _shortcuts() -> list[tuple[object, str]]:
    """vaelib's versions of what lesson 09 asks the student to write, refused while a check runs."""
    from vaelib import evaluate, iwae, models, train

    names = [
        (evaluate, "iwae_log_likelihood"),
        (evaluate, "log_weights"),
        (iwae, "iwae_bound"),
        (iwae, "log_weights"),
        (iwae, "log_mean_exp"),
        (train, "train"),
        (train, "train_or_load"),
        (models, "VAE"),
        (models, "ConvVAE"),
    ]
    return [(module, name) for module, name in names if hasattr(module, name)]


def _unanswered(what: str) -> bool:
    print(f"No answer yet: {what}, then run the cell again.")
    return False


def _say(hint: str) -> bool:
    """Print a hint: "No answer yet: ..." while the stub is untouched, else "Not yet: ..."."""
    if hint.startswith("No answer yet"):
        print(hint)
        return False
    return not_yet(hint)


def _call(fn: Callable[..., object], *args: object, **kwargs: object) -> object:
    """``fn(*args)``, or a hint (a ``_Hint``) saying what went wrong: it raised (a ShortcutError
    says which library function it called)."""
    try:
        return fn(*args, **kwargs)
    except ShortcutError as err:
        return _Hint(str(err))
    except Exception as err:  # noqa: BLE001 - the student's code may fail in any way
        return _Hint(f"{type(err).__name__}: {err}")


class _Hint(str):
    """A hint returned in place of a value."""


# ----------------------------------------------------------------------------- exercise 1


def _library_class(cls: type) -> str | None:
    from vaelib import models

    for name in ("VAE", "ConvVAE", "Autoencoder"):
        if cls is getattr(models, name) or issubclass(cls, getattr(models, name)):
            return name
    return None


def check_vae_module(cls: type | None) -> bool:
    """Exercise 1: ``cls(latent_dim, hidden)`` is an ``nn.Module`` VAE for (N, 1, 28, 28) images:
    ``encode(x) -> (mu, logvar)`` (N, latent_dim) each, ``decode_logits(z) -> logits``
    (N, 1, 28, 28), ``forward(x) -> (logits, mu, logvar)`` with ``z = mu + exp(0.5 logvar) eps``.

    Built with latent sizes and widths the lesson does not use (3 and 32, 7 and 64); forward is
    watched through ``self.encode`` and ``self.decode_logits`` (its z is read there, from given
    mu and logvar, so the draw's scale is tested exactly), on 2000 rows.
    """
    if cls is None:
        return _unanswered("write the class MyVAE")
    if not isinstance(cls, type):
        return not_yet(f"pass the class itself (MyVAE), not {type(cls).__name__}.")
    library = _library_class(cls)
    if library is not None:
        return not_yet(
            f"write it yourself: the check refuses vaelib.models.{library} (and classes built on "
            "it). Subclass nn.Module and write the layers."
        )
    with refuse_shortcut(cls.__init__, *_shortcuts()):
        for latent_dim, hidden in ((3, 32), (7, 64)):
            hint = _check_one_vae(cls, latent_dim, hidden)
            if hint is not None:
                if hint.startswith("No answer yet"):
                    return _say(f"{hint}, then run the cell again.")
                return not_yet(f"{hint} (built as MyVAE(latent_dim={latent_dim}, hidden={hidden}))")
    return right(
        "two heads give mu and logvar, the decoder gives logits, and forward draws "
        "z = mu + exp(0.5 logvar) * eps with one eps per image, differentiable in mu and logvar: "
        "the model of lesson 06, yours."
    )


def _check_one_vae(cls: type, latent_dim: int, hidden: int) -> str | None:
    torch.manual_seed(9)
    model = _call(cls, latent_dim=latent_dim, hidden=hidden)
    if isinstance(model, _Hint):
        return f"building it raised {model}"
    if not isinstance(model, nn.Module):
        return "MyVAE must subclass nn.Module (and call super().__init__() first)."
    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(10))
    hint = _check_encode(model, x, latent_dim)
    if hint is not None:
        return hint
    if not list(model.parameters()):
        return (
            "the model has no parameters: create its layers in __init__ as attributes "
            "(self.encoder = nn.Sequential(...)), so that nn.Module registers them."
        )
    hint = _check_decode(model, latent_dim)
    if hint is not None:
        return hint
    hint = _check_forward(model, latent_dim)
    if hint is not None:
        return hint
    return _check_float64(model, x, latent_dim)


def _check_encode(model: nn.Module, x: torch.Tensor, d: int) -> str | None:
    out = _call(model.encode, x)
    if out is None:
        return "No answer yet: write encode, decode_logits and forward"
    if isinstance(out, _Hint):
        return f"encode(x) raised {out}"
    if isinstance(out, torch.Tensor):
        return (
            f"encode must return two tensors (mu, logvar), got one of shape {tuple(out.shape)}: "
            "use two heads (two nn.Linear layers) on the shared hidden layer."
        )
    if not (isinstance(out, tuple | list) and len(out) == 2):
        return f"encode must return a pair (mu, logvar), got {type(out).__name__}."
    mu, logvar = out
    for name, t in (("mu", mu), ("logvar", logvar)):
        if not isinstance(t, torch.Tensor) or t.shape != (x.shape[0], d):
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            return (
                f"{name} must have shape (N, latent_dim) = ({x.shape[0]}, {d}), got {got}: "
                "flatten the images first (x.flatten(1)) and end each head at latent_dim."
            )
        if t.dtype != torch.float32:
            return f"{name} is {t.dtype} for float32 images: keep the input's dtype."
    if torch.equal(mu, logvar):
        return (
            "mu and logvar are equal: they need two separate heads (two nn.Linear), "
            "not one layer used twice."
        )
    again = model.encode(x)
    if not (torch.equal(again[0], mu) and torch.equal(again[1], logvar)):
        return (
            "encode gives different mu or logvar for the same x: encode is deterministic "
            "(draw the noise in forward, and no dropout here)."
        )
    return None


def _check_decode(model: nn.Module, d: int) -> str | None:
    z = torch.randn(6, d, generator=torch.Generator().manual_seed(11))
    logits = _call(model.decode_logits, z)
    if logits is None:
        return "No answer yet: write decode_logits (and forward)"
    if isinstance(logits, _Hint):
        return f"decode_logits(z) raised {logits}"
    if not isinstance(logits, torch.Tensor) or logits.shape != (6, 1, 28, 28):
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        return (
            f"decode_logits must return logits of shape (N, 1, 28, 28) = (6, 1, 28, 28), got "
            f"{got}: reshape the last layer's 784 outputs with .view(-1, 1, 28, 28)."
        )
    if bool(((logits > 0) & (logits < 1)).all()):
        return (
            "decode_logits returns values in (0, 1): return the logits, not sigmoid(logits). "
            "The loss applies the sigmoid itself, stably (lesson 06)."
        )
    return None


def _check_forward(model: nn.Module, d: int) -> str | None:
    n = 2000
    g = torch.Generator().manual_seed(12)
    mu = (2 * torch.randn(1, d, generator=g)).expand(n, d).clone().requires_grad_(True)
    logvar = torch.linspace(-3.0, 2.0, d).expand(n, d).clone().requires_grad_(True)
    seen: list[torch.Tensor] = []
    decode = model.decode_logits

    def watched_decode(z: torch.Tensor) -> torch.Tensor:
        seen.append(z)
        return decode(z)

    model.encode = lambda x: (mu, logvar)  # an instance attribute: forward's self.encode
    model.decode_logits = watched_decode
    try:
        out = _call(model, torch.rand(n, 1, 28, 28, generator=g))
    finally:
        del model.encode, model.decode_logits
    if out is None:
        return "No answer yet: write forward"
    if isinstance(out, _Hint):
        return f"forward(x) raised {out}"
    if not (isinstance(out, tuple | list) and len(out) == 3):
        return f"forward must return (logits, mu, logvar), got {type(out).__name__}."
    if not seen:
        return (
            "forward must call self.encode(x) and self.decode_logits(z) (the check watches "
            "them to read your z)."
        )
    if out[1] is not mu or out[2] is not logvar:
        return "forward must return (logits, mu, logvar) in that order, mu and logvar from encode."
    z = seen[-1]
    if z.shape != (n, d):
        return f"z must have shape (N, latent_dim) = ({n}, {d}), got {tuple(z.shape)}."
    return _reparam_hint(z, mu, logvar)


def _reparam_hint(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> str | None:
    with torch.no_grad():
        spread = (z - mu).std(0)  # (D,): the draw's scale, per dimension
        sigma = torch.exp(0.5 * logvar[0])
        if bool((spread < 1e-6).all()):
            if not torch.allclose(z[0], mu[0]):
                return (
                    "every image gets the same eps: draw one per image and dimension, "
                    "eps = torch.randn_like(mu)."
                )
            return "z equals mu: add the noise, z = mu + exp(0.5 * logvar) * eps."

        def near(target: torch.Tensor) -> bool:
            return bool(((spread / target - 1).abs() < 0.12).all())

        if not near(sigma):
            if near(torch.exp(logvar[0])):
                return "the noise's scale is exp(logvar) = sigma^2: sigma = exp(0.5 * logvar)."
            if near(logvar[0].abs()):
                return "logvar is log sigma^2, not sigma: sigma = exp(0.5 * logvar)."
            if near(torch.ones_like(sigma)):
                return "scale the noise by sigma = exp(0.5 * logvar): z = mu + sigma * eps."
            return "z must be mu + exp(0.5 * logvar) * eps with eps ~ N(0, I) (torch.randn_like)."
        if not bool(((z - mu).mean(0).abs() < 0.15 * sigma).all()):
            return (
                "the noise must have mean 0: eps ~ N(0, I) (torch.randn_like, not torch.rand_like)."
            )
    if z.grad_fn is None:
        return (
            "z is cut from the graph: gradients must flow to mu and logvar (no .detach(), "
            "torch.no_grad() or .data when drawing z)."
        )
    g_mu, g_lv = torch.autograd.grad(z.sum(), (mu, logvar), allow_unused=True)
    if g_mu is None or g_lv is None or not bool((g_lv != 0).any()):
        return (
            "z must be differentiable in both mu and logvar: z = mu + exp(0.5 * logvar) * eps, "
            "the reparameterization of lesson 05."
        )
    return None


def _check_float64(model: nn.Module, x: torch.Tensor, d: int) -> str | None:
    model = model.double()
    out = _call(model, x.double())
    if isinstance(out, _Hint):
        return f"in float64 (model.double()), forward raised {out}"
    if any(t.dtype != F64 for t in out):
        return (
            "after model.double(), forward must return float64: create the noise with "
            "torch.randn_like(mu) (it follows mu's dtype and device), not torch.randn(shape)."
        )
    return None


# ----------------------------------------------------------------------------- exercise 2


def _loop_setup() -> tuple[nn.Module, list[torch.Tensor], Callable]:
    """A small VAE on 8 x 8 images, a loader of 4 fixed batches, and the -ELBO loss (dict)."""
    from vaelib.losses import vae_loss

    torch.manual_seed(13)
    model = _VAE(latent_dim=4, hidden=(32,), image_shape=(1, 8, 8))
    g = torch.Generator().manual_seed(14)
    x = torch.bernoulli(torch.full((24, 1, 8, 8), 0.3).clamp(0, 1), generator=g)
    x[:, :, 2:6, 2:6] = 1.0  # a shared square: something to learn
    return model, [x[i : i + 6] for i in range(0, 24, 6)], vae_loss


def check_training_loop(fn: Callable | None) -> bool:
    """Exercise 2: ``fn(model, loader, loss_fn, epochs, lr)`` trains ``model`` with Adam over
    ``epochs`` passes of ``loader``, each step minimising ``loss_fn(model, x)["loss"]``, shows a
    tqdm progress bar, and returns ``{"loss": [mean of the epoch's batch losses, per epoch]}``.

    Run on a small VAE (8 x 8 images, 4 batches) for 15 epochs, watched: every loss call, the
    gradients as they accumulate, the weights before and after; ``train.train`` refused.
    """
    if fn is None:
        return _unanswered("write train_vae")
    epochs = 15
    model, loader, loss_fn = _loop_setup()
    before = [p.detach().clone() for p in model.parameters()]
    calls: list[float] = []
    accumulated: list[bool] = []

    def watched_loss(m: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = loss_fn(m, x)
        calls.append(float(terms["loss"].detach()))
        return terms

    weight = next(model.parameters())
    incoming: list[torch.Tensor] = []
    hooks = [
        weight.register_hook(lambda g: incoming.append(g.detach().clone())),
        weight.register_post_accumulate_grad_hook(
            lambda p: accumulated.append(not torch.allclose(p.grad, incoming[-1]))
        ),
    ]
    try:
        with refuse_shortcut(fn, *_shortcuts()) as student:
            torch.manual_seed(15)
            history = _call(student, model, loader, watched_loss, epochs, 5e-3)
    finally:
        for h in hooks:
            h.remove()
    hint = _loop_hint(fn, history, model, before, calls, accumulated, epochs, len(loader))
    if hint is not None:
        return _say(hint)
    first, last = history["loss"][0], history["loss"][-1]
    return right(
        f"on a fixed small data set the loss fell from {first:.1f} to {last:.1f} nats per image "
        f"in {epochs} epochs of {len(loader)} batches: zero_grad, backward, step, every batch, "
        "and a history of epoch means."
    )


def _loop_hint(fn, history, model, before, calls, accumulated, epochs, n_batches) -> str | None:
    if isinstance(history, _Hint):
        return f"your function raised {history}"
    if history is None:
        return (
            "No answer yet: write train_vae's body and return the history, "
            "{'loss': [one mean per epoch]}, then run the cell again."
        )
    if not isinstance(history, dict) or "loss" not in history:
        return f"return a dict with a 'loss' list, got {type(history).__name__}."
    if len(calls) != epochs * n_batches:
        return (
            f"loss_fn ran {len(calls)} times for {epochs} epochs of {n_batches} batches: call it "
            "once per batch, for every batch of the loader, in every epoch."
        )
    if all(torch.equal(a, b.detach()) for a, b in zip(before, model.parameters(), strict=True)):
        return "the weights never changed: call optimizer.step() after loss.backward()."
    if any(accumulated):
        return (
            "the gradients add up across steps: call optimizer.zero_grad() in every step, "
            "before loss.backward()."
        )
    losses = history["loss"]
    if not isinstance(losses, list | tuple) or len(losses) != epochs:
        n = len(losses) if hasattr(losses, "__len__") else "no"
        more = " (one per batch?)" if n == epochs * n_batches else ""
        return f"history['loss'] must hold one number per epoch ({epochs}), has {n}{more}."
    try:
        values = [float(v) for v in losses]
    except (TypeError, ValueError, RuntimeError):
        return "history['loss'] must hold numbers: append loss.item() (or float(...)), not tensors."
    for e, value in enumerate(values):
        batch = calls[e * n_batches : (e + 1) * n_batches]
        mean = sum(batch) / n_batches
        if math.isclose(value, mean, rel_tol=1e-4, abs_tol=1e-4):
            continue
        if math.isclose(value, sum(batch), rel_tol=1e-4):
            return f"history['loss'][{e}] is the sum of the batches' losses: divide by {n_batches}."
        if math.isclose(value, batch[-1], rel_tol=1e-4):
            return f"history['loss'][{e}] is the last batch's loss: average the epoch's batches."
        return (
            f"history['loss'][{e}] = {value:.3f}, but the epoch's batches average {mean:.3f}: "
            "record the mean of loss_fn(model, x)['loss'] over the epoch."
        )
    if not values[-1] < values[0] - 3:
        return (
            f"the loss went from {values[0]:.1f} to {values[-1]:.1f} only: use Adam on "
            "model.parameters() with the given lr, and minimise loss_fn(model, x)['loss']."
        )
    names = set(getattr(getattr(fn, "__code__", None), "co_names", ()))
    if not names & {"tqdm", "trange"}:
        return (
            "it trains: now show its progress, wrap the epochs or the batches in tqdm(...) "
            "(from tqdm.auto import tqdm)."
        )
    return None


# ----------------------------------------------------------------------------- exercise 3


def _constant_model(image: tuple[int, int, int], d: int) -> tuple[nn.Module, torch.Tensor]:
    """A VAE with ``q(z|x) = N(0, I) = p(z)`` and a decoder that ignores z (constant logits c):
    every importance weight is ``p(x) = prod Bernoulli(x; sigmoid(c))``. Returns (model, c)."""
    torch.manual_seed(16)
    model = _VAE(latent_dim=d, hidden=(8,), image_shape=image).double()
    with torch.no_grad():
        for head in (model.mu_head, model.logvar_head):
            head.weight.zero_(), head.bias.zero_()
        model.decoder[0].weight.zero_()
        model.decoder[-1].weight.zero_()
        c = 30 * torch.randn(math.prod(image), generator=torch.Generator().manual_seed(17))
        model.decoder[-1].bias.copy_(c.double())
    return model.eval(), c.double()


def _random_model(image: tuple[int, int, int], d: int, dtype=F64) -> nn.Module:
    """A small untrained VAE whose q(z|x) is off the prior (mu near 1, sigma near 0.6)."""
    torch.manual_seed(18)
    model = _VAE(latent_dim=d, hidden=(24,), image_shape=image).to(dtype)
    with torch.no_grad():
        model.mu_head.bias.add_(1.0)
        model.logvar_head.bias.sub_(1.0)
    return model.eval()


def _as_values(got: object, n: int, what: str) -> torch.Tensor | str:
    if isinstance(got, _Hint):
        return f"your function raised {got}"
    if got is None:
        return (
            "No answer yet: write iwae_bound's body and return L_k, one value per image, "
            "shape (N,), then run the cell again."
        )
    if not isinstance(got, torch.Tensor):
        return f"return a tensor of shape (N,), got {type(got).__name__}."
    if got.shape != (n,):
        return (
            f"return one value per image, shape (N,) = ({n},), got {tuple(got.shape)} ({what}): "
            "reduce over the k samples (dim=1 of the (N, k) log-weights)."
        )
    return got


def check_iwae_bound(fn: Callable | None) -> bool:
    """Exercise 3: ``fn(model, x, k)`` returns the IWAE bound per image, (N,):
    ``L_k = log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x)``, ``z_i ~ q(z|x)`` reparameterized,
    Bernoulli ``p(x|z)`` from ``model.decode_logits``, ``p(z) = N(0, I)``.

    Four tests, on models and image sizes the lesson does not use: exact values where every
    log-weight is log p(x) (thousands of nats below 0: the log-mean-exp must be stable), the
    mean over 3000 images against ``evaluate.iwae_log_likelihood`` at k = 1 and k = 100 (within
    4 standard errors), ``E[L_10] >= E[L_1]`` on each of 8 images (300 draws each), and
    ``torch.autograd.gradcheck`` in float64 with the noise fixed by ``torch.manual_seed``.
    """
    if fn is None:
        return _unanswered("write iwae_bound")
    # references first, while nothing is refused
    exact_model, c = _constant_model((1, 10, 10), 3)
    g = torch.Generator().manual_seed(19)
    x_exact = torch.bernoulli(torch.full((6, 1, 10, 10), 0.5, dtype=F64), generator=g)
    log_px = (x_exact.flatten(1) * c + F.logsigmoid(-c)).sum(1)
    model = _random_model((1, 6, 6), 5)
    x = torch.bernoulli(torch.full((3000, 1, 6, 6), 0.3, dtype=F64), generator=g)
    refs = {
        k: _iwae_reference(model, x, k, generator=torch.Generator().manual_seed(k))
        for k in (1, 100)
    }
    terms = _elbo_terms(model, x)
    with refuse_shortcut(fn, *_shortcuts()) as student, torch.random.fork_rng():
        torch.manual_seed(20)
        for k in (1, 100):
            hint = _exact_hint(student, exact_model, x_exact, log_px, k)
            if hint is not None:
                return _say(hint)
        for k in (1, 100):
            hint = _reference_hint(student, model, x, k, refs[k], refs[1], terms)
            if hint is not None:
                return not_yet(hint)
        hint = _monotone_hint(student, model, x[:8])
        if hint is not None:
            return not_yet(hint)
        hint = _gradcheck_hint(student)
        if hint is not None:
            return not_yet(hint)
    return right(
        "exact where every weight is p(x), equal in expectation to vaelib's L_1 and L_100, "
        "rising with k, and autograd agrees with finite differences: the IWAE bound, "
        "stable (logsumexp) and trainable (the reparameterized z)."
    )


def _exact_hint(fn, model, x, log_px, k) -> str | None:
    got = _as_values(_call(fn, model, x, k), x.shape[0], f"k = {k}")
    if isinstance(got, str):
        return got
    got = got.detach().to(F64)
    where = f"(k = {k}, a model whose every log-weight is log p(x) = {log_px[0]:.0f} nats)"
    if not bool(torch.isfinite(got).all()):
        return (
            f"your L_k is -inf or nan {where}: exp(-2000) is 0 in floating point. Use "
            "torch.logsumexp(log_w, dim=1) - log k, never log(mean(exp(log_w)))."
        )
    if torch.allclose(got, log_px, rtol=1e-6, atol=1e-6):
        return None
    if k > 1 and torch.allclose(got, log_px + math.log(k), rtol=1e-6, atol=1e-6):
        return f"that is log-SUM-exp: L_k averages the k weights, so subtract log k {where}."
    if torch.allclose(got, -log_px, rtol=1e-6, atol=1e-6):
        return f"the sign is flipped: return the bound L_k (log p(x) >= L_k), not the loss {where}."
    return (
        f"every log-weight here is log p(x) = sum_pixels x * l + log sigmoid(-l) (l: the "
        f"decoder's logits), so L_k must be too {where}: check log p(x|z) (Bernoulli, summed "
        "over pixels, from the logits) and that log p(z) - log q(z|x) cancels when q = p."
    )


def _elbo_terms(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Means over images of one-sample log p(x|z), log p(z), log q(z|x): the ingredients of the
    typical wrong L_1s."""
    with torch.no_grad():
        mu, logvar = model.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(
            mu.shape, dtype=mu.dtype, generator=torch.Generator().manual_seed(21)
        )
        logits = model.decode_logits(z).flatten(1)
        log_px = (x.flatten(1) * logits + F.logsigmoid(-logits)).sum(1)
        log_pz = -0.5 * (z.pow(2) + _LOG_2PI).sum(1)
        log_q = -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + _LOG_2PI).sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
    return {"px": float(log_px.mean()), "pz": float(log_pz.mean()), "q": float(log_q.mean()),
            "kl": float(kl.mean())}  # fmt: skip


def _reference_hint(fn, model, x, k, ref, ref1, terms) -> str | None:
    got = _as_values(_call(fn, model, x, k), x.shape[0], f"k = {k}")
    if isinstance(got, str):
        return got
    got = got.detach().to(F64)
    if not bool(torch.isfinite(got).all()):
        return f"some values are inf or nan at k = {k}: use torch.logsumexp for the log-mean-exp."
    diff = got - ref
    se = float(diff.std() / math.sqrt(len(diff)))
    mean, target = float(got.mean()), float(ref.mean())
    if abs(mean - target) <= 4 * se + 1e-3:
        return None
    where = (
        f"on 3000 images (a 5-D model, 6 x 6 pixels), your L_{k} averages {mean:.2f} nats, "
        f"vaelib's {target:.2f} (difference {mean - target:+.2f} +- {se:.2f})"
    )

    def near(value: float) -> bool:
        return abs(mean - value) <= 4 * se + 0.05

    if k > 1 and near(float(ref1.mean())):
        return (
            f"{where}: that is the mean of the log-weights (an ELBO); the log goes outside the "
            "mean, L_k = log (1/k) sum_i w_i = logsumexp(log_w, 1) - log k."
        )
    if k > 1 and near(target + math.log(k)):
        return f"{where}: that is log-SUM-exp, subtract log k."
    if near(terms["px"]):
        return f"{where}: that is log p(x|z) alone; add log p(z) - log q(z|x)."
    if near(terms["px"] - terms["pz"] + terms["q"]):
        return f"{where}: the signs are flipped, log w = log p(x|z) + log p(z) - log q(z|x)."
    if near(terms["px"] + terms["pz"] + terms["q"]):
        return f"{where}: log q(z|x) enters with a minus sign."
    if near(target + 0.5 * model.latent_dim * _LOG_2PI) or near(
        target - 0.5 * model.latent_dim * _LOG_2PI
    ):
        return f"{where}: check the -0.5 log(2 pi) per dimension, in both log p(z) and log q(z|x)."
    return (
        f"{where}: log q(z|x) = -0.5 sum_j ((z - mu)^2 / sigma^2 + logvar + log 2 pi) with "
        "sigma^2 = exp(logvar); log p(z) = -0.5 sum_j (z^2 + log 2 pi); draw z with mu and "
        "logvar repeated k times: one sample per image and k."
    )


def _monotone_hint(fn, model, x) -> str | None:
    n, reps = x.shape[0], 300
    xs = x.repeat(reps, 1, 1, 1)  # image i at rows i, i + n, ...
    means = {}
    for k in (1, 10):
        got = _as_values(_call(fn, model, xs, k), xs.shape[0], f"k = {k}")
        if isinstance(got, str):
            return got
        means[k] = got.detach().to(F64).view(reps, n)
    gain = means[10] - means[1]
    se = gain.std(0) / math.sqrt(reps)
    worst = int(torch.argmin(gain.mean(0) / se))
    if float(gain.mean(0)[worst]) < -3 * float(se[worst]):
        return (
            f"on image {worst}, your L_10 averages {float(means[10][:, worst].mean()):.2f} and "
            f"your L_1 {float(means[1][:, worst].mean()):.2f}: E[L_k] must rise with k. Average "
            "the k weights inside the log, over k independent samples z_i."
        )
    return None


def _gradcheck_hint(fn) -> str | None:
    model = _random_model((1, 2, 2), 2)
    x = torch.tensor([[[[0.2, 0.7], [0.9, 0.4]]], [[[0.5, 0.1], [0.3, 0.8]]]], dtype=F64)
    x.requires_grad_(True)

    def bound(xx: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(22)  # the same noise on every call: a deterministic function of x
        out = fn(model, xx, 3)
        return out

    try:
        out = bound(x)
        if out.dtype != F64:
            return (
                f"for a float64 model and images, your L_k is {out.dtype}: keep the input's "
                "dtype (torch.randn_like(mu), not torch.randn(shape))."
            )
        if not out.requires_grad:
            return (
                "your L_k carries no gradient: training needs it. No torch.no_grad(), "
                ".detach(), .item() or numpy inside."
            )
        ok = torch.autograd.gradcheck(bound, (x,), eps=1e-6, atol=1e-5, raise_exception=False)
    except Exception as err:  # noqa: BLE001 - the student's code may fail in any way
        return f"in float64, your function raised {type(err).__name__}: {err}"
    if not ok:
        return (
            "autograd's gradient differs from finite differences (torch.autograd.gradcheck, "
            "float64, the noise fixed by torch.manual_seed): something is cut from the graph "
            "(.detach(), .data, a constant made from a tensor), or the noise is not drawn from "
            "torch's global generator (torch.randn_like)."
        )
    return None


# ----------------------------------------------------------------------------- exercise 4


def check_trains_like_vaelib(cls: type | tuple | None, train_fn: Callable | None = None) -> bool:
    """Exercise 4: the student's ``MyVAE(latent_dim=20)`` trained with their ``train_vae`` reaches
    a test -ELBO within ``MARGIN_NATS`` of vaelib's ``VAE(20)`` trained with ``train.train``, on
    the same budget (``cls`` may be the pair ``(MyVAE, train_vae)``): 2000 training images, 3 epochs, batch 100, Adam lr 1e-3, scored on 1000
    test images (``evaluate.model_negative_elbo``, one z per image, fixed seeds).
    """
    if isinstance(cls, tuple) and train_fn is None and len(cls) == 2:
        cls, train_fn = cls  # one answer, the pair (MyVAE, train_vae)
    if cls is None or train_fn is None or _is_stub(cls, train_fn):
        return _unanswered("write MyVAE and train_vae (exercises 1 and 2)")
    from vaelib import train
    from vaelib.data import DeviceLoader, load_dataset, to_float
    from vaelib.losses import vae_loss

    train_images, _ = load_dataset("fashion-mnist", "train", fast=True)
    test_images, _ = load_dataset("fashion-mnist", "test", fast=True)
    x_train, x_test = train_images[-2000:], to_float(test_images)

    def score(model: nn.Module) -> float:
        g = torch.Generator().manual_seed(23)
        return float(_evaluate.model_negative_elbo(model, x_test, generator=g).mean())

    torch.manual_seed(24)
    reference = _VAE(latent_dim=20)
    loader = DeviceLoader(x_train, 100, seed=25)
    train.train(reference, loader, vae_loss, epochs=3, lr=1e-3, progress=False)
    target = score(reference)
    torch.manual_seed(24)
    model = _call(cls, latent_dim=20)
    if isinstance(model, _Hint) or model is None:
        return not_yet(f"MyVAE(latent_dim=20) failed: {model}; pass exercise 1 first.")
    with refuse_shortcut(train_fn, *_shortcuts()) as student:
        history = _call(student, model, DeviceLoader(x_train, 100, seed=25), vae_loss, 3, 1e-3)
    if isinstance(history, _Hint) or history is None:
        return not_yet(f"train_vae failed: {history}; pass exercise 2 first.")
    got = _call(score, model)
    if isinstance(got, _Hint):
        return not_yet(f"scoring your model raised {got}; pass exercise 1 first.")
    if not math.isfinite(got) or got > target + MARGIN_NATS:
        return not_yet(
            f"your model reaches a test -ELBO of {got:.1f} nats per image, vaelib's {target:.1f} "
            f"on the same budget (within {MARGIN_NATS:.0f} passes): check the hidden width "
            "(400), the ReLU between layers, Adam with the given lr, and that every epoch sees "
            "every batch."
        )
    return right(
        f"test -ELBO {got:.1f} nats per image against vaelib's {target:.1f}, on the same 2000 "
        "images and 3 epochs: your model and loop train as the library's do."
    )


def _is_stub(cls: type, train_fn: Callable) -> bool:
    """True while MyVAE's encode or train_vae still returns None (the lesson's stubs): answered
    before anything trains."""
    model = _call(cls, latent_dim=2, hidden=8)
    if isinstance(model, nn.Module) and _call(model.encode, torch.rand(1, 1, 28, 28)) is None:
        return True
    probe = _VAE(latent_dim=2, hidden=(8,), image_shape=(1, 2, 2))
    with refuse_shortcut(train_fn, *_shortcuts()) as student:
        out = _call(student, probe, [torch.rand(2, 1, 2, 2)], _probe_loss, 1, 1e-3)
    return out is None


def _probe_loss(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    mu, _ = model.encode(x)
    return {"loss": mu.pow(2).mean()}


# ----------------------------------------------------------------------------- exercise 5


def _gaussian_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(x, mean, logvar): a per-pixel logvar, one shared scalar logvar, and a single image."""
    g = torch.Generator().manual_seed(26)
    x = torch.rand(4, 1, 5, 5, generator=g, dtype=F64)
    mean = torch.rand(4, 1, 5, 5, generator=g, dtype=F64)
    per_pixel = torch.randn(1, 1, 5, 5, generator=g, dtype=F64) - 2
    x1, m1 = (
        torch.rand(1, 1, 3, 3, generator=g, dtype=F64),
        torch.rand(1, 1, 3, 3, generator=g, dtype=F64),
    )
    return [
        (x, mean, per_pixel),
        (x, mean, torch.tensor(-3.0, dtype=F64)),
        (x1, m1, torch.tensor(0.5, dtype=F64)),
    ]


def check_gaussian_nll(fn: Callable | None) -> bool:
    """Exercise 5 (optional): ``fn(x, mean, logvar)`` returns ``-log N(x; mean, exp(logvar))``
    summed over pixels, per image (N,): ``0.5 * sum_i ((x_i - m_i)^2 / s^2 + log s^2 + log 2 pi)``,
    with ``logvar`` a learned scalar or one per pixel, broadcast. Checked to rel 1e-6 against
    the closed form, with ``torch.distributions.Normal.log_prob`` refused.
    """
    if fn is None:
        return _unanswered("write gaussian_nll")
    with refuse_shortcut(fn, (torch.distributions.Normal, "log_prob")) as student:
        for x, mean, logvar in _gaussian_cases():
            got = _call(student, x, mean, logvar)
            hint = _gaussian_hint(got, x, mean, logvar)
            if hint is not None and hint.startswith("No answer yet"):
                return _say(hint)
            if hint is not None:
                return not_yet(f"{hint} (logvar of shape {tuple(logvar.shape)})")
    return right(
        "0.5 * sum ((x - mean)^2 / sigma^2 + log sigma^2 + log 2 pi): the decoder's variance is "
        "learned with its mean; a small sigma^2 rewards sharp reconstructions and costs "
        "log sigma^2 when they miss."
    )


def _gaussian_hint(got, x, mean, logvar) -> str | None:
    if isinstance(got, _Hint):
        return f"your function raised {got}"
    if got is None:
        return (
            "No answer yet: write gaussian_nll's body and return -log p(x|z) per image, "
            "shape (N,), then run the cell again."
        )
    if not isinstance(got, torch.Tensor):
        return f"return a tensor of shape (N,), got {type(got).__name__}."
    n = x.shape[0]
    if got.shape != (n,):
        return f"return one value per image, shape (N,) = ({n},), got {tuple(got.shape)}: sum over pixels (flatten(1).sum(1))."
    lv = logvar.expand_as(x)
    sq = ((x - mean).pow(2) / lv.exp()).flatten(1).sum(1)
    logs = lv.flatten(1).sum(1)
    const = x[0].numel() * _LOG_2PI
    target = 0.5 * (sq + logs + const)

    def close(t: torch.Tensor) -> bool:
        return bool(torch.allclose(got.detach().to(F64), t, rtol=1e-6, atol=1e-9))

    if close(target):
        return None
    if close(0.5 * (sq + logs)):
        return "add the constant 0.5 * log(2 pi) per pixel: it matters when comparing likelihoods."
    if close(0.5 * (sq + const)):
        return "add 0.5 * log sigma^2 per pixel: without it a learned variance grows without end."
    if close(-target):
        return "that is log p(x|z): return its negative, the loss."
    sq_sigma = ((x - mean).pow(2) / (0.5 * lv).exp()).flatten(1).sum(1)
    if close(0.5 * (sq_sigma + logs + const)):
        return "divide the squared error by the variance sigma^2 = exp(logvar), not by sigma."
    return "per pixel: 0.5 * ((x - mean)^2 / exp(logvar) + logvar + log(2 pi)), summed over pixels."
