"""The VQ-VAE (van den Oord et al. 2017): a discrete latent, and a prior over its codes (lesson 10).

The encoder maps x to ``M`` vectors ``z_e`` (N, M, D); each is replaced by its nearest entry of
a codebook ``e`` (K, D): ``c = argmin_k ||z_e - e_k||^2``, ``z_q = e_c``; the decoder sees
``z_q``. The argmin has no gradient, so the **straight-through** estimator copies the decoder's
gradient at ``z_q`` to ``z_e``: the forward pass uses ``z_q``, the backward pass the identity,
``z_st = z_e + sg[z_q - z_e]`` (sg: stop-gradient, ``detach``). The loss per image is

    L = -log p(x | z_q) + ||sg[z_e] - z_q||^2 + beta ||z_e - sg[z_q]||^2,

the reconstruction, the **codebook loss** (moves the codes towards the encoder's outputs) and
the **commitment loss** (keeps the encoder near its codes; beta = 0.25 in the paper), the two
squared norms summed over the M positions and D dimensions.

With ``q(c | x)`` a point mass, the ELBO with any prior ``p(c)`` over the code indices is
``log p(x | z_q) + log p(c)`` (the entropy of q is zero), so the prior can be fitted after
training: ``CategoricalPrior`` (one categorical per position) or ``CodePrior`` (autoregressive,
``p(c) = prod_m p(c_m | c_<m)`` with a small GRU). Its cross-entropy on test codes is the rate.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from vaelib import validate as check
from vaelib.evaluate import decoder_log_prob


class Quantized(NamedTuple):
    """The output of ``VectorQuantizer``: ``z_st`` (N, M, D) for the decoder (the value of
    ``z_q``, the gradient of ``z_e``), the code indices ``c`` (N, M), the per-image codebook and
    commitment losses (N,)."""

    z_st: torch.Tensor
    codes: torch.Tensor
    codebook_loss: torch.Tensor
    commitment_loss: torch.Tensor


def nearest_code(z_e: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """``c = argmin_k ||z_e - e_k||^2``: z_e (..., D), codebook (K, D) -> indices (...), int64.

    In float32 (under autocast too): ``||z||^2 - 2 z.e_k + ||e_k||^2``, whose first term is the
    same for every k and is dropped."""
    if z_e.shape[-1] != codebook.shape[-1]:
        raise ValueError(
            f"z_e has vectors of size {z_e.shape[-1]} but the codebook's are {codebook.shape[-1]}."
        )
    with torch.autocast(z_e.device.type, enabled=False):
        flat, e = z_e.reshape(-1, z_e.shape[-1]).float(), codebook.float()
        scores = e.pow(2).sum(1)[None] - 2 * flat @ e.T  # (rows, K)
        return scores.argmin(1).view(z_e.shape[:-1])


def straight_through(z_e: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
    """``z_e + sg[z_q - z_e]``: the value of ``z_q``, the gradient of the identity to ``z_e``."""
    return z_e + (z_q - z_e).detach()


class VectorQuantizer(nn.Module):
    """A codebook of ``n_codes`` vectors of size ``code_dim`` and the quantisation step.

    ``forward(z_e)``, z_e (N, M, D) -> ``Quantized``. The codebook starts uniform in
    ``[-1/K, 1/K]`` as in the paper's reference code and, at the first training batch, is
    replaced by K of that batch's encoder outputs (``init_from``: against codes that start far
    from every z_e and stay dead); ``beta`` weighs the commitment loss.
    """

    def __init__(self, n_codes: int, code_dim: int, beta: float = 0.25) -> None:
        super().__init__()
        self.n_codes = check.integer(n_codes, "n_codes", 1)
        self.code_dim = check.integer(code_dim, "code_dim", 1)
        self.beta = check.number(beta, "beta", minimum=0)
        self.codebook = nn.Parameter(
            torch.empty(n_codes, code_dim).uniform_(-1 / n_codes, 1 / n_codes)
        )
        self.register_buffer("initialised", torch.tensor(False))
        self._ready = False  # mirrors the buffer: read from the device once, not per batch

    @torch.no_grad()
    def init_from(self, z_e: torch.Tensor) -> None:
        """Data-dependent start: the codebook becomes K encoder outputs of the first training
        batch, drawn at random (with the global RNG), so every code starts where the encoder
        puts its vectors and none starts dead far from them."""
        flat = z_e.detach().reshape(-1, z_e.shape[-1]).float()
        pick = torch.randint(len(flat), (self.n_codes,)).to(flat.device)
        self.codebook.copy_(flat[pick])
        self.initialised.fill_(True)
        self._ready = True

    def forward(self, z_e: torch.Tensor) -> Quantized:
        if self.training and not self._ready:
            self._ready = bool(self.initialised)  # a loaded, trained codebook
            if not self._ready:
                self.init_from(z_e)
        codes = nearest_code(z_e, self.codebook)
        z_q = self.codebook[codes].to(z_e.dtype)  # (N, M, D)
        codebook_loss = (z_e.detach() - z_q).float().pow(2).flatten(1).sum(1)
        commitment_loss = self.beta * (z_e - z_q.detach()).float().pow(2).flatten(1).sum(1)
        return Quantized(straight_through(z_e, z_q), codes, codebook_loss, commitment_loss)


class VQVAE(nn.Module):
    """An MLP VQ-VAE with M discrete codes per image.

    Encoder: x (N, 1, 28, 28) -> flatten -> Linear 400 -> ReLU -> Linear M * D -> z_e (N, M, D).
    Quantizer: K codes of size D. Decoder: z_q (N, M * D) -> Linear 400 -> ReLU -> Linear 784
    = logits (N, 1, 28, 28). Each image costs at most ``M log K`` nats (a uniform prior).
    """

    def __init__(self, n_positions: int = 8, n_codes: int = 32, code_dim: int = 16,
                 hidden: int = 400, beta: float = 0.25) -> None:  # fmt: skip
        super().__init__()
        self.n_positions = check.integer(n_positions, "n_positions", 1)
        self.image_shape = (1, 28, 28)
        self.encoder = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_positions * code_dim),
        )
        self.quantizer = VectorQuantizer(n_codes, code_dim, beta)
        self.decoder = nn.Sequential(
            nn.Linear(n_positions * code_dim, hidden), nn.ReLU(), nn.Linear(hidden, 784)
        )

    @property
    def n_codes(self) -> int:
        return self.quantizer.n_codes

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, 1, 28, 28) -> z_e (N, M, D), the continuous encoder outputs."""
        return self.encoder(x).view(x.shape[0], self.n_positions, -1)

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, 1, 28, 28) -> the code indices c (N, M)."""
        return nearest_code(self.encode(x), self.quantizer.codebook)

    def decode_logits_z(self, z_q: torch.Tensor) -> torch.Tensor:
        """z_q (N, M, D) -> logits (N, 1, 28, 28)."""
        return self.decoder(z_q.flatten(1)).view(-1, *self.image_shape)

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Code indices (N, M) -> x_hat (N, 1, 28, 28) in [0, 1]."""
        return torch.sigmoid(self.decode_logits_z(self.quantizer.codebook[codes]))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Quantized]:
        """x -> (logits (N, 1, 28, 28), the ``Quantized`` step)."""
        q = self.quantizer(self.encode(x))
        return self.decode_logits_z(q.z_st), q


def vq_loss(model: VQVAE, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The VQ-VAE loss, means per image: recon (BCE summed over pixels) + codebook + commitment."""
    logits, q = model(x)
    recon = (
        F.binary_cross_entropy_with_logits(logits.float(), x, reduction="none").flatten(1).sum(1)
    )
    loss = recon + q.codebook_loss + q.commitment_loss
    return {"loss": loss.mean(), "recon": recon.mean(), "codebook": q.codebook_loss.mean(),
            "commit": q.commitment_loss.mean()}  # fmt: skip


def _codes(codes: object, n_codes: int, name: str = "codes") -> torch.Tensor:
    check.tensor(codes, name)
    if codes.is_floating_point() or codes.dtype == torch.bool or codes.dim() != 2:
        raise ValueError(f"{name} must be integer code indices of shape (N, M), got {codes.dtype} "
                         f"{tuple(codes.shape)}.")  # fmt: skip
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= n_codes):
        raise ValueError(f"{name} must lie in 0..{n_codes - 1}, got [{int(codes.min())}, "
                         f"{int(codes.max())}].")  # fmt: skip
    return codes.long()


def code_usage(codes: torch.Tensor, n_codes: int) -> torch.Tensor:
    """How often each code is used: codes (N, M) -> frequencies (K,) summing to 1."""
    codes = _codes(codes, n_codes)
    counts = torch.bincount(codes.flatten(), minlength=n_codes).double()
    return counts / counts.sum()


def perplexity(codes: torch.Tensor, n_codes: int) -> float:
    """``exp(H(usage))``, H the entropy of the codes' frequencies in nats: the effective number of
    codes in use, K when all are used equally, 1 when one code takes all."""
    p = code_usage(codes, n_codes)
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def dead_codes(codes: torch.Tensor, n_codes: int) -> int:
    """The number of codebook entries that no code in ``codes`` (N, M) uses."""
    return int((code_usage(codes, n_codes) == 0).sum())


class CategoricalPrior(nn.Module):
    """One categorical per position, ``p(c) = prod_m pi_m[c_m]``, fitted by counting with
    add-``alpha`` smoothing: ``pi_m[k] = (count_m[k] + alpha) / (N + K alpha)``."""

    def __init__(self, codes: torch.Tensor, n_codes: int, alpha: float = 0.5) -> None:
        super().__init__()
        codes = _codes(codes, n_codes)
        check.number(alpha, "alpha", minimum=0, strict=True)
        counts = torch.stack([torch.bincount(col, minlength=n_codes) for col in codes.T]).double()
        self.register_buffer(
            "log_pi", ((counts + alpha) / (counts + alpha).sum(1, keepdim=True)).log().float()
        )
        self.n_codes = n_codes

    def log_prob(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (N, M) -> log p(c) (N,) in nats."""
        codes = _codes(codes, self.n_codes)
        return self.log_pi.gather(1, codes.T.to(self.log_pi.device)).sum(0)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n code sequences (n, M), each position drawn independently."""
        check.integer(n, "n", 1)
        probs = self.log_pi.exp().cpu()
        return torch.stack([torch.multinomial(p, n, True, generator=generator) for p in probs], 1)


class CodePrior(nn.Module):
    """An autoregressive prior ``p(c) = prod_m p(c_m | c_<m)``: a GRU reads
    ``[start, c_1, ..., c_{M-1}]`` (embedded) and predicts each next code's K logits."""

    def __init__(self, n_codes: int, n_positions: int, hidden: int = 128, embed: int = 32) -> None:
        super().__init__()
        self.n_codes = check.integer(n_codes, "n_codes", 1)
        self.n_positions = check.integer(n_positions, "n_positions", 1)
        self.embed = nn.Embedding(n_codes + 1, embed)  # index n_codes: the start token
        self.gru = nn.GRU(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_codes)

    def logits(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (N, M) -> logits (N, M, K) of each position given the ones before it."""
        start = torch.full((codes.shape[0], 1), self.n_codes, dtype=torch.long, device=codes.device)
        h, _ = self.gru(self.embed(torch.cat([start, codes[:, :-1]], 1)))
        return self.head(h)

    def log_prob(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (N, M) -> log p(c) (N,) in nats."""
        codes = _codes(codes, self.n_codes).to(self.head.weight.device)
        logp = F.log_softmax(self.logits(codes).float(), -1)
        return logp.gather(2, codes[..., None]).squeeze(2).sum(1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n code sequences (n, M), one position at a time: c_m ~ p(c_m | c_<m)."""
        check.integer(n, "n", 1)
        device = self.head.weight.device
        token = torch.full((n, 1), self.n_codes, dtype=torch.long, device=device)
        h, out = None, []
        for _ in range(self.n_positions):
            y, h = self.gru(self.embed(token), h)
            probs = F.softmax(self.head(y[:, -1]).float(), -1).cpu()
            token = torch.multinomial(probs, 1, generator=generator).to(device)
            out.append(token)
        return torch.cat(out, 1).cpu()


def code_prior_loss(prior: CodePrior, codes: torch.Tensor) -> dict[str, torch.Tensor]:
    """The prior's negative log-likelihood of a batch of code sequences, nats per image."""
    nll = -prior.log_prob(codes).mean()
    return {"loss": nll, "nll": nll}


class CodeLoader:
    """Shuffled batches of code sequences (N, M), reshuffled every epoch (a seeded generator)."""

    def __init__(self, codes: torch.Tensor, batch_size: int = 256, seed: int = 0) -> None:
        self.codes, self.batch_size = codes, check.integer(batch_size, "batch_size", 1)
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-self.codes.shape[0] // self.batch_size)

    def __iter__(self) -> Iterator[torch.Tensor]:
        order = torch.randperm(self.codes.shape[0], generator=self.generator).to(self.codes.device)
        for i in range(len(self)):
            yield self.codes[order[i * self.batch_size : (i + 1) * self.batch_size]]


def fingerprint(codes: torch.Tensor) -> str:
    """A short hash of a code tensor: a cached prior is reused only for the same codes."""
    return hashlib.sha1(codes.cpu().long().numpy().tobytes()).hexdigest()[:16]


# Lesson 10's code prior: its epochs over the training codes in full and fast mode. At 10 epochs
# it is at its plateau (3x gains less than 1.5 nats of test rate: benchmarks/lesson10_plateau.py).
CODE_PRIOR_EPOCHS, CODE_PRIOR_FAST_EPOCHS = 10, 5


def fit_code_prior(codes: torch.Tensor, n_codes: int, name: str, *, epochs: int, seed: int = 0,
                   device: str | torch.device = "cpu", progress: bool = True,
                   cache: bool = True) -> tuple[CodePrior, dict]:  # fmt: skip
    """A ``CodePrior`` trained on the training images' codes (N, M) for ``epochs`` (Adam,
    lr 3e-3, batch 256), cached at ``checkpoint_path(name)`` under the codes' fingerprint
    (``cache=False``: trained and not saved, as a benchmark does)."""
    from vaelib import train  # the loop; imported here because train's RECIPES build VQVAE

    codes = _codes(codes, n_codes)
    torch.manual_seed(seed)
    prior = CodePrior(n_codes, codes.shape[1]).to(device)
    history = train.train(
        prior, CodeLoader(codes.to(device), 256, seed), code_prior_loss, epochs=epochs, lr=3e-3,
        checkpoint=train.checkpoint_path(name) if cache else None, amp=False, progress=progress,
        desc=name,
        meta={"codes": fingerprint(codes), "n_codes": n_codes, "seed": seed},
    )  # fmt: skip
    return prior.eval(), history


@torch.no_grad()
def vq_elbo(
    model: VQVAE, x: torch.Tensor, log_prior, *, likelihood: str = "continuous_bernoulli"
) -> torch.Tensor:
    """``log p(x|z_q) + log p(c)`` per image, x (N, 1, 28, 28) -> (N,): the ELBO of the VQ-VAE
    with the prior ``log_prior`` (codes (N, M) -> (N,)); q(c|x) is a point mass, so its entropy
    is 0 and every importance sample is the same: the IWAE bound equals this ELBO."""
    check.floating(x, "x"), check.batch(x, "x", 4, "(N, 1, 28, 28)")
    model.eval()
    codes = model.codes(x)
    logits = model.decode_logits_z(model.quantizer.codebook[codes])
    return decoder_log_prob(x, logits, likelihood) + log_prior(codes).to(x.device)


def uniform_rate(model: VQVAE) -> float:
    """``M log K`` nats: the code length of every image under a uniform prior."""
    return model.n_positions * math.log(model.n_codes)
