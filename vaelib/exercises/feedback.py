"""How every self-check answers: the student's code is called safely, the verdict printed.

Lessons 01, 05 and 06 answer with ``report`` ("right!" / "not yet: <hint>"), lessons 02 to 04
with ``verdict`` ("Right! <why>" / "Not yet. <hint>"); both return the bool they print.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def report(ok: bool, hint: str) -> bool:
    """Print ``right!`` or ``not yet: <hint>``; return ``ok``."""
    print("right!" if ok else f"not yet: {hint}")
    return ok


def verdict(ok: bool, right: str, hint: str) -> bool:
    """Print ``Right! <right>`` or ``Not yet. <hint>``; return ``ok``."""
    print(("Right! " + right) if ok else ("Not yet. " + hint))
    return ok


def unanswered(answer: object, what: str) -> bool:
    """True (and say what to fill in) while the exercise's placeholder ``None`` is untouched."""
    if answer is None:
        print(f"No answer yet: replace None with {what}, then run the cell again.")
        return True
    return False


def close(answer: float, target: float, rtol: float = 1e-3) -> bool:
    """``|answer - target| <= rtol * max(1, |target|)`` for a finite answer."""
    return math.isfinite(answer) and abs(answer - target) <= rtol * max(1.0, abs(target))


def as_float(answer: object) -> float:
    """The answer as a float; ValueError when it is not a number."""
    try:
        return float(answer)
    except (TypeError, ValueError) as err:
        raise ValueError(f"answer must be a number, got {answer!r}.") from err


def call_student(
    fn: Callable[..., object],
    *args: object,
    dtype: torch.dtype = torch.float64,
    none_hint: str = "write its body.",
) -> torch.Tensor | str:
    """``fn(*args)`` as a tensor of ``dtype``, or a hint (a str) saying what went wrong: it
    raised, returned None, or returned something that is no tensor."""
    try:
        got = fn(*args)
        if got is None:
            return f"your function returns None: {none_hint}"
        return torch.as_tensor(got, dtype=dtype)
    except Exception as err:  # noqa: BLE001 - the student's code may fail in any way
        return f"your function raised {type(err).__name__}: {err}"
