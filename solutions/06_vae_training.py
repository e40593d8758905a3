"""Solutions to the exercises of lesson 06 (training a VAE), each with why it is right.

Try the exercise first: each check in the notebook says what is wrong, not just that it is.
"""

import math

import torch
from torch.nn import functional as F


def my_negative_elbo(x, logits, mu, logvar):
    """Exercise 1: the negative ELBO per image, (N,).

    The Bernoulli BCE of x_hat = sigmoid(logits) is, per pixel, softplus(logits) - x * logits:
    the same value as -[x log x_hat + (1 - x) log(1 - x_hat)], finite for every logit (the
    sigmoid rounds to 0 or 1 in float32 beyond about +-17, and log 0 = -inf). Summed over the
    pixels of each image it is -log p(x|z); the KL to N(0, I) is lesson 03's closed form,
    summed over latent dimensions. Their sum is -ELBO (lesson 04).
    """
    recon = (F.softplus(logits) - x * logits).flatten(1).sum(1)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)
    return recon + kl


def blind_decoder_nats(x):
    """Exercise 2: the BCE per image of the best decoder that ignores z.

    For one pixel, E_x[-x log p - (1 - x) log(1 - p)] is minimised at p = E[x] = m, the
    pixel's mean, where it equals the binary entropy H(m). So x_hat = the mean image, and the
    cost is sum_i H(m_i) nats per image. xlogy makes 0 * log 0 = 0 for pixels that are 0 (or 1)
    in every image.
    """
    m = x.mean(0, keepdim=True)
    bce = -(torch.special.xlogy(x, m) + torch.special.xlogy(1 - x, 1 - m))
    return bce.flatten(1).sum(1).mean()


def log_mean_exp(log_w):
    """Exercise 3: log((1/k) sum_i exp(log_w_i)) per row, (N,).

    torch.logsumexp factors out each row's maximum, log sum exp(a_i) = a* + log sum exp(a_i - a*),
    so the largest term is exp(0) = 1: no overflow, no underflow to log 0. Dividing by k
    inside the log is subtracting log k outside.
    """
    return torch.logsumexp(log_w, dim=1) - math.log(log_w.shape[1])


def open_exercise_conv_vae(n_train: int = 1000, epochs: int = 2, seed: int = 0) -> dict:
    """Exercise 4 (open): the convolutional VAE against the MLP, and the KL scaled by beta.

    A small-budget version (a subset of the fast data, a couple of epochs, seconds on a CPU):
    trains ``models.ConvVAE`` and ``models.VAE`` (both 20-D) with the same loop and reports
    their test negative ELBO, recon and KL per image; then trains the MLP with
    ``losses.negative_elbo(..., beta=b)`` for b = 0.5 and 4 and reports each one's test KL.
    Returns ``{"conv": {...}, "mlp": {...}, "beta": {b: kl}}``.

    What it shows: on the full 15-epoch budget the convolutional VAE should reach a lower test
    loss than the MLP, mostly through the reconstruction term (convolutions share weights across
    positions, so edges are cheaper to draw), by more than the standard errors; on this tiny
    budget the two are close and either may lead. The beta sweep is robust even here: a larger
    beta charges the KL more, so the encoder should keep less information about x (a smaller
    KL) at beta = 4 than at beta = 0.5, and its reconstructions get blurrier; lesson 08 does
    this sweep properly.
    """
    from vaelib import losses, models
    from vaelib.data import load_dataset, to_float

    train_x = to_float(load_dataset("fashion-mnist", "train", fast=True)[0][:n_train])
    test_x = to_float(load_dataset("fashion-mnist", "test", fast=True)[0][:500])

    def fit(model, beta=1.0):
        torch.manual_seed(seed)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(epochs):
            for x in train_x[torch.randperm(len(train_x))].split(100):
                mu, logvar = model.encode(x)
                logits = model.decode_logits(mu + (0.5 * logvar).exp() * torch.randn_like(mu))
                loss = losses.negative_elbo(x, logits, mu, logvar, beta=beta).loss.mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            mu, logvar = model.encode(test_x)
            logits = model.decode_logits(mu + (0.5 * logvar).exp() * torch.randn_like(mu))
            out = losses.negative_elbo(x=test_x, logits=logits, mu=mu, logvar=logvar)
        return {k: float(getattr(out, k).mean()) for k in ("loss", "recon", "kl")}

    torch.manual_seed(seed)
    conv = fit(models.ConvVAE(latent_dim=20))
    torch.manual_seed(seed)
    mlp = fit(models.VAE(latent_dim=20))
    beta = {}
    for b in (0.5, 4.0):
        torch.manual_seed(seed)
        beta[b] = fit(models.VAE(latent_dim=20), beta=b)["kl"]
    return {"conv": conv, "mlp": mlp, "beta": beta}


CHECKS = [
    ("vaelib.exercises.vae", "check_negative_elbo", my_negative_elbo),
    ("vaelib.exercises.vae", "check_blind_decoder_nats", blind_decoder_nats),
    ("vaelib.exercises.vae", "check_log_mean_exp", log_mean_exp),
]
