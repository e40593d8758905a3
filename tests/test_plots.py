"""vaelib.plots: the drawings that two or more lessons use, checked on what they draw."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture

from vaelib import bic, figures, plots


def test_plot_computation_graph_draws_both_versions():
    fig, axes = plt.subplots(1, 2)
    plots.plot_computation_graph(axes[0], reparameterized=False)
    plots.plot_computation_graph(axes[1], reparameterized=True)
    assert "Before" in axes[0].get_title() and "After" in axes[1].get_title()
    before, after = ([t.get_text() for t in ax.texts] for ax in axes)
    assert any("\\epsilon \\sim" in t for t in after)  # eps is an input node after the trick
    assert not any("epsilon" in t for t in before) and before.count("X") == 2  # two blocked
    plt.close(fig)


def test_seed_band_draws_mean_range_and_chosen_ks():
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(-4, 1, (150, 2)), rng.normal(4, 1, (150, 2))])
    curves = [bic.bic_curve(z, range(1, 5), n_init=1, seed=s) for s in (0, 1)]
    fig, ax = plt.subplots()
    low = plots.seed_band(ax, curves, figures.COLORS["AE"], "2 seeds", per=300)
    bics = np.stack([c.bic for c in curves]) / 300
    assert low == pytest.approx(bics.min())
    mean_line = ax.lines[0].get_ydata()
    np.testing.assert_allclose(mean_line, bics.mean(0) - low)
    assert list(ax.lines[1].get_xdata()) == [c.best_k for c in curves]  # the triangles
    with pytest.raises(ValueError, match="at least one"):
        plots.seed_band(ax, [], "k", "none")
    plt.close(fig)


def test_draw_mixture_one_colour_per_class_and_one_ellipse_per_component():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(60, 2))
    labels = np.arange(60) % 3
    gmm = GaussianMixture(2, random_state=0).fit(z)
    fig, ax = plt.subplots()
    plots.draw_mixture(ax, z, labels, gmm, "title", ["a", "b", "c"])
    assert len(ax.collections) == 3 and len(ax.lines) == 2 + 1  # classes; components + N(0, I)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c"]
    with pytest.raises(ValueError, match=r"z must be \(N, 2\)"):
        plots.draw_mixture(ax, z[:, :1], labels, gmm, "t", ["a"])
    plt.close(fig)


def test_samples_figure_scales_each_image_to_its_maximum():
    images = torch.full((4, 1, 3, 3), 0.25)
    fig = plots.samples_figure({(0, 0): (images, "left"), (1, 1): (images * 2, "right")}, "both")
    assert len(fig.axes) == 4 and fig.axes[0].get_title() == "left"
    shown = fig.axes[0].images[0].get_array()
    assert shown.max() == pytest.approx(1.0)  # 0.25 everywhere, scaled to 1
    plt.close(fig)
