"""benchmarks/bench.py: the JSON a tiny run prints (speed itself is shown by the benchmark, not here)."""

from __future__ import annotations

import json

import pytest

from benchmarks import bench


def test_tiny_run_prints_one_json_object(capsys):
    assert (
        bench.main(
            ["--device", "cpu", "--epochs", "1", "--limit", "256", "--repeats", "1", "--json"]
        )
        == 0
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    result = json.loads(out[0])
    assert result["device"] == "cpu" and result["train_images"] == 256
    assert (result["epochs"], result["batch_size"], result["repeats"]) == (1, 128, 1)
    assert isinstance(result["b"]["amp_bf16"], bool)
    for key in ("a", "b"):
        assert result[key]["seconds_per_epoch"] > 0
        assert 300 < result[key]["test_loss"] < 600  # nats per image after 2 steps
    assert result["ratio_a_over_b"] == pytest.approx(
        result["a"]["seconds_per_epoch"] / result["b"]["seconds_per_epoch"]
    )
    rel = (result["b"]["test_loss"] - result["a"]["test_loss"]) / result["a"]["test_loss"]
    assert result["test_loss_relative_diff_b_vs_a"] == pytest.approx(rel)


def test_torchvision_reads_the_unpacked_files():
    from torchvision import datasets

    root = bench.torchvision_root()
    try:
        data = datasets.FashionMNIST(str(root), train=False, download=False)
        assert len(data) == 10000
    finally:
        import shutil

        shutil.rmtree(root)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"limit": 0}, "limit"),
        ({"repeats": 0}, "repeats"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bench.benchmark("cpu", **kwargs)
