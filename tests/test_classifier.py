"""vaelib.classifier: shapes, the labelled batcher, accuracy counting, bad labels."""

from __future__ import annotations

import pytest
import torch

from vaelib import classifier as C
from vaelib import train


def test_shapes_and_features_are_the_penultimate_layer():
    torch.manual_seed(0)
    model = C.Classifier()
    x = torch.rand(5, 1, 28, 28)
    assert model(x).shape == (5, 10)
    h = C.features(model, x)
    assert h.shape == (5, C.FEATURE_DIM) and h.dtype == torch.float32
    torch.testing.assert_close(model.head(torch.relu(h)), model(x))


def test_labeled_loader_keeps_pairs_together():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 2, 2).contiguous()
    labels = torch.arange(10) % 10
    batches = list(C.LabeledLoader(images, labels, 4, seed=1))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    for x, y in batches:
        torch.testing.assert_close(x[:, 0, 0, 0], y.float() / 255)
    seen = torch.cat([y for _, y in batches]).sort().values
    torch.testing.assert_close(seen, labels)


def test_accuracy_and_per_class_accuracy_count_hits(monkeypatch):
    y = torch.tensor([0, 0, 1, 1, 2])
    monkeypatch.setattr(C, "predict", lambda model, x: torch.tensor([0, 1, 1, 1, 0]))
    x = torch.rand(5, 1, 28, 28)
    assert C.accuracy(None, x, y) == pytest.approx(3 / 5)
    per = C.per_class_accuracy(None, x, y)
    torch.testing.assert_close(per[:3], torch.tensor([0.5, 1.0, 0.0], dtype=torch.float64))
    assert torch.isnan(per[3:]).all()  # classes absent from y


def test_the_recipe_builds_the_classifier():
    model, loss_fn = train.build_model(train.RECIPES["classifier"])
    x, y = torch.rand(3, 1, 28, 28), torch.tensor([1, 2, 3])
    out = loss_fn(model, (x, y))
    assert set(out) == {"loss", "acc"} and out["loss"] > 0


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (torch.rand(5), "integer class indices"),
        (torch.tensor([0, 1, 2, 3, 10]), r"classes 0..9"),
        (torch.tensor([[0, 1, 2, 3, 4]]), r"shape \(5,\)"),
        ([0, 1, 2, 3, 4], "must be a floating-point tensor"),
    ],
    ids=["float", "out of range", "2-D", "list"],
)
def test_bad_labels_get_clear_errors(labels, match):
    with pytest.raises((ValueError, TypeError), match=match):
        C.LabeledLoader(torch.zeros(5, 1, 2, 2, dtype=torch.uint8), labels)


def test_features_refuse_uint8_and_wrong_shapes():
    model = C.Classifier()
    with pytest.raises(TypeError, match="uint8"):
        C.features(model, torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        C.features(model, torch.zeros(2, 1, 14, 14))
