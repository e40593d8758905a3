"""Every open exercise has a worked solution: each ``open_exercise_*`` function in
``solutions/NN_topic.py`` runs on its small defaults (seconds on a CPU) and shows what its
docstring says a student should find; each notebook's open exercise links to its function."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from _solutions import load_solutions

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((REPO / "solutions").glob("[0-9][0-9]_*.py"))


def open_exercises() -> list[tuple[str, str]]:
    found = []
    for path in SOLUTIONS:
        module = load_solutions(path)
        found += [(path.stem, name) for name in dir(module) if name.startswith("open_exercise_")]
    return found


def check_one_code_sampler(r):
    # the repeated image scores at least as well on quality, the other two columns expose it
    assert r["one code"]["quality"] <= r["reconstructions"]["quality"] * 1.1
    assert r["one code"]["diversity"] == 0.0 < r["reconstructions"]["diversity"]
    assert r["one code"]["coverage"] > r["reconstructions"]["coverage"]


def check_reverse_kl_modes(r):
    far, near = r[max(r)], r[min(r)]
    assert abs(far["reverse_mu"] - max(r)) < 0.2  # on the heavier mode
    assert any(abs(m + max(r)) < 0.2 for m in far["reverse_minima"])  # a valley at the other
    assert len(near["reverse_minima"]) == 1  # merged
    assert far["forward_sigma"] > 2 * far["reverse_sigma"]  # forward covers both
    assert all(abs(v["forward_mu"]) < 0.5 * d for d, v in r.items())


def check_mixture_prior_kl(r):
    est, se = r["mc"][100_000]
    assert abs(est - r["quadrature"]) < 4 * se
    ses = [se for _, se in r["mc"].values()]
    assert ses == sorted(ses, reverse=True)
    assert r["moment_matched"] < r["quadrature"]
    assert 2 * r["mc"][100][1] < r["quadrature"] - r["moment_matched"]


def check_point_code_cost(r):
    steps = [r[k + 1] - r[k] for k in range(1, 6)]
    assert all(abs(s - 20 * math.log(10)) < 0.1 for s in steps)


def check_harder_posterior(r):
    easy, hard = r[(0, 0.5)], r[(1, 0.1)]
    assert abs(hard["correlation"]) > abs(easy["correlation"])
    assert hard["diagonal_floor"] > easy["diagonal_floor"] > 0


def check_score_baseline(r):
    means = [m for m, _ in r["by_b"].values()]
    assert all(abs(m - 4.0) < 0.2 for m in means)  # unbiased for every b
    best_b = min(r["by_b"], key=lambda b: r["by_b"][b][1])
    assert best_b in (4.0, 4.25)
    assert r["pathwise_variance"] < r["by_b"][best_b][1]
    assert r["step"]["pathwise"] == 0.0 and r["step"]["exact"] > 0


def check_conv_vae(r):
    for model in ("conv", "mlp"):
        assert all(math.isfinite(v) for v in r[model].values())
    assert r["beta"][4.0] < r["beta"][0.5]


def check_covariance_types(r):
    assert r["full"][0] == 1
    assert r["diag"][0] > 1 and r["spherical"][0] > 1
    assert r["full"][1] < min(r["diag"][1], r["spherical"][1])


def check_vamp_prior(r):
    assert r["history"][-1] < r["history"][0]
    assert tuple(r["pseudo_means"].shape) == (10, 1, 28, 28)
    assert math.isfinite(r["test_loss"])


def check_learned_variance(r):
    s = r["sigma"]
    assert all(b < a for a, b in zip(s, s[1:], strict=False)) and s[-1] < 0.7
    assert s[-1] > math.sqrt(r["mse"]) * 0.5


def check_iwae_k(r):
    assert r["l100"][5] > r["l100"][1]
    assert r["snr"][20]["encoder"] < r["snr"][1]["encoder"]
    assert r["snr"][20]["decoder"] > r["snr"][1]["decoder"]


def check_standardized_codes(r):
    raw, std = r["raw"], r["standardized"]
    assert std["kl"] < 0.5 < raw["kl"]
    assert (
        std["empty_cells"] == pytest.approx(raw["empty_cells"], abs=1e-6) and std["empty_cells"] > 0
    )
    assert std["tv"] > 0.05  # the class mix still does not match


def check_dead_codes(r):
    last = max(r["plain"])
    plain, reseed = r["plain"][last], r["reseed"][last]
    assert plain[0] > 0  # dead codes without help
    assert reseed[0] < plain[0] and reseed[1] > plain[1]


def check_aggressive_inference(r):
    plain_units, plain_kl = r["plain"]
    units, kl = r["aggressive"]
    assert plain_kl < 1.0  # plain training at lr 1e-2: the KL falls below a nat
    assert kl > plain_kl  # the encoder given time keeps more of it
    assert 0 <= plain_units <= 20 and 0 <= units <= 20


EXPECT = {
    name.removeprefix("check_"): f for name, f in globals().items() if name.startswith("check_")
}


def test_every_lesson_has_an_open_solution():
    lessons = {stem for stem, _ in open_exercises()}
    assert lessons == {p.stem for p in SOLUTIONS}


@pytest.mark.parametrize(("stem", "name"), open_exercises())
def test_open_exercise(stem, name):
    fn = getattr(load_solutions(stem), name)
    assert fn.__doc__ and "What it shows" in fn.__doc__
    short = name.removeprefix("open_exercise_")
    assert short in EXPECT, f"tests/test_open_solutions.py has no expectation for {name}"
    EXPECT[short](fn())


@pytest.mark.parametrize(("stem", "name"), open_exercises())
def test_notebook_links_the_solution(stem, name):
    nb = json.loads((REPO / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert f"`{name}` in [solutions/{stem}.py](../solutions/{stem}.py)" in text
