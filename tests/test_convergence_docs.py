"""docs/benchmarks.md's plateau table for lesson 11 quotes docs/convergence.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

from vaelib import train

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_lesson11_plateau_table_is_the_json_it_came_from():
    report = json.loads((DOCS / "convergence.json").read_text())
    tolerance = report["tolerance_nats"]
    rows = re.findall(
        r"^\| ((?:arvae|hvae)\w*) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (yes|no) \|",
        (DOCS / "benchmarks.md").read_text(),
        re.M,
    )
    assert [r[0] for r in rows] == ["arvae", "arvae_warmup", "arvae_freebits", "hvae_mlp"]
    for name, epochs, at_1x, at_3x, gap, within in rows:
        r = report["recipes"][name]
        assert int(epochs) == r["epochs"] == r["recipe"]["epochs"], name
        assert r["recipe"]["epochs"] == train.RECIPES[name].epochs, f"{name}: re-measure it"
        assert r["recipe"]["lr"] == train.RECIPES[name].lr, f"{name}: re-measure it"
        assert float(at_1x) == round(r["test_neg_elbo"], 2), name
        assert float(at_3x) == round(r["test_neg_elbo_3x"], 2), name
        assert float(gap) == round(r["gap"], 2), name
        assert abs(r["gap"] - (r["test_neg_elbo"] - r["test_neg_elbo_3x"])) < 1e-2, name
        assert (within == "yes") == (r["gap"] <= tolerance) == r["within_tolerance"], name


def test_the_longer_budget_trials_table_is_the_json_it_came_from():
    runs = json.loads((DOCS / "convergence.json").read_text())["budget_trials"]["runs"]
    rows = re.findall(
        r"^\| (\w+) at (\d+) epochs \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (yes|no) \|",
        (DOCS / "benchmarks.md").read_text(),
        re.M,
    )
    assert len(rows) == len(runs) == 3
    for (name, epochs, at_1x, at_3x, gap, within), r in zip(rows, runs, strict=True):
        assert (name, int(epochs)) == (r["recipe"], r["epochs"])
        assert float(at_1x) == round(r["test_neg_elbo"], 2), name
        assert float(at_3x) == round(r["test_neg_elbo_3x"], 2), name
        assert float(gap) == round(r["gap"], 2), name
        assert (within == "yes") == r["within_tolerance"] == (r["gap"] <= 1.5), name
