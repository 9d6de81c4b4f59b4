"""The report's figures, built in every experiment style: no text box overlaps another one or
sticks out of the figure (matplotlib's text extents), and the checker itself sees overlaps."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from jetzip.codec.tolerance import Tolerance
from jetzip.evaluate import plots
from jetzip.evaluate.metrics import ABSOLUTE, ANGLE, RELATIVE, residual_stats

RNG = np.random.default_rng(5)
N = 2000
PT = 20 + RNG.exponential(40, N)
ETA = RNG.normal(0, 1.5, N)
BOUND = Tolerance(0.001, relative=True)
UNIFORM = RNG.uniform(-0.001, 0.001, N)
# A latent-mode residual: Gaussian core and wide tails (the old axis ran to +-600).
LATENT = np.concatenate([RNG.normal(0, 0.02, N - 20), RNG.normal(0, 300, 20)])
NAMES = ["pt", "eta", "phi", "m"]
KINDS = [RELATIVE, ABSOLUTE, ANGLE, RELATIVE]
STYLES = [plots.PlotStyle(s) for s in plots.STYLES]


def figures(style: plots.PlotStyle) -> dict[str, plt.Figure]:
    r = np.column_stack([UNIFORM, UNIFORM[::-1], LATENT, RNG.uniform(-1e-3, 1e-3, N)])
    correlation = np.corrcoef(r, rowvar=False).tolist()
    sigmas = [residual_stats(r[:, j])["core_sigma"] for j in range(r.shape[1])]
    methods = [
        {"method": "jetzip (this file)", "bytes_per_object": 5.4, "violations": 0, "jetzip": True},
        {"method": "mantissa rounding, fewest bits meeting the rules", "bytes_per_object": 6.0,
         "violations": 0},
        {"method": "CMS NanoAOD precision + LZMA", "bytes_per_object": 7.9, "violations": 1234},
    ]  # fmt: skip
    return {
        "distribution (log x)": plots.distribution_figure(
            "pt", PT, PT * (1 + UNIFORM), "GeV", RELATIVE, style
        ),
        "distribution": plots.distribution_figure("eta", ETA, ETA + UNIFORM, "", ABSOLUTE, style),
        "residual, bounded": plots.residual_figure(
            "pt", UNIFORM, residual_stats(UNIFORM), RELATIVE, style, bound=BOUND, uniform=True
        ),
        "residual, NanoAOD's 10-bit bound": plots.residual_figure(
            "pt",
            UNIFORM / 2,
            residual_stats(UNIFORM / 2),
            RELATIVE,
            style,
            bound=Tolerance(2**-11, relative=True),
            uniform=True,
        ),
        "residual, latent": plots.residual_figure(
            "Jet_mass", LATENT, residual_stats(LATENT), RELATIVE, style
        ),
        "corner": plots.corner_figure(
            NAMES, KINDS, r, correlation, sigmas, style, [1e-3, 1e-3, None]
        ),
        "profile vs pt": plots.profile_figure(
            "pt", PT, NAMES, KINDS, r, "GeV", style, {"pt": BOUND}
        ),
        "profile vs eta, one column": plots.profile_figure(
            "eta", ETA, ["pt"], [RELATIVE], r[:, :1], "", style
        ),
        "bytes": plots.bytes_figure(methods, style),
        "bytes per column": plots.column_bytes_figure(
            {f"column_{i}": 1000 * (i + 1) for i in range(30)}, 1000, style
        ),
        "latent": plots.latent_figure(RNG.normal(size=(500, 3)), style),
        "latent scatter": plots.latent_scatter_figure(RNG.normal(size=(500, 3)), style),
    }


@pytest.mark.parametrize("style", STYLES, ids=lambda s: s.experiment)
def test_no_text_overlaps_or_leaves_a_figure(style: plots.PlotStyle) -> None:
    problems = {}
    for name, fig in figures(style).items():
        found = plots.text_problems(fig)
        plt.close(fig)
        if found:
            problems[name] = found
    assert problems == {}


def test_the_checker_sees_overlapping_and_cut_text() -> None:
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.text(0.5, 0.5, "first label", transform=ax.transAxes)
    ax.text(0.52, 0.5, "second label", transform=ax.transAxes)
    ax.set_ylabel("a long axis label that the figure cuts", fontsize=30)
    problems = plots.text_problems(fig)
    plt.close(fig)
    assert "'first label' overlaps 'second label'" in problems
    assert any("is cut by the figure edge" in p for p in problems)


def test_experiment_label_says_simulation_and_status() -> None:
    fig = plots.residual_figure(
        "pt", UNIFORM, residual_stats(UNIFORM), RELATIVE, plots.PlotStyle("ATLAS"), bound=BOUND,
        uniform=True,
    )  # fmt: skip
    words = " ".join(t.get_text() for t in plots.visible_texts(fig))
    plt.close(fig)
    assert "ATLAS" in words and "Simulation Internal" in words
    fig, ax = plt.subplots()
    plots.PlotStyle("CMS", data=True).mark(ax)
    words = " ".join(t.get_text() for t in plots.visible_texts(fig))
    plt.close(fig)
    assert "CMS" in words and "Private Work" in words and "Simulation" not in words


def test_uniform_residual_gets_no_gaussian_and_latent_axis_is_the_core() -> None:
    style = plots.PlotStyle("none")
    bounded = plots.residual_figure(
        "pt", UNIFORM, residual_stats(UNIFORM), RELATIVE, style, bound=BOUND, uniform=True
    )
    latent = plots.residual_figure("m", LATENT, residual_stats(LATENT), RELATIVE, style)
    bounded_labels = bounded.axes[0].get_legend_handles_labels()[1]
    latent_labels = latent.axes[0].get_legend_handles_labels()[1]
    low, high = latent.axes[0].get_xlim()
    bounded_limits = bounded.axes[0].get_xlim()
    plt.close(bounded)
    plt.close(latent)
    assert not any("Gaussian" in label for label in bounded_labels)
    assert any("Gaussian" in label for label in latent_labels)
    assert bounded_limits == pytest.approx((-1.25e-3, 1.25e-3))
    assert -0.2 < low < -0.05 and 0.05 < high < 0.2  # +-5 core sigma, not +-600
