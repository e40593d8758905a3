"""Solutions to the exercises of lesson 10 (control and discrete codes), each with why.

Try the exercise first: each check in the notebook says what is wrong, not just that it is.
"""

import torch


def quantize(z_e, codebook):
    """Exercise 1: the straight-through quantiser.

    Distances from every vector z_e[n, m] (D,) to every code e_k (D,): ``torch.cdist`` on the
    flattened vectors, (N * M, K); the nearest code's index is their argmin, and z_q its row of
    the codebook. Indexing has no gradient to z_e, so the output is built from z_e:
    ``z_e + (z_q - z_e).detach()`` has the value z_q (the two z_e cancel) and, since the
    detached part is a constant to autograd, the gradient of the identity to z_e. The codebook
    gets no gradient from this path: it learns from the codebook loss ||sg[z_e] - z_q||^2.
    """
    flat = z_e.reshape(-1, z_e.shape[-1])
    codes = torch.cdist(flat, codebook).argmin(1)
    z_q = codebook[codes].view_as(z_e)
    return z_e + (z_q - z_e).detach()


CHECKS = [("vaelib.exercises.vq", "check_quantize", quantize)]
