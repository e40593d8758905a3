"""Solutions to the exercises of lesson 11 (deeper VAEs), each with why.

Try the exercise first: each check in the notebook says what is wrong, not just that it is.
"""

import torch


def optimal_diagonal(model, x):
    """Exercise 1: the best diagonal Gaussian q(z|x) on the linear-Gaussian model.

    The ELBO of ``q = N(m, diag v)`` is, up to terms free of q, ``-0.5 (m - mu_post)^T Lambda
    (m - mu_post) - 0.5 sum_d Lambda_dd v_d + 0.5 sum_d log v_d`` with ``Lambda = I + W^T
    Psi^-1 W`` the posterior precision (the same for every x). The first term is largest at
    ``m = mu_post``; each ``v_d`` term is largest where its derivative ``-0.5 Lambda_dd +
    0.5 / v_d`` is zero: ``v_d = 1 / Lambda_dd``. That is *not* ``diag(Sigma_post) =
    diag(Lambda^-1)``, which is larger wherever the dimensions correlate: the reverse KL makes
    a factorised q narrower than the posterior's marginals (Bishop 2006, section 10.1.2).
    """
    from vaelib import linear_gaussian as lg

    mu = lg.posterior(model, x).mu
    precision = torch.eye(model.z_dim, dtype=torch.float64) + model.W.T @ (
        model.W / model.psi[:, None]
    )
    return mu, 1.0 / precision.diagonal()


def open_exercise_aggressive_inference(
    n_train: int = 3000, epochs: int = 8, inner_steps: int = 3, seed: int = 0
) -> dict:
    """Exercise 2 (open): aggressive inference-network training (He et al. 2019) for the
    autoregressive VAE, against plain training, both at lr 1e-2 as the lesson's recipe.

    For each batch, the aggressive phase first takes ``inner_steps`` encoder-only Adam steps on
    the ELBO (fresh batches from the loader), then one decoder step; He et al. stop the inner
    loop once the mutual information stops rising, and end the aggressive phase after a few
    epochs, which this sketch does by running it for the first half of the epochs. Returns
    ``{"plain": (active units, KL), "aggressive": (active units, KL)}`` on 1000 test images.

    What it shows: plain training at this learning rate lets the KL fall below a nat; the
    encoder, given time to catch up with the decoder, keeps more of it (in our run about 1.3
    nats against 0.5, with about as many active units). A small effect on this budget: the
    lagging encoder is one cause of collapse, and He et al. also stop the aggressive phase by
    the mutual information and train longer; as with the lesson's fixes, measure the nats too
    (IWAE) before calling it a cure.
    """
    from vaelib import collapse, evaluate, losses
    from vaelib.autoregressive import ARVAE
    from vaelib.data import DeviceLoader, load_dataset, to_float

    images, _ = load_dataset("fashion-mnist", "train", fast=True)
    test, _ = load_dataset("fashion-mnist", "test", fast=True)
    x_test = evaluate.binarize(to_float(test[:1000]), torch.Generator().manual_seed(0))
    out = {}
    for mode in ("plain", "aggressive"):
        torch.manual_seed(seed)
        model = ARVAE()
        loader = DeviceLoader(images[:n_train], 128, seed=seed, binarize=True)
        enc = [p for n, p in model.named_parameters() if not n.startswith("decoder")]
        opt_enc = torch.optim.Adam(enc, lr=1e-2)
        opt_all = torch.optim.Adam(model.parameters(), lr=1e-2)
        for epoch in range(epochs):
            for x in loader:
                if mode == "aggressive" and epoch < epochs // 2:
                    for _ in range(inner_steps):
                        opt_enc.zero_grad()
                        losses.vae_loss(model, x)["loss"].backward()
                        opt_enc.step()
                opt_all.zero_grad()
                losses.vae_loss(model, x)["loss"].backward()
                opt_all.step()
        with torch.no_grad():
            mu, logvar = model.encode(x_test)
        out[mode] = (
            collapse.active_units(mu),
            float(collapse.kl_per_dimension(mu, logvar).sum()),
        )
    return out


CHECKS = [("vaelib.exercises.deep", "check_optimal_diagonal", optimal_diagonal)]
