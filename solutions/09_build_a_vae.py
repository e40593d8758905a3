"""Solutions to the exercises of lesson 09 (build it yourself), each with why it is right.

Try the exercise first: each check in the notebook says what is wrong, not just that it is.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm


class MyVAE(nn.Module):
    """Exercise 1: the MLP VAE of lesson 06, written out.

    Encoder: flatten -> Linear(784, hidden) -> ReLU, then two heads, one for mu and one for
    logvar = log sigma^2 (unconstrained: any real number is a valid log-variance, so no
    activation). Decoder: Linear(latent_dim, hidden) -> ReLU -> Linear(hidden, 784), viewed as
    (N, 1, 28, 28) logits; the loss applies the sigmoid stably, so the decoder stops before it.
    forward draws z = mu + exp(0.5 logvar) * eps with eps = randn_like(mu): one eps per image
    and dimension, of mu's dtype and device, and z is a differentiable function of mu and logvar
    (lesson 05), so the loss's gradient reaches the encoder.
    """

    def __init__(self, latent_dim=20, hidden=400):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU())
        self.mu_head = nn.Linear(hidden, latent_dim)
        self.logvar_head = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, 784)
        )

    def encode(self, x):
        h = self.encoder(x)
        return self.mu_head(h), self.logvar_head(h)

    def decode_logits(self, z):
        return self.decoder(z).view(-1, 1, 28, 28)

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.decode_logits(z), mu, logvar


def train_vae(model, loader, loss_fn, epochs, lr):
    """Exercise 2: the training loop.

    Adam on the model's parameters; per batch: the loss, zero the gradients (they accumulate in
    .grad otherwise), backward, step. The history keeps one number per epoch, the mean of the
    epoch's batch losses (.item() reads it off the graph, so the history holds floats, not
    tensors that keep every graph alive). tqdm.auto draws a bar in a notebook and in a terminal.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"loss": []}
    model.train()
    for _ in tqdm(range(epochs), desc="epochs"):
        total, count = 0.0, 0
        for x in loader:
            loss = loss_fn(model, x)["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
            count += 1
        history["loss"].append(total / count)
    model.eval()
    return history


def iwae_bound(model, x, k):
    """Exercise 3: L_k per image, (N,).

    mu and logvar (N, D) are repeated k times (N, k, D) and z = mu + sigma * eps drawn for each;
    log w = log p(x|z) + log p(z) - log q(z|x), with the Bernoulli log p(x|z) = sum x * l +
    log sigmoid(-l) from the logits l (minus lesson 06's BCE), and the two Gaussians' log-densities
    written out (their -0.5 log 2 pi per dimension cancel, but only if both have them). The
    log-mean-exp is logsumexp - log k: the largest weight is factored out, so nothing
    underflows even when log w is thousands of nats below 0.
    """
    mu, logvar = model.encode(x)
    n, d = mu.shape
    mu, logvar = mu[:, None].expand(n, k, d), logvar[:, None].expand(n, k, d)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # (N, k, D)
    log_q = -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(-1)
    log_p = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
    logits = model.decode_logits(z.reshape(n * k, d)).reshape(n, k, -1)
    log_px = (x.reshape(n, 1, -1) * logits + F.logsigmoid(-logits)).sum(-1)
    log_w = log_px + log_p - log_q  # (N, k)
    return torch.logsumexp(log_w, dim=1) - math.log(k)


def gaussian_nll(x, mean, logvar):
    """Exercise 5 (optional): -log N(x; mean, sigma^2 I) per image, summed over pixels.

    Per pixel, -log N(x; m, s^2) = 0.5 * ((x - m)^2 / s^2 + log s^2 + log 2 pi). logvar is a
    learned parameter, a scalar or one per pixel; expand_as broadcasts it before the sum, so a
    scalar counts once per pixel. Without the log s^2 term the best variance would be infinite.
    """
    logvar = logvar.expand_as(x)
    nll = 0.5 * ((x - mean).pow(2) / logvar.exp() + logvar + math.log(2 * math.pi))
    return nll.flatten(1).sum(1)


def open_exercise_learned_variance(n_train: int = 1000, epochs: int = 3, seed: int = 0) -> dict:
    """Exercise 6 (open): ``MyVAE`` with a Gaussian decoder and one learned scalar log sigma^2.

    Trains exercise 1's ``MyVAE`` on the grey (not binarised) fast-subset images with the loss
    ``gaussian_nll(x, sigmoid(logits), logvar_x) + KL`` (exercise 5), ``logvar_x`` a scalar
    parameter starting at 0 (sigma = 1) with a larger learning rate than the weights (one number
    with Adam's steps of about lr per batch needs a few hundred steps at 1e-3), for a few epochs
    on a CPU. Returns the learned
    ``sigma`` per epoch (``"sigma"``) and the per-pixel squared error of the reconstructions
    (``"mse"``).

    What it shows: sigma should fall well below its start of 1, towards the root of the
    reconstructions' mean squared error, because for a fixed reconstruction the Gaussian NLL is
    minimised at sigma^2 = MSE: the model learns how far off its means are. A per-pixel sigma
    (one parameter per pixel) should be largest on the garments' edges and textures, where the
    means are least certain, and smallest on the background. Samples with the decoder's noise
    added look speckled; the means alone look smooth and blurry.
    """
    from vaelib.data import load_dataset, to_float

    train_x = to_float(load_dataset("fashion-mnist", "train", fast=True)[0][:n_train])
    torch.manual_seed(seed)
    model = MyVAE(latent_dim=20)
    model.logvar_x = nn.Parameter(torch.zeros(()))
    weights = [p for name, p in model.named_parameters() if name != "logvar_x"]
    opt = torch.optim.Adam([{"params": weights}, {"params": [model.logvar_x], "lr": 0.05}], lr=1e-3)
    sigmas = []
    for _ in range(epochs):
        for x in train_x[torch.randperm(len(train_x))].split(100):
            logits, mu, logvar = model(x)
            kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
            loss = (gaussian_nll(x, torch.sigmoid(logits), model.logvar_x) + kl).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sigmas.append((0.5 * model.logvar_x).exp().item())
    with torch.no_grad():
        mu, _ = model.encode(train_x)
        mse = float((torch.sigmoid(model.decode_logits(mu)) - train_x).pow(2).mean())
    return {"sigma": sigmas, "mse": mse}


def open_exercise_iwae_k(
    ks: tuple[int, ...] = (1, 5),
    snr_ks: tuple[int, ...] = (1, 20),
    n_train: int = 1000,
    epochs: int = 2,
    seed: int = 0,
) -> dict:
    """Exercise 7 (open): the IWAE with several k, and the gradient's SNR per network.

    A small-budget version (a subset of the fast data, binarised with a fixed seed, a couple of
    epochs on a CPU): trains ``models.VAE`` on ``-iwae.iwae_bound(model, x, k)`` for each k with
    the same number of epochs (on a CPU a step costs about k times a VAE step, so "the same
    time" means k times fewer epochs for the larger k), then scores 200 test images with
    ``evaluate.iwae_log_likelihood(..., k=100)``. On the k = 1 model it measures
    ``iwae.gradient_snr`` for each k in ``snr_ks``. Returns ``{"l100": {k: mean L_100}, "snr": {k:
    {"encoder", "decoder"}}}``.

    What it shows: on the same epochs a larger k should score the test images at least as high
    on L_100 (a tighter objective trains the decoder towards log p(x)); on the same *time* the
    gain shrinks and k = 5 is often the best compromise. The SNR separates the two networks:
    as k grows the decoder's gradient SNR should rise while the encoder's falls (Rainforth et al.
    2018), because the encoder's gradient of a tight bound approaches 0 while its noise does
    not. That is why training the decoder on L_20 and the encoder on L_1 (their split) should
    give the encoder back its SNR without losing the decoder's tighter objective.
    """
    from vaelib import evaluate, iwae, models
    from vaelib.data import load_dataset, to_float

    g = torch.Generator().manual_seed(seed)
    train_x = to_float(load_dataset("fashion-mnist", "train", fast=True)[0][:n_train])
    train_x = torch.bernoulli(train_x, generator=g)
    test_x = to_float(load_dataset("fashion-mnist", "test", fast=True)[0][:200])
    test_x = torch.bernoulli(test_x, generator=g)
    trained, l100 = {}, {}
    for k in ks:
        torch.manual_seed(seed)
        model = models.VAE(latent_dim=20)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(epochs):
            for x in train_x[torch.randperm(len(train_x))].split(100):
                loss = -iwae.iwae_bound(model, x, k).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            gen = torch.Generator().manual_seed(seed)
            l100[k] = evaluate.iwae_log_likelihood(model, test_x, 100, generator=gen).mean().item()
        trained[k] = model
    gen = torch.Generator().manual_seed(seed)
    snr = iwae.gradient_snr(trained[ks[0]], train_x[:64], snr_ks, repeats=20, generator=gen)
    return {"l100": l100, "snr": snr}


CHECKS = [
    ("vaelib.exercises.build", "check_vae_module", MyVAE),
    ("vaelib.exercises.build", "check_training_loop", train_vae),
    ("vaelib.exercises.build", "check_iwae_bound", iwae_bound),
    ("vaelib.exercises.build", "check_trains_like_vaelib", (MyVAE, train_vae)),
    ("vaelib.exercises.build", "check_gaussian_nll", gaussian_nll),
]
