"""vaelib.results: a lesson's numbers printed, and written only where the course keeps them."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vaelib import results

FULL, FAST = SimpleNamespace(fast=False), SimpleNamespace(fast=True)


def test_record_prints_and_writes_to_the_folder(tmp_path, capsys):
    values = {"loss": torch.tensor(243.01234567), "k": np.int64(9), "seeds": [9, 10], "name": "x"}
    path = results.record(FAST, "06_vae_training", values, folder=tmp_path)
    assert path == tmp_path / "06_vae_training.json"
    kept = json.loads(path.read_text())
    assert kept == {"loss": 243.012, "k": 9, "seeds": [9, 10], "name": "x"}  # 6 significant digits
    assert results.load("06_vae_training", tmp_path) == kept
    assert '"loss": 243.012' in capsys.readouterr().out  # the executed notebook holds the numbers


def test_record_writes_nothing_in_fast_mode_or_outside_the_course(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "RESULTS", tmp_path / "results")
    monkeypatch.chdir(results.COURSE_ROOT / "notebooks")
    assert results.record(FAST, "06_vae_training", {"a": 1.0}) is None  # a test run
    monkeypatch.chdir(tmp_path)
    assert results.record(FULL, "06_vae_training", {"a": 1.0}) is None  # a student's work/ copy
    assert not (tmp_path / "results").exists()


def test_record_writes_in_full_mode_from_the_course_notebooks(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "RESULTS", tmp_path / "results")
    monkeypatch.chdir(results.COURSE_ROOT / "notebooks")
    path = results.record(FULL, "06_vae_training", {"a": 1.5})
    assert path == tmp_path / "results" / "06_vae_training.json"


@pytest.mark.parametrize(
    ("topic", "values", "error", "match"),
    [
        ("vae", {"a": 1.0}, ValueError, "topic"),
        ("06_vae_training", {}, TypeError, "non-empty dict"),
        ("06_vae_training", {"a": float("nan")}, ValueError, "finite"),
        ("06_vae_training", {"a": torch.zeros(2)}, TypeError, "one number"),
        ("06_vae_training", {"a": object()}, TypeError, "record numbers"),
    ],
)
def test_record_refuses_what_is_not_a_result(tmp_path, topic, values, error, match):
    with pytest.raises(error, match=match):
        results.record(FAST, topic, values, folder=tmp_path)


def test_load_says_how_to_make_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="make figures"):
        results.load("06_vae_training", tmp_path)
