"""A lesson's measured numbers, printed and kept in ``results/NN_topic.json`` for the deck.

The deck, README and docs quote numbers that a lesson measures. Each lesson ends its
measurements with ``results.record(lesson, "NN_topic", {...})``: the numbers are printed (so
the executed notebook holds them, where ``tests/test_numbers.py`` looks for every number the
deck quotes) and, in a full-mode run of the course's own notebook (``make figures``), written
to ``results/NN_topic.json``, from which ``tools/fill_numbers.py`` (``make numbers``) fills
the deck, README and docs. Test runs (fast mode), a student's copy in ``work/`` and any other
folder write nothing.
"""

from __future__ import annotations

import json
import math
import re
from numbers import Integral, Real
from pathlib import Path

import torch

COURSE_ROOT = Path(__file__).resolve().parents[1]
RESULTS = COURSE_ROOT / "results"
_TOPIC = re.compile(r"\d\d_[a-z0-9_]+")

Value = float | int | str | bool | list | dict


def _plain(value: object, where: str) -> Value:
    """``value`` as JSON: numbers (Python, NumPy or 0-d tensors), strings, lists and dicts."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise TypeError(f"{where} is a tensor of shape {tuple(value.shape)}: record one number")
        value = value.item()
    if hasattr(value, "item") and not isinstance(value, str | bool | int | float):
        value = value.item()  # NumPy scalars
    if isinstance(value, bool | str):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{where} = {value}: a measured number must be finite")
        return float(f"{value:.6g}")
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise TypeError(f"{where} is a {type(value).__name__}: record numbers, strings, lists or dicts")


def record(lesson, topic: str, values: dict, *, folder: str | Path | None = None) -> Path | None:
    """Print ``values`` and, in a full-mode run of the course's notebook, keep them on disk.

    ``lesson`` is the lesson's ``setup_lesson()`` result (its ``fast`` flag decides), ``topic``
    the notebook's name without ``.ipynb`` (``"06_vae_training"``), ``values`` a dict of
    numbers (floats kept to 6 significant digits), strings, lists or dicts.
    Written to ``folder/topic.json`` when ``folder`` is given, else to the course's
    ``results/`` only when the lesson runs in full mode from the course's ``notebooks/``
    folder (``make figures``, ``make course-time --in-place``). Returns the path written, or
    None.
    """
    if not isinstance(topic, str) or not _TOPIC.fullmatch(topic):
        raise ValueError(f"topic={topic!r} must name the notebook, e.g. '06_vae_training'")
    if not isinstance(values, dict) or not values:
        raise TypeError("values must be a non-empty dict of the lesson's measured numbers")
    plain = _plain(values, "values")
    print(f"results ({topic}):", json.dumps(plain))
    if folder is None:
        if getattr(lesson, "fast", True) or Path.cwd().resolve() != COURSE_ROOT / "notebooks":
            return None
        folder = RESULTS
    path = Path(folder) / f"{topic}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plain, indent=1, sort_keys=True) + "\n")
    return path


def load(topic: str, folder: str | Path | None = None) -> dict:
    """The numbers ``record`` kept for ``topic`` (``results/topic.json``)."""
    path = Path(folder or RESULTS) / f"{topic}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: run the lesson in full mode from notebooks/ (make figures)"
        )
    return json.loads(path.read_text())
