"""benchmarks/convergence.py: one run measures a recipe at 1x and 3x its epochs, and its curve."""

from __future__ import annotations

import pytest
import torch

from benchmarks import convergence


def test_plateau_epochs_is_where_every_later_gap_is_within_tolerance():
    # gaps: n=1: 10 - 4 = 6; n=2: 6 - 2.5 = 3.5; n=3: 4 - 2 = 2 (9 is absent beyond n=3)
    curve = {1: 10.0, 2: 6.0, 3: 4.0, 6: 2.5, 9: 2.0}
    assert convergence.plateau_epochs(curve, tolerance=2.0) == 3
    assert convergence.plateau_epochs(curve, tolerance=3.5) == 2
    assert convergence.plateau_epochs(curve, tolerance=1.0) is None  # n=3 gains 2 > 1
    assert convergence.plateau_epochs({4: 1.0}, tolerance=9.0) is None  # no 3n on the curve
    # a lucky gap: n=1 gains 0.5 (within 1), n=2 gains 3, n=3 gains 0.5: from 3 on, not from 1
    lucky = {1: 5.0, 2: 7.0, 3: 4.5, 6: 4.0, 9: 4.0}
    assert convergence.plateau_epochs(lucky, tolerance=1.0) == 3
    # a longer run that ends worse (n=2: 4 - 6 = -2, overfitting) is no plateau either
    worse = {1: 9.0, 2: 4.0, 3: 5.0, 6: 6.0, 9: 5.5}
    assert convergence.plateau_epochs(worse, tolerance=1.0) == 3
    assert convergence.plateau_epochs(worse, tolerance=2.0) == 2


def test_a_gap_is_within_tolerance_either_way():
    judged = [
        convergence._judge({"test_neg_elbo": 240.0, "test_neg_elbo_3x": 240.0 + d}, 1.5)
        for d in (-1.5, 1.5, 1.6, -1.6)
    ]
    assert [(r["gap"], r["within_tolerance"]) for r in judged] == [
        (1.5, True), (-1.5, True), (-1.6, False), (1.6, False)
    ]  # fmt: skip


def test_the_exit_status_fails_a_gap_beyond_tolerance_either_way(capsys):
    def record(d):
        return {"epochs": 20, "test_neg_elbo": 240.0, "test_neg_elbo_3x": 240.0 + d}

    report = {"recipes": {"up": record(-2.0), "down": record(2.0), "flat": record(0.5)}}
    assert convergence.verdict(report, ["flat", "absent"], 1.5) == 0
    for name, says in (("up", "+2.00 nats"), ("down", "-2.00 nats")):
        assert convergence.verdict(report, [name, "flat"], 1.5) == 1
        assert f"{name}: 20 epochs end {says}" in capsys.readouterr().err


def test_scatter_is_the_median_step_of_the_last_third():
    curve = {10: 50.0, 20: 40.0, 30: 41.0, 40: 40.0, 50: 40.5, 60: 40.0}
    # last third: epochs >= 40: steps |40.5 - 40| = 0.5 and |40 - 40.5| = 0.5
    assert convergence.scatter(curve) == 0.5
    # last half: epochs >= 30: steps 1.0, 0.5, 0.5: median 0.5; all: 10, 1, 1, .5, .5: median 1
    assert convergence.scatter(curve, last=1 / 2) == 0.5
    assert convergence.scatter(curve, last=1.0) == 1.0
    with pytest.raises(ValueError, match="two points"):
        convergence.scatter({10: 1.0, 60: 2.0})


def test_the_curve_at_n_epochs_is_what_an_n_epoch_run_measures():
    """The loop is deterministic, so a longer run's curve holds the shorter runs' numbers."""
    cpu = torch.device("cpu")
    short = convergence.measure("ae_latent2", cpu, fast=True, epochs=1)
    long = convergence.measure("ae_latent2", cpu, fast=True, epochs=1, every=1, train_to=4)
    assert (short["epochs"], long["epochs"]) == (1, 1)
    assert list(long["curve"]) == ["1", "2", "3", "4"] and long["train_to"] == 4
    assert long["test_neg_elbo"] == long["curve"]["1"] == short["test_neg_elbo"]
    assert long["test_neg_elbo_3x"] == long["curve"]["3"] == short["test_neg_elbo_3x"]
    assert long["curve"]["4"] < long["curve"]["1"]  # the autoencoder learns
    assert "curve" not in short


@pytest.mark.parametrize(
    ("name", "kw", "says"),
    [
        ("ae_latent2", {"epochs": 2, "train_to": 5}, "at least 3x epochs = 6"),
        ("ae_latent2", {"epochs": 2, "every": -1}, "every=-1"),
        ("lesson08_beta8_warmup", {"epochs": 2, "every": 1}, "warms beta up"),
        ("lesson08_beta8_warmup", {"epochs": 2, "train_to": 9}, "warms beta up"),
        ("ae_latent2", {"epochs": 2, "decay": 1.5}, r"decay=1.5 must be in \(0, 1\]"),
        ("ae_latent2", {"epochs": 2, "decay": 0.5, "every": 1}, "it has no curve"),
    ],
)
def test_measure_refuses_a_curve_it_cannot_measure(name, kw, says):
    with pytest.raises(ValueError, match=says):
        convergence.measure(name, torch.device("cpu"), fast=True, **kw)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--recipes", "no_such"], "names no recipe"),
        (["--epochs", "0"], "--epochs=0"),
        (["--every", "-2"], "--every=-2"),
        (["--decay", "2"], "--decay=2.0"),
        (["--decay", "0.3", "--every", "5"], "without --every"),
        (["--tolerance", "nan"], "--tolerance=nan"),
    ],
)
def test_main_refuses_bad_arguments(argv, says, capsys, tmp_path):
    with pytest.raises(SystemExit):
        convergence.main([*argv, "--out", str(tmp_path / "c.json")])
    assert says in capsys.readouterr().err


CURVE_RECORD = {
    "epochs": 20, "test_neg_elbo": 250.0, "test_neg_elbo_3x": 247.0, "gap": 3.0,
    "within_tolerance": False, "seconds": 9.0, "train_to": 120,
    "curve": {"20": 250.0, "40": 247.5, "60": 247.0, "120": 246.4},
}  # fmt: skip


def test_at_epochs_reads_a_record_off_the_curve():
    from dataclasses import asdict

    from vaelib import train

    record = {**CURVE_RECORD, "recipe": asdict(train.RECIPES["ae_latent2"])}
    at_40 = convergence.at_epochs(record, 40, tolerance=1.5)
    assert (at_40["test_neg_elbo"], at_40["test_neg_elbo_3x"]) == (247.5, 246.4)
    assert at_40["gap"] == 1.1 and at_40["within_tolerance"] is True  # 247.5 - 246.4 <= 1.5
    assert at_40["epochs"] == at_40["recipe"]["epochs"] == 40
    assert at_40["read_off_curve_from"] == 20 and at_40["curve"] == record["curve"]
    assert convergence.at_epochs(record, 20, tolerance=1.5)["gap"] == 3.0
    with pytest.raises(ValueError, match=r"no epoch \[30, 90\]"):
        convergence.at_epochs(record, 30)


def test_from_curves_rewrites_a_record_at_the_recipe_epochs(tmp_path, capsys):
    import json
    from dataclasses import asdict

    from vaelib import train

    recipe = asdict(train.RECIPES["ae_latent2"])
    epochs = recipe["epochs"]
    curve = {str(epochs): 240.0, str(3 * epochs): 238.0, str(9 * epochs): 237.5}
    old = {**CURVE_RECORD, "epochs": 1, "curve": curve, "recipe": {**recipe, "epochs": 1}}
    out = tmp_path / "c.json"
    out.write_text(json.dumps({"recipes": {"ae_latent2": old}}))
    assert convergence.main(["--recipes", "ae_latent2", "--from-curves", "--out", str(out)]) == 1
    record = json.loads(out.read_text())["recipes"]["ae_latent2"]
    assert (record["epochs"], record["gap"], record["within_tolerance"]) == (epochs, 2.0, False)
    old["recipe"]["lr"] = 0.5  # another learning rate: the curve is not this recipe's
    out.write_text(json.dumps({"recipes": {"ae_latent2": old}}))
    with pytest.raises(SystemExit, match=r"\['lr'\] changed since its curve"):
        convergence.main(["--recipes", "ae_latent2", "--from-curves", "--out", str(out)])


def test_decayed_lr_falls_linearly_over_the_last_share():
    # 10 epochs, decay 0.4: D = 4; epochs 0-6 at lr, then 3/4, 2/4, 1/4 of it
    lrs = [convergence.decayed_lr(1.0, e, 10, 0.4) for e in range(10)]
    assert lrs == [1.0] * 7 + [0.75, 0.5, 0.25]
    assert convergence.decayed_lr(2e-3, 0, 3, 0.1) == 2e-3  # D = max(1, round(0.3)) = 1
    assert convergence.decayed_lr(2e-3, 2, 3, 0.1) == 2e-3  # the last epoch: (3 - 2) / 1


def test_a_decayed_trial_is_two_runs_each_with_its_schedule():
    cpu = torch.device("cpu")
    plain = convergence.measure("ae_latent2", cpu, fast=True, epochs=1)
    decayed = convergence.measure("ae_latent2", cpu, fast=True, epochs=1, decay=1.0)
    assert decayed["lr_decay"] == 1.0 and decayed["epochs"] == 1
    # 1 epoch with decay 1: D = 1, the one epoch at the full lr: the plain run's first epoch
    assert decayed["test_neg_elbo"] == plain["test_neg_elbo"]
    # 3 epochs at lr, 2/3 lr and 1/3 lr: not the plain run's 3 epochs at lr
    assert decayed["test_neg_elbo_3x"] != plain["test_neg_elbo_3x"]
    assert decayed["gap"] == round(decayed["test_neg_elbo"] - decayed["test_neg_elbo_3x"], 3)
