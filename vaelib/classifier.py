"""The course's own Fashion-MNIST classifier: a feature space to judge samples in (lesson 10).

Sample quality is measured in the features of a network that knows what garments look like
(``vaelib.sample_quality``). The field uses Inception-v3 trained on ImageNet (the FID); with no
network access the course trains its own small CNN on Fashion-MNIST's training images, once,
and caches it like every other model (``train.train_or_load("classifier")``). Its penultimate
layer, before the ReLU (no dead units, so the features' covariance is full rank), is the
feature space: a Fashion-MNIST analogue of Inception's pool features, not the same thing.

Also here: ``LabeledLoader``, the batcher of (images, labels) pairs that the classifier and
the conditional VAE train on.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn
from torch.nn import functional as F

from vaelib import validate as check
from vaelib.data import DeviceLoader

N_CLASSES = 10
FEATURE_DIM = 64


class LabeledLoader(DeviceLoader):
    """``DeviceLoader`` with the labels alongside: iterating yields ``(x, y)``, x (B, 1, H, W)
    float in [0, 1], y (B,) int64, the same shuffled rows of both.

    labels: (N,) integers in 0..9 (``load_dataset``'s second output).
    """

    def __init__(
        self, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 128, **kw
    ) -> None:
        super().__init__(images, batch_size, **kw)
        self.y = check_labels(labels, "labels", images.shape[0]).to(self.x.device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:  # type: ignore[override]
        for rows, x in self.batches():
            yield x, self.y[rows]


def check_labels(y: object, name: str, n: int | None = None) -> torch.Tensor:
    """``y`` as an int64 tensor (N,) of class indices in 0..9 (N = ``n`` when given)."""
    check.tensor(y, name)
    if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
        raise check.InputTypeError(
            f"{name} must hold integer class indices (int64), got {y.dtype}: pass {name}.long() "
            "of the labels, not one-hot rows or probabilities."
        )
    if y.dim() != 1 or (n is not None and y.shape[0] != n):
        want = f"({n},)" if n is not None else "(N,)"
        raise ValueError(
            f"{name} must have shape {want}, one class per image, got {tuple(y.shape)}."
        )
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= N_CLASSES):
        raise ValueError(
            f"{name} must hold classes 0..{N_CLASSES - 1}, got values in "
            f"[{int(y.min())}, {int(y.max())}]."
        )
    return y.long()


class Classifier(nn.Module):
    """A small CNN for (N, 1, 28, 28) images in [0, 1] -> logits (N, 10).

    Conv 8 (3x3) -> ReLU -> max-pool -> 14x14 -> Conv 16 (3x3) -> ReLU -> max-pool -> 7x7
    -> Linear ``FEATURE_DIM`` = the features h (N, 64) -> ReLU -> Linear 10 = the logits.
    """

    def __init__(self, feature_dim: int = FEATURE_DIM, channels: int = 8) -> None:
        super().__init__()
        check.integer(feature_dim, "feature_dim", 1)
        c = channels
        self.body = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * c * 7 * 7, feature_dim),
        )  # fmt: skip
        self.head = nn.Linear(feature_dim, N_CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 1, 28, 28) -> h: (N, feature_dim), the penultimate layer before its ReLU."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 1, 28, 28) -> logits (N, 10); p(class | x) = softmax(logits)."""
        return self.head(F.relu(self.features(x)))


def classifier_loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> dict:
    """Cross-entropy of a ``(x, y)`` batch, and the batch's accuracy, as means per image."""
    x, y = batch
    logits = model(x)
    return {
        "loss": F.cross_entropy(logits.float(), y),
        "acc": (logits.argmax(1) == y).float().mean(),
    }


def _images(x: object, name: str = "x") -> torch.Tensor:
    check.floating(x, name)
    check.batch(x, name, 4, "(N, 1, 28, 28)")
    if tuple(x.shape[1:]) != (1, 28, 28):
        raise ValueError(f"{name} must have shape (N, 1, 28, 28), got {tuple(x.shape)}.")
    check.unit_interval(x, f"{name} (pixel intensities)")
    return x


@torch.no_grad()
def features(model: Classifier, x: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """The classifier's features of images x (N, 1, 28, 28) in [0, 1]: (N, feature_dim) float32,
    on the CPU, computed in eval mode ``batch_size`` images at a time."""
    _images(x)
    check.integer(batch_size, "batch_size", 1)
    model.eval()
    device = next(model.parameters()).device
    out = [
        model.features(x[i : i + batch_size].to(device)).float().cpu()
        for i in range(0, len(x), batch_size)
    ]
    return torch.cat(out)


@torch.no_grad()
def predict(model: Classifier, x: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """The predicted class of each image x (N, 1, 28, 28) in [0, 1]: (N,) int64 on the CPU."""
    _images(x)
    model.eval()
    device = next(model.parameters()).device
    out = [
        model(x[i : i + batch_size].to(device)).argmax(1).cpu()
        for i in range(0, len(x), batch_size)
    ]
    return torch.cat(out)


def accuracy(model: Classifier, x: torch.Tensor, y: torch.Tensor) -> float:
    """The fraction of images x (N, 1, 28, 28) whose predicted class is y (N,)."""
    y = check_labels(y, "y", x.shape[0] if isinstance(x, torch.Tensor) else None)
    return float((predict(model, x) == y.cpu()).double().mean())


def per_class_accuracy(model: Classifier, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Accuracy among the images of each class: (10,) float64, nan for a class absent from y."""
    y = check_labels(y, "y", x.shape[0] if isinstance(x, torch.Tensor) else None).cpu()
    hit = (predict(model, x) == y).double()
    counts = torch.bincount(y, minlength=N_CLASSES).double()
    hits = torch.zeros(N_CLASSES, dtype=torch.float64).index_add_(0, y, hit)
    return hits / counts
