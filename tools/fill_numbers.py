"""``python tools/fill_numbers.py``: the deck's, README's and docs' measured numbers, from results/.

Each lesson run in full mode from the course's ``notebooks/`` (``make figures``) writes
``results/NN_topic.json`` (``vaelib.results.record``). This script rewrites the numbers that
the deck, its speaker notes and the docs quote from those files, so that they say what the
last full run measured. ``make numbers`` runs it; ``--check`` only reports what would change
(exit status 1 when a file is out of step).

Each entry of ``TEMPLATES`` is a phrase of a file with its numbers written as placeholders,
``{LESSON.key.subkey:format}`` (``LESSON`` is the two-digit lesson, the keys index its results
file, a list by ``[i]``; the format is Python's, e.g. ``.1f`` or ``.1%``). The phrase must occur
exactly once in its file, whitespace and line breaks free; its numbers are replaced, nothing
else. A phrase that is not found is an error: edit the template with the deck.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
DECK = "slides/vae.md"
NUMBER = r"[-−]?\d[\d,]*(?:\.\d+)?%?"
PLACEHOLDER = re.compile(r"\{(\d\d)((?:\.[A-Za-z_][\w]*|\[\d+\]|\.\"[^\"]+\")+)(?::([^}]*))?\}")

TEMPLATES: list[tuple[str, str]] = [
    # lesson 01
    (
        DECK,
        "measures the test BCE at about {01.test_bce:.0f} nats per image, against {01.grey_bce:.0f} nats",
    ),
    (
        DECK,
        "these codes is {01.kl_codes:.1f} nats of KL from N(0, I), and only {01.inside_disc:.1%} of the codes",
    ),
    (DECK, "About half the cells of that box ({01.empty_cells:.0%} in the notebook)"),
    (DECK, "Give each draw the class of its nearest code: {01.prior_class_share.Sandal:.1%} of"),
    (DECK, "the class mix is {01.tv:.2f} in total variation"),
    (
        DECK,
        'than reconstructions ({01.quality."N(0, I)":.2f} against {01.quality.reconstructions:.2f},',
    ),
    (
        DECK,
        'sample ({01.coverage."N(0, I)":.2f} vs {01.coverage.reconstructions:.2f}) and the set has much less variety ({01.diversity."N(0, I)":.2f} vs {01.diversity.reconstructions:.2f})',
    ),
    # lesson 02
    (
        DECK,
        "The notebook's fair coin against a (0.9, 0.1) coin: {02.kl_coin:.3f} nats, {02.kl_coin_bits:.3f} bits.",
    ),
    (
        DECK,
        "the excess is H(P, Q) - H(P) = {02.H_PQ_die:.3f} - {02.H_P_die:.3f} = {02.kl_die:.3f} nats",
    ),
    (
        DECK,
        "({02.forward_fit.mu:.3f} and {02.forward_fit.sigma:.3f} against {02.target_mean:.3f} and {02.target_std:.3f}",
    ),
    (DECK, "sits on the heavier mode ({02.reverse_fit.mu:.2f}, width {02.reverse_fit.sigma:.3f})"),
    # lesson 03
    (DECK, "its area is the KL, {03.kl_integral:.4f} nats"),
    (DECK, "the fitted slope in the notebook is\nabout {03.mc_slope:.2f} against"),
    # lesson 04
    (DECK, "a median effective sample size of {04.ess_median:.0f} of 1000 in 2-D"),
    (DECK, "for the guessed q the mean gap is {04.guess_gap:.2f} nats"),
    (DECK, "Numbers: the posterior's correlation is {04.posterior_correlation:.3f};"),
    (DECK, "and leaves a gap of {04.diagonal_floor:.3f} nats on every point"),
    (
        DECK,
        'from {04.iw_gap."q = p(z)".k1:.1f} nats at k = 1 to {04.iw_gap."q = p(z)".k1024:.3f} at k = 1024; the diagonal encoder\'s from {04.iw_gap."diagonal encoder".k1:.2f} to {04.iw_gap."diagonal encoder".k1024:.2f}',
    ),
    (
        DECK,
        'Up to {04.single_estimates_above."q = p(z)":.0%} (q = p(z)) and {04.single_estimates_above."diagonal encoder":.0%} (diagonal encoder)',
    ),
    # lesson 05
    (
        DECK,
        "Averaged over the last 50 steps, mu = ({05.mean_last50_mu[0]:.2f}, {05.mean_last50_mu[1]:.2f}) and sigma = ({05.mean_last50_sigma[0]:.2f}, {05.mean_last50_sigma[1]:.2f})",
    ),
    (DECK, "the exact KL falling from {05.kl_start:.2f} nats"),
    # lesson 06
    (
        DECK,
        "trained {06.epochs} epochs (its plateau: docs/convergence.json), ends at a test loss of {06.test_neg_elbo:.1f} nats per image ({06.test_recon:.1f} recon + {06.test_kl:.1f} KL). Its average KL ({06.test_kl:.1f}) exceeds log N = {06.log_n:.2f}",
    ),
    (DECK, "so at least {06.kl_aggregate_bound:.1f} nats of it"),
    (
        DECK,
        "lie in a prior hole: where the aggregate posterior of training codes is thinner than at 95% of real codes ({06.grid_in_hole} of {06.grid_points})",
    ),
    (DECK, "{06.hole_fraction:.1%} of 2,000 prior samples are"),
    (
        DECK,
        '| binarised, Bernoulli | {06.iwae."MLP 20-D, binarised, Bernoulli"[0]:.1f} ± {06.iwae_se."MLP 20-D, binarised, Bernoulli"[0]:.1f} | {06.iwae."MLP 20-D, binarised, Bernoulli"[3]:.1f} ± {06.iwae_se."MLP 20-D, binarised, Bernoulli"[3]:.1f} |',
    ),
    (
        DECK,
        '| grey, continuous Bernoulli | {06.iwae."MLP 20-D, grey, continuous Bernoulli"[0]:.1f} ± {06.iwae_se."MLP 20-D, grey, continuous Bernoulli"[0]:.1f} | {06.iwae."MLP 20-D, grey, continuous Bernoulli"[3]:.1f} ± {06.iwae_se."MLP 20-D, grey, continuous Bernoulli"[3]:.1f} |',
    ),
    # lesson 07
    (
        DECK,
        'VAE q(z) {07.moment_kl."VAE 20":.2f} nats, VAE means mu(x) {07.moment_kl."VAE mu(x) 20":.2f} nats, AE {07.moment_kl."AE 20":.2f} nats (20-D)',
    ),
    (
        DECK,
        'Chosen k per seed: AE {07.chosen_k."AE 20"[0]}, {07.chosen_k."AE 20"[1]}, {07.chosen_k."AE 20"[2]}, VAE {07.chosen_k."VAE 20"[0]}, {07.chosen_k."VAE 20"[1]}, {07.chosen_k."VAE 20"[2]};',
    ),
    (
        DECK,
        'n = 500, 1000, 2000 choose k = {07.chosen_k_by_n."500"}, {07.chosen_k_by_n."1000"}, {07.chosen_k_by_n."2000"}:',
    ),
    (
        DECK,
        'BIC chose k = {07.chosen_k."AE 2"[0]} here (seeds: {07.chosen_k."AE 2"[0]}, {07.chosen_k."AE 2"[1]}, {07.chosen_k."AE 2"[2]})',
    ),
    (
        DECK,
        'BIC chose k = {07.chosen_k."VAE 2"[0]} (seeds: {07.chosen_k."VAE 2"[0]}, {07.chosen_k."VAE 2"[1]}, {07.chosen_k."VAE 2"[2]})',
    ),
    (
        DECK,
        'Ghosh et al., 2020). P + C with N(0, I) against the mixture: 2-D {07.p_plus_c."AE 2 N(0, I)":.2f} against {07.p_plus_c."AE 2 mixture":.2f}, 20-D {07.p_plus_c."AE 20 N(0, I)":.2f} against {07.p_plus_c."AE 20 mixture":.2f}.',
    ),
    (
        DECK,
        'Say: P + C with N(0, I) against the mixture: 2-D {07.p_plus_c."VAE 2 N(0, I)":.2f} against {07.p_plus_c."VAE 2 mixture":.2f}, 20-D {07.p_plus_c."VAE 20 N(0, I)":.2f} against {07.p_plus_c."VAE 20 mixture":.2f}.',
    ),
    # lesson 08
    (
        DECK,
        'nine 784-400-20 VAEs, each trained to its plateau: {08.epochs.beta1} epochs, {08.epochs."beta0.1"} for beta 0.1, {08.epochs.beta8} for beta 8 and {08.epochs.beta8_warmup} for beta 8 with annealing, on binarised',
    ),
    (DECK, "Full mode, binarised Fashion-MNIST, {08.epochs.beta1} epochs per model."),
    (
        DECK,
        'beta 0.1 spends about {08.sweep."0.1".R:.0f} nats of rate for a distortion of about {08.sweep."0.1".D:.0f}; beta 8 spends about {08.sweep."8".R:.0f} nats and pays about {08.sweep."8".D:.0f}. Dashed: lines of equal D + R; beta = 1 sits on the lowest (about {08.sweep."1"."-ELBO":.0f} nats)',
    ),
    (
        DECK,
        'Full mode: {08.active_units."0.1"}, {08.active_units."0.5"} and {08.active_units."1"} active units at beta 0.1, 0.5 and 1, then {08.active_units."2"}, {08.active_units."4"} and {08.active_units."8"} at beta 2, 4 and 8',
    ),
    (
        DECK,
        'plain {08.fixes_active_units.plain} active units and {08.fixes.plain."-ELBO":.1f} nats; annealing {08.fixes_active_units."KL annealing"} and {08.fixes."KL annealing"."-ELBO":.1f}; free bits {08.fixes_active_units."free bits"} and {08.fixes."free bits"."-ELBO":.1f}',
    ),
    (
        DECK,
        '| $\\mathcal{N}(0, I)$ prior | ${08.iwae."N(0, I)":.1f}$ | {08.test_neg_elbo."N(0, I)":.1f} | {08.P."N(0, I)":.2f} | {08.C."N(0, I)":.2f} | {08.p_plus_c."N(0, I)":.2f} | {08.holes."N(0, I)":.3f} |',
    ),
    (
        DECK,
        '| learned mixture prior ($K = {08.K}$) | ${08.iwae."learned MoG":.1f}$ | {08.test_neg_elbo."learned MoG":.1f} | {08.P."learned MoG":.2f} | {08.C."learned MoG":.2f} | {08.p_plus_c."learned MoG":.2f} | {08.holes."learned MoG":.3f} |',
    ),
    (
        DECK,
        '| ex-post mixture, $\\mathcal{N}(0, I)$ decoder | ${08.iwae."ex-post MoG":.1f}$ | {08.test_neg_elbo."ex-post MoG":.1f} | {08.P."ex-post MoG":.2f} | {08.C."ex-post MoG":.2f} | {08.p_plus_c."ex-post MoG":.2f} | {08.holes."ex-post MoG":.3f} |',
    ),
    # lesson 11
    (
        DECK,
        'Plain loss, learning rate $10^{-2}$: KL **{11.ar."AR-VAE".kl:.2f} nats**, **{11.ar."AR-VAE".active} of 20** units active (the MLP VAE: **{11.ar.VAE.kl:.2f}** nats, {11.ar.VAE.active} of 20).',
    ),
    (DECK, '| plain | {11.ar."AR-VAE".kl:.2f} | ${11.ar."AR-VAE".log_px:.1f}$ |'),
    (
        DECK,
        '| KL annealing (warm-up over half the steps) | {11.ar."AR-VAE warm-up".kl:.2f} | ${11.ar."AR-VAE warm-up".log_px:.1f}$ |',
    ),
    (
        DECK,
        '| free bits ($\\lambda = 0.25$ nats per dimension) | {11.ar."AR-VAE free bits".kl:.2f} | ${11.ar."AR-VAE free bits".log_px:.1f}$ |',
    ),
    (
        DECK,
        "KL **{11.hvae.kl1:.2f}** nats in level 1, **{11.hvae.kl2:.2f}** in level 2; log p(x) $\\geq {11.hvae.log_px:.1f}$ against ${11.ar.VAE.log_px:.1f}$ nats.",
    ),
    (
        DECK,
        "amortization gap **{11.gaps.amortization.mean:.2f} ± {11.gaps.amortization.se:.2f}** nats, approximation gap **{11.gaps.approximation.mean:.2f} ± {11.gaps.approximation.se:.2f}** nats.",
    ),
    (DECK, "recover more of the {11.gaps.total.mean:.2f} nats of total gap?"),
    (DECK, "the second level buys {11.hvae.gain:.2f} ± {11.hvae.gain_se:.2f} nats (paired"),
]


def _f1(value: float) -> str:
    """``value`` to 1 decimal: results keep 6 significant digits (256.525, 240.005), whose second
    decimal can round either way from what the notebook printed (256.53, 240.00); one decimal
    cannot."""
    return f"{value:.1f}"


def _sweep(results: dict) -> str:
    r = results["08"]
    rows = ["| beta | rate R (nats) | distortion D (nats) | test -ELBO (nats) | active units (Burda) |",
            "|---:|---:|---:|---:|---:|"]  # fmt: skip
    for beta, s in r["sweep"].items():
        rows.append(f"| {beta} | {_f1(s['R'])} | {_f1(s['D'])} | {_f1(s['-ELBO'])} | "
                    f"{r['active_units'][beta]} |")  # fmt: skip
    return "\n".join(rows)


def _fixes(results: dict) -> str:
    r = results["08"]
    rows = ["| run (beta = 8) | active units (Burda) | R (nats) | D (nats) | test -ELBO (nats) |",
            "|---|---:|---:|---:|---:|"]  # fmt: skip
    for name, s in r["fixes"].items():
        rows.append(f"| {name} | {r['fixes_active_units'][name]} | {_f1(s['R'])} | {_f1(s['D'])} | "
                    f"{_f1(s['-ELBO'])} |")  # fmt: skip
    return "\n".join(rows)


# Blocks of docs (markdown files, where HTML comments are invisible): everything between
# "<!-- numbers: NAME -->" and "<!-- /numbers -->" is rewritten by BLOCKS[NAME](results).
BLOCKS = {
    "sweep": _sweep,
    "fixes": _fixes,
    "priors": lambda results: results["08"]["table"],
}
BLOCK_FILES = ["docs/lesson08_results.md"]
BLOCK = re.compile(r"(<!-- numbers: (\w+) -->\n)(.*?)(<!-- /numbers -->)", re.S)


def fill_blocks(text: str, results: dict) -> str:
    """``text`` with every numbers block rewritten from ``results``."""
    return BLOCK.sub(lambda m: m.group(1) + BLOCKS[m.group(2)](results) + "\n" + m.group(4), text)


def lookup(results: dict, lesson: str, path: str):
    """The value at ``path`` (``.key``, ``."key with spaces"``, ``[i]``) of a lesson's results."""
    if lesson not in results:
        raise KeyError(
            f"no results/{lesson}_*.json: run lesson {lesson} in full mode (make figures)"
        )
    value = results[lesson]
    for m in re.finditer(r'\.([A-Za-z_]\w*)|\."([^"]+)"|\[(\d+)\]', path):
        key = m.group(1) or m.group(2)
        value = value[int(m.group(3))] if key is None else value[key]
    return value


def load_results(folder: Path = RESULTS) -> dict[str, dict]:
    """``{"06": {...}}`` from every ``results/NN_topic.json``."""
    return {p.name[:2]: json.loads(p.read_text()) for p in sorted(folder.glob("[0-9][0-9]_*.json"))}


def _literal(text: str) -> str:
    return r"\s+".join(re.escape(word) for word in re.split(r"\s+", text))


def pattern_of(template: str) -> str:
    """The regular expression of a template: its words, any whitespace, a group per number."""
    pattern, last = "", 0
    for m in PLACEHOLDER.finditer(template):
        pattern += _literal(template[last : m.start()]) + f"({NUMBER})"
        last = m.end()
    return pattern + _literal(template[last:])


def find(text: str, template: str) -> re.Match:
    """The one occurrence of ``template`` in ``text`` (ValueError if none or several)."""
    found = list(re.finditer(pattern_of(template), text))
    if len(found) != 1:
        raise ValueError(
            f"{len(found)} occurrences of the template {template!r}: edit it with the text"
        )
    return found[0]


def fill(text: str, template: str, results: dict) -> str:
    """``text`` with the numbers of ``template``'s one occurrence replaced from ``results``."""
    parts = [format(lookup(results, m.group(1), m.group(2)), m.group(3) or "")
             for m in PLACEHOLDER.finditer(template)]  # fmt: skip
    m = find(text, template)
    out, pos = [], m.start()
    for i, new in enumerate(parts, start=1):
        out += [text[pos : m.start(i)], new]
        pos = m.end(i)
    return text[: m.start()] + "".join(out) + text[pos:]


README = "README.md"
README_ROW = re.compile(
    r"^(\| (\d\d) \| \[`\d\d_[^\n]*?\| )(?:\d+ s|n/m) \| (?:\d+ s|n/m) \|$", re.M
)
README_TOTAL = re.compile(r"\*\*\d+ s for the whole(\s+)course\*\*")


def fill_readme_times(text: str, course_time: Path | None = None) -> str:
    """README's lesson table (first run, re-run) and its whole-course total, from
    ``docs/course_time.json`` (``make course-time``): the one source ``vaelib.timing`` reads."""
    from vaelib import timing

    path = course_time or timing.COURSE_TIME
    seconds, total = timing.readme_seconds(path), round(timing.read(path)["total_seconds"])

    def row(m: re.Match) -> str:
        if m.group(2) not in seconds:
            return m.group(0)
        first, rerun = seconds[m.group(2)]
        return f"{m.group(1)}{first} s | {'n/m' if rerun is None else f'{rerun} s'} |"

    text = README_ROW.sub(row, text)
    return README_TOTAL.sub(lambda m: f"**{total} s for the whole{m.group(1)}course**", text)


def fill_notebook_time(text: str, lesson: str, course_time: Path | None = None) -> str:
    """A lesson notebook's JSON text with the time line under its title (``timing.time_line``,
    from ``docs/course_time.json``): replaced where there is one, else put after the launch
    badges. Only the first (markdown) cell changes, so no output of the run is touched."""
    from vaelib import timing

    nb = json.loads(text)
    cell = nb["cells"][0]
    if cell["cell_type"] != "markdown":
        raise ValueError(f"lesson {lesson}'s first cell is not its markdown title")
    lines = "".join(cell["source"]).split("\n")
    line = timing.time_line(lesson, **({"path": course_time} if course_time else {}))
    old = [i for i, s in enumerate(lines) if s.startswith(timing.TIME_LINE_PREFIX)]
    if old:
        lines[old[0]] = line
    else:
        badges = next((i for i, s in enumerate(lines) if "Open in Colab" in s), 0)
        lines[badges + 1 : badges + 1] = ["", line]
    source = "\n".join(lines)
    cell["source"] = source.splitlines(keepends=True)
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def lesson_notebooks() -> list[Path]:
    """The numbered lesson notebooks, in order."""
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report, do not write")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = load_results(args.results)
    texts: dict[str, str] = {}
    for name, template in TEMPLATES:
        texts.setdefault(name, (ROOT / name).read_text())
        texts[name] = fill(texts[name], template, results)
    for name in BLOCK_FILES:
        texts[name] = fill_blocks(texts.get(name, (ROOT / name).read_text()), results)
    texts[README] = fill_readme_times((ROOT / README).read_text())
    for path in lesson_notebooks():
        name = str(path.relative_to(ROOT))
        texts[name] = fill_notebook_time(path.read_text(), path.name[:2])
    stale = [name for name, text in texts.items() if text != (ROOT / name).read_text()]
    if args.check:
        for name in stale:
            print(f"{name} is out of step with results/: run make numbers", file=sys.stderr)
        return 1 if stale else 0
    for name in stale:
        (ROOT / name).write_text(texts[name])
        print(f"filled {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
