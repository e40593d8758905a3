"""vaelib: the helper package of vae-course, one module per idea of the course
(docs/architecture.md: the floors, each module's one job, the one-home rule).

- validate: the shared input checks             - runtime: env variables, device, seeds, Lesson
- densities: every Gaussian log-density         - datafiles: finding, checking, downloading data
- data: loading, subsets, the train/validation split, DeviceLoader
- kl: KL divergences                            - reparam: the reparameterization trick
- models: the autoencoder and the VAEs          - checkpoint: atomic saves, strict loads
- losses: every training loss (negative ELBO, free bits, beta warm-up, ELBOLoss)
- linear_gaussian: the linear-Gaussian model, exact log p(x) and posterior (lesson 04)
- collapse: rate per dimension, active units    - latent: codes, grids, nearest neighbours
- priors: N(0, I), mixture and VampPrior priors - evaluate: likelihoods, IWAE
- bic: Gaussian mixtures and BIC curves         - holes: the one prior-hole measure
- figures: slide style, saving figures          - plots: drawings two lessons share
- train: the training loop, recipes, train_or_load
- explorer: the live latent-space widget        - exercises: self-checks for each lesson
- autoregressive: a masked (MADE) decoder, the VAE that collapses with it (lesson 11)
- hierarchical: the two-level VAE               - gaps: per-image refinement, inference gaps
"""

from vaelib.runtime import fast_mode, pick_device, seed_everything, setup_lesson

__all__ = ["fast_mode", "pick_device", "seed_everything", "setup_lesson"]
__version__ = "0.1.0"
