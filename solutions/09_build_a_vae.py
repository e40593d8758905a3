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


CHECKS = [
    ("vaelib.exercises.build", "check_vae_module", MyVAE),
    ("vaelib.exercises.build", "check_training_loop", train_vae),
    ("vaelib.exercises.build", "check_iwae_bound", iwae_bound),
    ("vaelib.exercises.build", "check_trains_like_vaelib", (MyVAE, train_vae)),
    ("vaelib.exercises.build", "check_gaussian_nll", gaussian_nll),
]
