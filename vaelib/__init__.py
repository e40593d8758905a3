"""vaelib: the helper package of vae-course, one module per idea of the course.

- runtime: device, seeds, fast mode        - data: Fashion-MNIST/MNIST and the fast batcher
- models: the autoencoder and the VAEs     - losses: reconstruction losses
- train: the training loop, recipes        - figures: saving every figure under pics/
- checkpoint: atomic saves, strict loads   - validate: the input checks every helper uses
- kl: KL divergence                        - reparam: the reparameterization trick
- elbo: the evidence lower bound, checked on the linear-Gaussian model (exact log p(x), p(z|x))
- evaluate: likelihood estimates           - bic: Gaussian mixtures and BIC curves
- exercises: self-checks for each lesson's exercises
"""

from vaelib.runtime import fast_mode, pick_device, seed_everything, setup_lesson

__all__ = ["fast_mode", "pick_device", "seed_everything", "setup_lesson"]
__version__ = "0.1.0"
