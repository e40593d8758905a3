"""How long each lesson takes, as measured: the one source of the times the lessons print and
README's table gives.

``make course-time`` (``benchmarks/course_time.py``) runs every lesson in full mode from empty
checkpoints (the first run: models are trained and saved), then again with the saved models
(the re-run), and writes ``docs/course_time.json``. ``lesson_time("06")`` reads it; its text is
the line under each lesson's title (``make numbers`` writes it there, and README's table, from
the same file, so a committed lesson never quotes an older measurement than README).
``announce("06", what)`` is the first line of a long cell: what it is about to do and how long
it took when measured. tests/test_timing.py checks that both give the same numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

COURSE_TIME = Path(__file__).resolve().parents[1] / "docs" / "course_time.json"


@dataclass(frozen=True)
class LessonTime:
    """One lesson's measured seconds (full mode), and the machine they were measured on."""

    notebook: str
    first_run_s: float | None  # None: the lesson is newer than the file (not timed yet)
    rerun_s: float | None  # None: the file predates re-run timings
    machine: str
    fast: bool = False

    def __str__(self) -> str:
        if self.first_run_s is None:
            return (
                f"Time: lesson {self.notebook[:2]} is not timed yet (make course-time measures "
                "it); expect minutes on a CPU where it trains models, and a progress bar for "
                "every step of more than a few seconds."
            )
        rerun = (
            f"a re-run with its saved models took {self.rerun_s:.0f} s"
            if self.rerun_s is not None
            else "a re-run with its saved models is faster (not measured yet)"
        )
        text = (
            f"Time: this lesson took {self.first_run_s:.0f} s the first time in full mode on "
            f"{self.machine} (training and saving its models); {rerun}. A slower or busy machine "
            "takes longer: every step of more than a few seconds shows a progress bar."
        )
        if self.fast:
            text += " (You are in fast mode: a fraction of that.)"
        return text


def _machine(data: dict) -> str:
    m = data.get("machine", {})
    cores = m.get("cores")
    device = m.get("device", "cpu")
    where = f"{cores} CPU cores" if device == "cpu" and cores else device
    cpu = " ".join(str(m.get("cpu", "")).replace("(R)", "").replace("(TM)", "").split())
    return f"{where} ({cpu})" if cpu and device == "cpu" else where


def read(path: Path = COURSE_TIME) -> dict:
    """The measured timings (``make course-time``'s JSON)."""
    return json.loads(Path(path).read_text())


def _entry(data: dict, lesson: str | int) -> dict:
    key = f"{int(lesson):02d}_" if str(lesson).isdigit() else None
    if key is None:
        raise ValueError(f"lesson={lesson!r} must be a lesson number such as '06'.")
    for entry in data.get("notebooks", []):
        if entry["notebook"].startswith(key):
            return entry
    raise LookupError(f"lesson {key[:2]} is not in {COURSE_TIME.name}: run make course-time.")


def lesson_time(lesson: str | int, *, fast: bool = False, path: Path = COURSE_TIME) -> LessonTime:
    """Lesson ``lesson`` ("06")'s measured first run and re-run; print it for the sentence."""
    data = read(path)
    try:
        entry = _entry(data, lesson)
    except LookupError:  # a lesson newer than the measurement: said plainly, not an error
        return LessonTime(f"{int(lesson):02d}_", None, None, _machine(data), fast)
    return LessonTime(entry["notebook"], entry["seconds"], entry.get("rerun_seconds"),
                      _machine(data), fast)  # fmt: skip


def announce(lesson: str | int, what: str, *, path: Path = COURSE_TIME) -> str:
    """Print (and return) ``Next: <what>`` with the cell's measured seconds: the cell whose first
    line holds ``what`` (this call's own line) among the lesson's slowest cells."""
    data = read(path)
    try:
        entry = _entry(data, lesson)
    except LookupError:  # a lesson newer than the measurement
        entry = {}
    cells = [c for c in entry.get("slowest_cells", []) if what in c.get("first_line", "")]
    if cells:
        took = f"about {cells[0]['seconds']:.0f} s in full mode on {_machine(data)} when measured"
    else:
        took = "not timed yet (make course-time)"
    text = f"Next: {what}: {took}; slower or busy machines take longer."
    print(text)
    return text


TIME_LINE_PREFIX = "> Time: "  # the lesson's line under its title, in its first (markdown) cell


def time_line(lesson: str | int, path: Path = COURSE_TIME) -> str:
    """The markdown line under lesson ``lesson``'s title: its measured times, as a quote."""
    text = str(lesson_time(lesson, path=path))
    return TIME_LINE_PREFIX + text.removeprefix("Time: ")


def readme_seconds(path: Path = COURSE_TIME) -> dict[str, tuple[int, int | None]]:
    """``{"01": (first run, re-run)}`` in whole seconds, as README's table gives them."""
    out = {}
    for entry in read(path).get("notebooks", []):
        rerun = entry.get("rerun_seconds")
        out[entry["notebook"][:2]] = (
            round(entry["seconds"]),
            None if rerun is None else round(rerun),
        )
    return out
