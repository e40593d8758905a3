"""Device, seeds, fast mode and the course's folders: what the first cell of every lesson sets
up. The ONE reader of the ``VAELIB_*`` environment variables and of the bf16 probe:

- ``VAELIB_FAST`` (``fast_mode``), ``VAELIB_DEVICE`` (``pick_device``),
- ``VAELIB_PICS`` (``pics_dir``), ``VAELIB_CHECKPOINTS`` (``checkpoints_dir``),
- ``VAELIB_DATA`` (``data_dir``), ``VAELIB_NO_DOWNLOAD`` (``download_allowed``).

Other modules take these as arguments (``fast=``, paths), defaulting to what this module reads;
a lesson gets them all at once from ``setup_lesson()``.
"""

from __future__ import annotations

import functools
import getpass
import os
import platform
import random
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

# How long an idle OpenMP thread of torch's CPU kernels spins before it sleeps (GNU libgomp, which
# torch's Linux wheels use; other OpenMP runtimes ignore it). It must be in the environment before
# torch starts, so the Makefile exports it (the kernels of make lab, make test and make figures
# inherit it) and the workspace kernel spec sets it. libgomp's default spins ~30x longer: with a
# second busy process on 2 cores, one VAE step then takes ~28x as long (a spinning thread holds
# the core its partner needs); 10,000 keeps the idle speed (docs/benchmarks.md, "contention").
OPENMP_ENV = {"GOMP_SPINCOUNT": "10000"}

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
REPO_ROOT = Path(__file__).resolve().parents[1]  # the clone: data/, checkpoints/, work/ live here


def fast_mode() -> bool:
    """True when the environment variable VAELIB_FAST is on (CI and ``make test`` set it to 1).

    Fast mode trains on a fixed data subset for a few epochs so every notebook runs in
    about a minute on two CPU cores; students get full mode, which the committed
    notebooks and figures come from. Unset or empty means full mode; anything other than
    1/true/yes/on or 0/false/no/off (any case) is refused, so a typo never silently means
    full mode.
    """
    value = os.environ.get("VAELIB_FAST", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE or value == "":
        return False
    raise ValueError(
        f"VAELIB_FAST={os.environ['VAELIB_FAST']!r} is not a switch: set it to one of "
        f"{'/'.join(_TRUE)} (fast mode) or {'/'.join(_FALSE)} (full mode), or unset it."
    )


def pick_device(prefer: str | None = None) -> torch.device:
    """The training device: ``prefer`` if given, else CUDA, then Apple's MPS, then the CPU.

    ``VAELIB_DEVICE`` (e.g. ``cpu``) overrides the automatic choice.
    """
    source = "prefer"
    if not prefer and os.environ.get("VAELIB_DEVICE", "").strip():
        prefer, source = os.environ["VAELIB_DEVICE"].strip(), "VAELIB_DEVICE"
    if prefer:
        try:
            device = torch.device(prefer)
        except RuntimeError as err:
            raise ValueError(
                f"{source}={prefer!r} is not a device: use 'cpu', 'cuda', 'cuda:1' or 'mps'."
            ) from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{source}={prefer!r}, but CUDA is not available: use 'cpu'.")
        mps = getattr(torch.backends, "mps", None)
        if device.type == "mps" and not (mps is not None and mps.is_available()):
            raise ValueError(f"{source}={prefer!r}, but Apple's MPS is not available: use 'cpu'.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); returns a CPU generator seeded with ``seed``.

    Helpers that draw random numbers also take their own generator or seed, so a
    result never depends on how many random numbers an earlier cell consumed.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeds the global RNG that older code uses
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def vaelib_location(cwd: Path | None = None) -> str:
    """Where ``vaelib`` was imported from, to show which clone a kernel runs.

    Relative to ``cwd`` (default: the current folder) when the clone holds ``cwd``, as for a
    lesson in ``notebooks/`` or ``work/`` (then ``../vaelib``, the same on every machine);
    otherwise the full path, ``~``-abbreviated: a kernel that imports another clone's vaelib
    shows it at once.
    """
    package = Path(__file__).resolve().parent
    here = Path.cwd() if cwd is None else Path(cwd)
    here = here.resolve()
    if here == package.parent or package.parent in here.parents:
        return os.path.relpath(package, here)
    home = Path.home().resolve()
    if home in package.parents:
        return str(Path("~") / package.relative_to(home))
    return str(package)


@functools.cache
def _fast_pics_dir() -> Path:
    """One private temporary folder per user and per run (process), made on first use."""
    try:
        user = re.sub(r"[^A-Za-z0-9_.-]", "_", getpass.getuser())
    except (KeyError, OSError):  # no user name (a container without /etc/passwd entry)
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return Path(tempfile.mkdtemp(prefix=f"vaelib-pics-{user}-"))


def pics_dir(fast: bool | None = None) -> Path:
    """Where figures go: ``VAELIB_PICS``; unset, a per-run temp folder in fast mode, else
    ``<repo>/work/pics`` (the student's workspace, git-ignored; the tracked ``pics/`` is
    written only by ``make figures``, which sets ``VAELIB_PICS``). ``fast=None``: ``fast_mode()``.
    """
    if os.environ.get("VAELIB_PICS"):
        return Path(os.environ["VAELIB_PICS"])
    if fast_mode() if fast is None else fast:
        return _fast_pics_dir()
    return REPO_ROOT / "work" / "pics"


def checkpoints_dir() -> Path:
    """The checkpoints' root: ``VAELIB_CHECKPOINTS``, else the course's ``checkpoints/`` folder
    (``checkpoint.checkpoint_path`` adds ``full/`` or ``fast/``)."""
    return Path(os.environ.get("VAELIB_CHECKPOINTS") or REPO_ROOT / "checkpoints")


def data_dir() -> Path | None:
    """``VAELIB_DATA``, the folder a user points the data search at, or None when unset."""
    value = os.environ.get("VAELIB_DATA")
    return Path(value) if value else None


def download_allowed() -> bool:
    """False when ``VAELIB_NO_DOWNLOAD=1`` (CI, offline machines): no data download is tried."""
    return os.environ.get("VAELIB_NO_DOWNLOAD", "0") != "1"


@dataclass(frozen=True)
class Lesson:
    """What a lesson's setup cell decided: device, seed, fast mode, where figures and
    checkpoints go (and which vaelib). Pass ``lesson.fast`` and the folders down to vaelib's
    functions (``fast=``, ``pics=``) rather than reading the environment again."""

    device: torch.device
    seed: int
    fast: bool
    pics: Path | None = None
    checkpoints: Path | None = None

    def __str__(self) -> str:
        mode = "fast (data subset, few epochs)" if self.fast else "full"
        name = self.device.type
        if self.device.type == "cuda":
            name += f" ({torch.cuda.get_device_name(self.device)})"
        return (
            f"device: {name} | mode: {mode} | seed: {self.seed} | torch {torch.__version__}"
            f" | vaelib: {vaelib_location()}"
        )


def setup_lesson(seed: int = 0, device: str | None = None) -> Lesson:
    """One call for a notebook's setup cell: seeds everything, picks the device, reads fast mode."""
    seed_everything(seed)
    fast = fast_mode()
    return Lesson(
        device=pick_device(device), seed=seed, fast=fast, pics=pics_dir(fast),
        checkpoints=checkpoints_dir(),
    )  # fmt: skip


def cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), e.g. "AMD EPYC 9R14"; benchmarks record it."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bf16_matmul_supported() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX), where bf16
    autocast measured faster (docs/benchmarks.md). The one place vaelib asks.

    torch has no public API for it: oneDNN's own probe (``torch.ops.mkldnn``, private) is used
    when oneDNN is built in (``torch.backends.mkldnn.is_available()``, public); if the probe is
    missing or fails (another torch version or build), the answer is False: autocast stays off.
    """
    try:
        if not torch.backends.mkldnn.is_available():
            return False
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def bf16_matmul_speedup(
    device: str | torch.device = "cpu",
    shape: tuple[int, int, int] = (128, 784, 400),
    rounds: int = 5,
) -> float:
    """Measured: float32 time over bfloat16 time of one ``(m, k) @ (k, n)`` product on a CPU
    (default: the MLP VAE's largest, batch 128, 784 -> 400), on one thread (thread CPU time,
    which load from other processes changes least), the fastest of ``rounds`` interleaved
    blocks of each; 0.0 where ``bf16_matmul_supported`` is False. Native bf16 is not always
    faster: oneDNN's bf16 kernel ran at half the float32 rate on an AVX512-BF16 Xeon without
    AMX (docs/benchmarks.md). Cached per process (a property of the machine, ~0.1 s to measure).
    """
    if torch.device(device).type != "cpu" or not bf16_matmul_supported():
        return 0.0
    return _bf16_speedup(tuple(int(v) for v in shape), int(rounds))


@functools.cache
def _bf16_speedup(shape: tuple[int, int, int], rounds: int) -> float:
    m, k, n = shape
    gen = torch.Generator().manual_seed(0)
    a32, b32 = torch.randn(m, k, generator=gen), torch.randn(k, n, generator=gen)
    pairs = {torch.float32: (a32, b32), torch.bfloat16: (a32.bfloat16(), b32.bfloat16())}
    best = dict.fromkeys(pairs, float("inf"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # restored below: the caller's setting is not changed
    try:
        for _ in range(rounds):
            for dtype, (a, b) in pairs.items():
                a @ b  # warm: oneDNN builds its kernel on the first call
                start = time.thread_time()
                for _ in range(10):
                    a @ b
                best[dtype] = min(best[dtype], time.thread_time() - start)
    finally:
        torch.set_num_threads(threads)
    return best[torch.float32] / max(best[torch.bfloat16], 1e-9)
