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


CHECKS = [
    ("vaelib.exercises.vae", "check_negative_elbo", my_negative_elbo),
    ("vaelib.exercises.vae", "check_blind_decoder_nats", blind_decoder_nats),
    ("vaelib.exercises.vae", "check_log_mean_exp", log_mean_exp),
]
