"""benchmarks/bench.py: the JSON a tiny run prints (speed itself is shown by the benchmark, not
here: no timed tests)."""

from __future__ import annotations

import json
import shutil

import pytest

from benchmarks import bench


def test_tiny_run_prints_one_json_object_with_the_floor(capsys):
    argv = ["--device", "cpu", "--limit", "256", "--repeats", "1", "--models", "mlp,ae", "--json"]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    result = json.loads(out[0])
    assert result["machine"]["device"] == "cpu" and result["train_images"] == 256
    assert result["machine"]["cpu"] and result["machine"]["cores"] >= 1
    assert (result["epochs"], result["repeats"]) == (1, 1)
    assert isinstance(result["amp_bf16"], bool)
    assert set(result["models"]) == {"vae_mlp_latent20", "ae_latent2"}
    mlp = result["models"]["vae_mlp_latent20"]
    assert mlp["steps_per_epoch"] == 2 and mlp["data_to_device_seconds"] > 0  # 256 images
    for part in ("loop", "floor", "usual"):
        assert mlp[part]["seconds_per_epoch"] > 0 and len(mlp[part]["runs"]) == 1
    for part in ("loop", "usual"):
        assert 300 < mlp[part]["test_loss"] < 600  # nats per image after 2 steps
    assert mlp["loop_over_floor"] == pytest.approx(
        mlp["loop"]["seconds_per_epoch"] / mlp["floor"]["seconds_per_epoch"]
    )
    assert mlp["usual_over_loop"] == pytest.approx(
        mlp["usual"]["seconds_per_epoch"] / mlp["loop"]["seconds_per_epoch"]
    )
    assert "usual" not in result["models"]["ae_latent2"]  # the usual pipeline: the VAE only
    # The machine's limit: the step's FLOPs (784-400-20, batch 128: forward 2 * 128 * 651,200,
    # backward twice that less the first layer's input gradient) and its matmuls alone.
    assert mlp["flops_per_step"] == 2 * 128 * 651_200 * 3 - 2 * 128 * 784 * 400
    assert mlp["flops_per_epoch"] == 2 * mlp["flops_per_step"]
    for dtype in ("bfloat16", "float32"):
        assert mlp["gemm"][dtype]["seconds_per_epoch"] > 0
        assert mlp["gemm"][dtype]["gflop_per_second"] > 0
    fastest = mlp["gemm"][mlp["gemm"]["fastest"]]["seconds_per_epoch"]
    assert mlp["loop_over_gemm"] == pytest.approx(mlp["loop"]["seconds_per_epoch"] / fastest)
    assert mlp["loop_over_gemm"] > 1  # the matmuls alone are a floor under the loop
    sweep = result["sweep"]
    assert sweep["betas"] == [0.1, 0.5, 1.0, 2.0, 4.0, 8.0]
    assert sweep["speedup"] == pytest.approx(
        sweep["one_by_one"]["seconds_per_epoch"] / sweep["stacked"]["seconds_per_epoch"]
    )
    assert sweep["final_loss_max_abs_difference"] < 0.05  # the stack trains the same models


def test_summary_names_loop_floor_and_ratio():
    result = bench.benchmark("cpu", ("ae",), limit=128, repeats=1, usual=False)
    text = bench.summary(result)
    assert "training loop" in text and "floor" in text and "loop/floor" in text
    assert "loop/gemm" in text and "stacked" in text and "speed-up" in text


def test_library_costs_tiny():
    out = bench.bench_library(
        bench.torch.device("cpu"), 0, 1, n_test=2, n_codes=50, ks=(1, 2), iwae_ks=(1, 3)
    )
    assert out["iwae"]["test_images"] == 2
    for name in ("vae_mlp_latent20", "vae_conv_latent20"):
        assert set(out["iwae"][name]["seconds_by_k"]) == {"1", "3"}
    assert out["bic"]["d=20"]["ks"] == [1, 2] and out["bic"]["d=2"]["seconds"] > 0


def test_torchvision_reads_the_unpacked_files():
    from torchvision import datasets

    root = bench.torchvision_root()
    try:
        data = datasets.FashionMNIST(str(root), train=False, download=False)
        assert len(data) == 10000
    finally:
        shutil.rmtree(root)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs"),
        ({"limit": 0}, "limit"),
        ({"repeats": 0}, "repeats"),
        ({"models": ("resnet",)}, "models"),
        ({"compile_mode": "fast"}, "compile_mode"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bench.benchmark("cpu", **kwargs)


def test_levers_hand_written_step_gives_the_eager_losses(capsys):
    from benchmarks import levers

    assert levers.main(["--repeats", "1", "--steps", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    for name in ("lean_fp32", "manual_fp32"):
        assert max(abs(d) for d in out[f"{name}_first_losses_minus_eager"]) < 1e-2
    assert set(out["ms_per_step"]) >= {"eager_fp32", "eager_bf16", "manual_fp32", "gemm_fp32"}
