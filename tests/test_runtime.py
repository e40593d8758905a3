import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

import vaelib
from vaelib.runtime import (
    Lesson,
    fast_mode,
    pick_device,
    seed_everything,
    setup_lesson,
    vaelib_location,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        ("On", True),
        (" 1\n", True),
        ("0", False),
        ("", False),
        ("no", False),
        ("FALSE", False),
        ("off ", False),
    ],
)
def test_fast_mode_reads_vaelib_fast(monkeypatch, value, expected):
    monkeypatch.setenv("VAELIB_FAST", value)
    assert fast_mode() is expected


@pytest.mark.parametrize("value", ["2", "-1", "fast", "y", "n", "tru", "1.0", "full", "0 1"])
def test_fast_mode_refuses_anything_but_a_switch(monkeypatch, value):
    monkeypatch.setenv("VAELIB_FAST", value)
    with pytest.raises(ValueError, match=r"VAELIB_FAST=.*1/true/yes/on.*0/false/no/off"):
        fast_mode()


def test_fast_mode_off_when_unset(monkeypatch):
    monkeypatch.delenv("VAELIB_FAST")
    assert fast_mode() is False


def test_pick_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device() == torch.device("cpu")


def test_pick_device_honours_argument_and_env(monkeypatch):
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("VAELIB_DEVICE", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == torch.device("cpu")


def test_pick_device_rejects_cuda_without_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="prefer='cuda'.*use 'cpu'"):
        pick_device("cuda")


def test_pick_device_errors_name_vaelib_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("VAELIB_DEVICE", "cuda")
    with pytest.raises(ValueError, match="VAELIB_DEVICE='cuda', but CUDA is not available"):
        pick_device()
    monkeypatch.setenv("VAELIB_DEVICE", "gpu0")
    with pytest.raises(ValueError, match="VAELIB_DEVICE='gpu0' is not a device: use 'cpu'"):
        pick_device()
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setenv("VAELIB_DEVICE", "mps")
    with pytest.raises(ValueError, match="VAELIB_DEVICE='mps', but Apple's MPS"):
        pick_device()


def test_pick_device_names_the_argument_when_it_is_the_culprit(monkeypatch):
    monkeypatch.setenv("VAELIB_DEVICE", "cpu")
    with pytest.raises(ValueError, match="prefer='tpu' is not a device"):
        pick_device("tpu")


def test_vaelib_location_is_relative_inside_the_clone_and_full_outside(tmp_path):
    root = Path(vaelib.__file__).resolve().parents[1]
    assert vaelib_location(root / "notebooks") == os.path.join("..", "vaelib")
    assert vaelib_location(root) == "vaelib"
    outside = vaelib_location(tmp_path)
    assert outside.endswith("vaelib") and not outside.startswith("..")
    assert Path(os.path.expanduser(outside)).resolve() == root / "vaelib"


def test_seed_everything_makes_every_generator_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3)  # noqa: NPY002 - the global RNG

    seed_everything(7)
    a = draw()
    g = seed_everything(7)
    b = draw()
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
    assert torch.equal(torch.rand(2, generator=g), torch.rand(2, generator=seed_everything(7)))


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_seed_everything_rejects_bad_seed(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        seed_everything(seed)


def test_setup_lesson_reports_device_mode_and_seed():
    lesson = setup_lesson(seed=3, device="cpu")
    assert (lesson.device, lesson.seed, lesson.fast) == (torch.device("cpu"), 3, True)
    assert isinstance(lesson, Lesson) and lesson.pics is not None and lesson.checkpoints is not None
    assert str(lesson).startswith("device: cpu | mode: fast")
    assert "seed: 3" in str(lesson)
    assert str(lesson).endswith(f"| vaelib: {vaelib_location()}")


def test_package_exports_the_setup_helpers():
    assert vaelib.pick_device is pick_device and vaelib.fast_mode is fast_mode
    assert vaelib.seed_everything is seed_everything and vaelib.setup_lesson is setup_lesson


def test_cpu_name_is_the_model_name_benchmarks_record():
    from vaelib.runtime import cpu_name

    name = cpu_name()
    assert isinstance(name, str) and name.strip() == name and name


def test_bf16_probe_falls_back_to_off_when_torch_has_no_probe(monkeypatch):
    import torch

    from vaelib import runtime

    assert isinstance(runtime.bf16_matmul_supported(), bool)

    class NoProbe:  # a torch build without oneDNN's private probe
        def __getattr__(self, name):
            raise AttributeError(name)

    monkeypatch.setattr(torch.ops, "mkldnn", NoProbe())
    assert runtime.bf16_matmul_supported() is False

    class Failing:
        @staticmethod
        def _is_mkldnn_bf16_supported():
            raise RuntimeError("no such operator")

    monkeypatch.setattr(torch.ops, "mkldnn", Failing())
    assert runtime.bf16_matmul_supported() is False
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    assert runtime.bf16_matmul_supported() is False


def test_the_folders_come_from_the_environment_only_here(monkeypatch, tmp_path):
    from vaelib import runtime

    monkeypatch.setenv("VAELIB_PICS", str(tmp_path / "p"))
    monkeypatch.setenv("VAELIB_CHECKPOINTS", str(tmp_path / "c"))
    monkeypatch.setenv("VAELIB_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("VAELIB_NO_DOWNLOAD", "1")
    assert runtime.pics_dir() == tmp_path / "p" and runtime.checkpoints_dir() == tmp_path / "c"
    assert runtime.data_dir() == tmp_path / "d" and runtime.download_allowed() is False
    lesson = runtime.setup_lesson(seed=0)
    assert lesson.pics == tmp_path / "p" and lesson.checkpoints == tmp_path / "c"
    for name in ("VAELIB_PICS", "VAELIB_CHECKPOINTS", "VAELIB_DATA", "VAELIB_NO_DOWNLOAD"):
        monkeypatch.delenv(name)
    assert runtime.pics_dir(fast=False) == runtime.REPO_ROOT / "work" / "pics"
    assert runtime.checkpoints_dir() == runtime.REPO_ROOT / "checkpoints"
    assert runtime.data_dir() is None and runtime.download_allowed() is True


def test_only_runtime_reads_the_environment():
    import re
    from pathlib import Path

    import vaelib

    package = Path(vaelib.__file__).parent
    readers = sorted(
        p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if re.search(r"os\.environ|os\.getenv", p.read_text())
    )
    assert readers == ["runtime.py"], readers


def test_bf16_speedup_is_a_measured_ratio_and_zero_without_bf16(monkeypatch):
    from vaelib import runtime

    speedup = runtime.bf16_matmul_speedup("cpu", (8, 16, 8), 1)
    assert speedup >= 0 and (speedup > 0) == runtime.bf16_matmul_supported()
    monkeypatch.setattr(runtime, "bf16_matmul_supported", lambda: False)
    assert runtime.bf16_matmul_speedup("cpu", (8, 16, 4), 1) == 0.0
    assert runtime.bf16_matmul_speedup("meta") == 0.0


def test_the_openmp_wait_is_one_value_for_make_the_lab_kernel_and_the_load_test():
    """make's targets, the workspace kernel and suite_under_load give torch one spin count."""
    import re
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    make = re.search(r"^export GOMP_SPINCOUNT \?= (\d+)$", (root / "Makefile").read_text(), re.M)
    assert make and vaelib.runtime.OPENMP_ENV == {"GOMP_SPINCOUNT": make.group(1)}
    sys.path.insert(0, str(root / "tools"))
    from workspace import kernel_spec

    spec = kernel_spec(root, root / "work")
    assert spec["env"]["GOMP_SPINCOUNT"] == make.group(1)
    assert "OPENMP_ENV, **os.environ" in (root / "benchmarks/suite_under_load.py").read_text()
