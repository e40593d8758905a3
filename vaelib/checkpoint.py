"""Checkpoints: where they live, how they are written (atomically, durably) and read (safely).

A checkpoint is one ``torch.save`` of ``{"state_dict", "history", "meta"}``: plain tensors,
lists and dicts, loaded back with ``torch.load(..., weights_only=True)`` (no pickled code
runs). Saving writes a unique temp file in the target's folder, ``fsync``s it, renames it onto
the target (``os.replace``, atomic) and ``fsync``s the folder, so a crash or a kill at any
moment leaves either the old checkpoint or the new one, never half of one; a failed save
removes its temp file, and the next save removes those of killed processes.
Reading is strict: a file that is not such a checkpoint (empty, text, another pickle, wrong
keys or shapes, non-finite weights) raises ``CheckpointError`` saying why; ``load_if_matching``
turns that into "retrain, and say why".
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from vaelib import runtime

KEYS = ("state_dict", "history", "meta")
History = dict[str, list[float]]


class CheckpointError(ValueError):
    """The file at a checkpoint path is not a usable checkpoint (the message says why)."""


def checkpoint_path(name: str, *, fast: bool | None = None) -> Path:
    """``<checkpoints>/<full|fast>/<name>.pt``; ``<checkpoints>`` is ``runtime.checkpoints_dir()``
    (VAELIB_CHECKPOINTS or the course's ``checkpoints/`` folder); ``fast=None`` follows
    ``runtime.fast_mode()`` (pass ``lesson.fast``). Fast-mode models never stand in for
    full-mode ones."""
    if not isinstance(name, str) or not name or "/" in name or name.endswith(".pt"):
        raise ValueError(f"name={name!r} must be a bare file stem such as 'ae_latent2'.")
    if not name.isprintable() or name.strip() != name or name.startswith("."):
        raise ValueError(
            f"name={name!r} must be a bare file stem such as 'ae_latent2' (no control "
            "characters, spaces at the ends or leading dot)."
        )
    fast = runtime.fast_mode() if fast is None else fast
    return runtime.checkpoints_dir() / ("fast" if fast else "full") / f"{name}.pt"


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def remove_stale_temp_files(path: str | Path) -> list[Path]:
    """Remove the temp files that killed saves of ``path`` left (their process is gone)."""
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    old_style = path.parent.glob(f".{path.name}.tmp-*")  # vaelib before 0.2: .m.pt.tmp-<pid>
    for tmp in [*path.parent.glob(f"{_temp_prefix(path)}*.tmp"), *old_style]:
        try:
            pid = int(tmp.name[len(_temp_prefix(path)) :].removeprefix("tmp-").split(".")[0])
        except ValueError:
            continue
        if _alive(pid):
            continue  # a save running right now (this process or another)
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def check_writable(path: str | Path) -> Path:
    """Make ``path``'s folder and prove it writable (create and remove a temp file), before a
    run whose result would be lost: raises PermissionError naming the folder and the fix."""
    folder = Path(path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise _not_writable(folder, err, "Nothing was trained.") from err
    return folder


def _not_writable(folder: Path, err: OSError, outcome: str) -> PermissionError:
    return PermissionError(
        f"checkpoint folder {folder} is not writable ({err.strerror or err}): set "
        "VAELIB_CHECKPOINTS to a writable folder, or pass checkpoint=None to train "
        f"without saving. {outcome}"
    )


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_finite_state(state: dict[str, torch.Tensor], what: str) -> None:
    for key, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{what} has non-finite values (nan or inf) in {key!r}")


def save_checkpoint(
    path: str | Path, model: nn.Module, history: History | None = None, meta: dict | None = None
) -> Path:
    """Write ``{state_dict, history, meta}`` atomically and durably (see the module docstring).

    Refuses (ValueError) a model with nan or inf weights: nothing non-finite is ever saved.
    """
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _check_finite_state(state, "the model to save")
    for name, values in (history or {}).items():
        if not all(math.isfinite(v) for v in values):
            raise CheckpointError(f"history[{name!r}] has non-finite values: nothing was saved")
    remove_stale_temp_files(path)
    try:  # the temp file itself proves the folder writable (no probe file a kill could leave)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=".tmp", dir=path.parent
        )
    except OSError as err:
        raise _not_writable(path.parent, err, "Nothing was saved.") from err
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"state_dict": state, "history": history or {}, "meta": meta or {}}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # any failure, KeyboardInterrupt included: no orphan temp file
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint at ``path`` as ``{state_dict, history, meta}``, checked; a file that is
    not one raises ``CheckpointError`` with the reason. ``weights_only=True``: no code runs."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} is not a file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes: an interrupted write)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file means "retrain"
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise CheckpointError(f"{path} is not a readable checkpoint ({first})") from err
    if not isinstance(blob, dict):
        raise CheckpointError(f"{path} holds a {type(blob).__name__}, not a checkpoint dict")
    if set(blob) != set(KEYS):
        raise CheckpointError(f"{path} has keys {sorted(map(str, blob))}, not {list(KEYS)}")
    state, history, meta = (blob[k] for k in KEYS)
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(f"{path}: state_dict is not a dict of named tensors")
    if not isinstance(history, dict) or not all(
        isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)
        for v in history.values()
    ):
        raise CheckpointError(f"{path}: history is not a dict of lists of numbers")
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: meta is not a dict")
    _check_finite_state(state, str(path))
    return blob


def load_checkpoint(path: str | Path, model: nn.Module) -> tuple[History, dict]:
    """Load weights into ``model`` and return ``(history, meta)``. Raises ``CheckpointError``
    for a file that is not a checkpoint, RuntimeError when the weights do not fit the model."""
    blob = read_checkpoint(path)
    device = next(model.parameters()).device
    model.load_state_dict({k: v.to(device) for k, v in blob["state_dict"].items()})
    model.eval()
    return blob["history"], blob["meta"]


def load_if_matching(path: str | Path, model: nn.Module, expected: dict) -> History | None:
    """Load ``path`` into ``model`` and return its history if it was made as ``expected`` says
    (its meta, less the recorded ``steps``, equals ``expected``, and its history has one entry
    per epoch). Otherwise print why it is not used, restore the model's own weights (a stale
    load never leaks into training) and return None: the caller retrains."""
    path = Path(path)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        history, saved = load_checkpoint(path, model)
        recipe = {k: v for k, v in saved.items() if k != "steps"}
        epochs = expected.get("epochs")
        if recipe != expected:
            reason = "made by another recipe"
        elif any(len(v) != epochs for v in history.values()) or saved.get("steps", 1) < 1:
            reason = f"half-made (its history does not hold {epochs} epochs)"
        else:
            print(f"loaded checkpoint {_shown(path)} ({epochs} epochs): delete it to retrain")
            return history
    except CheckpointError as err:
        reason = f"unusable: {err}"
    except (RuntimeError, KeyError) as err:  # a checkpoint of another architecture
        reason = f"unusable ({' '.join(str(err).split())[:300]})"
    model.load_state_dict(initial)
    print(f"training afresh: checkpoint {_shown(path)} was {reason}")
    return None


def _shown(path: Path) -> str:
    """``<folder>/<full|fast>/<name>.pt``: enough to find the file, no machine-specific prefix
    (outputs of committed notebooks name no absolute path)."""
    return str(Path(*path.parts[-3:]))
