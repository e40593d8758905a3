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


def open_exercise_dead_codes(
    n_codes: int = 128, n_train: int = 1000, epochs: tuple[int, ...] = (1, 3, 6), seed: int = 0
) -> dict:
    """Exercise 2 (open): dead codes of a VQ-VAE with K = 128, and re-seeding them.

    Trains ``vq.VQVAE(n_codes=128)`` with ``vq.vq_loss`` on a subset of the fast data twice
    from the same start: as is, and re-seeding after each epoch every code that no training
    image chose with the encoder output z_e of a random training image (at a random position).
    After the epochs in ``epochs`` it records the dead codes, the perplexity and the mean
    reconstruction loss (distortion) on the training subset. Returns ``{"plain": {epoch:
    (dead, perplexity, recon)}, "reseed": {...}}``.

    What it shows: without help many of the 128 codes should stay dead (a code no z_e chooses
    gets no codebook-loss gradient, so it never moves towards the data), and the perplexity
    stays far below K. Re-seeding puts each dead code where the encoder's outputs are, so the
    next epoch's nearest-code search can pick it: there should be fewer dead codes and a higher
    perplexity, and the distortion should be no worse (more codes in use describe z_e more
    finely). The price is rate: more codes in use means more nats per image under the
    autoregressive prior. (The CVAE part, holding out a class, needs the lesson's classifier and
    is left to the notebook: expect the decoder to draw a blend of the classes it has seen.)
    """
    from vaelib import vq
    from vaelib.data import load_dataset, to_float

    train_x = to_float(load_dataset("fashion-mnist", "train", fast=True)[0][:n_train])

    def run(reseed: bool) -> dict:
        torch.manual_seed(seed)
        model = vq.VQVAE(n_codes=n_codes)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(seed)
        record = {}
        for epoch in range(1, max(epochs) + 1):
            model.train()
            for x in train_x[torch.randperm(len(train_x), generator=g)].split(100):
                loss = vq.vq_loss(model, x)["loss"]
                opt.zero_grad()
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                z_e = model.encode(train_x)
                codes = vq.nearest_code(z_e, model.quantizer.codebook)
                if epoch in epochs:
                    recon = float(vq.vq_loss(model, train_x)["recon"])
                    record[epoch] = (
                        vq.dead_codes(codes, n_codes),
                        vq.perplexity(codes, n_codes),
                        recon,
                    )
                dead = vq.code_usage(codes, n_codes) == 0
                if reseed and dead.any():
                    flat = z_e.reshape(-1, z_e.shape[-1])
                    pick = torch.randint(len(flat), (int(dead.sum()),), generator=g)
                    model.quantizer.codebook[dead] = flat[pick]
        return record

    return {"plain": run(False), "reseed": run(True)}


CHECKS = [("vaelib.exercises.vq", "check_quantize", quantize)]
