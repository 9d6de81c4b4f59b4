"""The report's figures, in an experiment's style, saved as PNG (for the page) and PDF (slides).

Each `*_figure` function takes data already in memory and returns a matplotlib Figure, so that
tests can inspect it (`text_problems` lists overlapping or cut text); `save_figure` writes
`NAME.png` at twice the resolution the page shows it at, plus `NAME.pdf`, and closes it.
Histograms are boost-histograms (`hist`) drawn by mplhep, whose comparison panels give ratio and
pull with Poisson uncertainties. Scatter plots subsample to keep drawing fast on large tables.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import hist
import matplotlib.pyplot as plt
import mplhep
import numpy as np
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import (
    FormatStrFormatter,
    LogFormatterSciNotation,
    LogLocator,
    MaxNLocator,
    NullFormatter,
)

from jetzip.codec.tolerance import Tolerance
from jetzip.evaluate.metrics import ANGLE, RELATIVE, SIGNED_RELATIVE, base_name

#: Page width of a normal figure in CSS pixels; the PNG has twice as many (sharp on HiDPI).
FIGURE_CSS_WIDTH = 540
WIDE_CSS_WIDTH = 1080
MAX_SCATTER_POINTS = 3000
MAX_CORNER_COLUMNS = 6
PROFILE_VARIABLES = ("pt", "eta")
_RNG_SEED = 20260101
#: The experiments' styles; "none" is matplotlib's own look at the same figure size.
STYLES = ("ATLAS", "CMS", "none")
_STATUS = {"ATLAS": "Internal", "CMS": "Private Work", "none": ""}
#: Matplotlib defaults scaled to the 10-inch figures the experiment styles are made for.
_PLAIN_RC = {"figure.figsize": (10, 10), "font.size": 22, "axes.linewidth": 1.5}
#: The ATLAS style's mathtext asks for a cursive font that few machines have; without one,
#: matplotlib logs a warning to stderr. DejaVu Sans ships with matplotlib.
_EVERY_STYLE_RC = {"font.cursive": ["DejaVu Sans"]}


@dataclass(frozen=True)
class PlotStyle:
    """An experiment's look: `experiment` in STYLES, `status` such as "Internal" (default: the
    experiment's usual one), `data` False for simulation ("ATLAS Simulation Internal")."""

    experiment: str = "ATLAS"
    status: str | None = None
    data: bool = False

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        """Matplotlib rc settings of the style, for the figures built inside."""
        style = {"ATLAS": mplhep.style.ATLAS, "CMS": mplhep.style.CMS}.get(self.experiment)
        with (
            plt.style.context(style or "default"),
            plt.rc_context({**_EVERY_STYLE_RC, **(_PLAIN_RC if style is None else {})}),
        ):
            yield

    def mark(self, ax: plt.Axes, *, size: float | None = None, above: bool = False) -> None:
        """The experiment label as the experiments write it: "ATLAS Simulation Internal" (bold
        italic ATLAS) inside the axes' top left, "CMS Simulation Private Work" (bold CMS, the
        rest italic) above them; `above` puts ATLAS's above too (panels of a grid).

        Drawn here rather than by mplhep's label(), which draws the whole figure to place its
        parts (about 2 s per figure on 500 k jets); the second part is anchored to the first
        one's box, which matplotlib resolves when it draws the figure anyway.
        """
        if self.experiment not in ("ATLAS", "CMS"):
            return
        status = _STATUS[self.experiment] if self.status is None else self.status
        words = " ".join(w for w in ("" if self.data else "Simulation", status) if w)
        font = size or plt.rcParams["font.size"]
        if self.experiment == "ATLAS" and not above:
            anchor, style, rest = (0.04, 0.96, "top"), "italic", "normal"
        elif self.experiment == "ATLAS":
            anchor, style, rest = (0.0, 1.015, "bottom"), "italic", "normal"
        else:
            anchor, style, rest = (0.0, 1.015, "bottom"), "normal", "italic"
        x, y, va = anchor
        name = ax.text(
            x,
            y,
            self.experiment,
            transform=ax.transAxes,
            va=va,
            ha="left",
            fontsize=1.25 * font,
            fontweight="bold",
            fontstyle=style,
        )
        if words:
            ax.annotate(
                f" {words}",
                xy=(1, 0),
                xycoords=name,
                va="bottom",
                ha="left",
                fontsize=font,
                fontstyle=rest,
            )


def axis_label(name: str, unit: str) -> str:
    """`pt [MeV]`, or just the name for dimensionless variables."""
    return f"{name} [{unit}]" if unit else name


def residual_label(name: str, kind: str) -> str:
    """Axis label saying which residual convention the column uses."""
    if kind == RELATIVE:
        return f"({name}' - {name}) / {name}"
    if kind == SIGNED_RELATIVE:
        return f"({name}' - {name}) / |{name}|"
    if kind == ANGLE:
        return f"{name}' - {name} [rad]"
    return f"{name}' - {name}"


def bound_text(tolerance: Tolerance) -> str:
    """A tolerance to three significant digits for a legend: `0.0488 %` or `0.001`."""
    if tolerance.relative:
        return f"{100 * tolerance.value:.3g} %"
    return f"{tolerance.value:.3g}"


def safe_name(column: str) -> str:
    """A file-name-safe version of a column name."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in column)


def png_dpi(fig: Figure, css_width: int) -> float:
    """Dots per inch that give a PNG twice `css_width` pixels wide."""
    return 2 * css_width / fig.get_figwidth()


def save_figure(fig: Figure, out_dir: Path, name: str, css_width: int = FIGURE_CSS_WIDTH) -> Path:
    """Write NAME.png (2x for sharp screens) and NAME.pdf, close the figure, return the PNG."""
    png = out_dir / f"{name}.png"
    fig.savefig(png, dpi=png_dpi(fig, css_width))
    fig.savefig(out_dir / f"{name}.pdf")
    plt.close(fig)
    return png


def compact_ticks(*axes: Axis) -> None:
    """Tick labels like 0.002 or 1e-06 instead of a separate x10^-3 multiplier, which collides
    with the axis label."""
    for axis in axes:
        axis.set_major_formatter(FormatStrFormatter("%g"))


def _log_x(ax: plt.Axes, high: float) -> None:
    """Log x axis labelled at 1, 2, 5 x 10^n as plain numbers up to 10^4 (labels on decades
    alone may leave one); beyond, on decades as 10^n (500000 and 1e+06 read badly)."""
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    if high < 1e4:
        ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        compact_ticks(ax.xaxis)
    else:
        ax.xaxis.set_major_formatter(LogFormatterSciNotation())


# ---------------------------------------------------------------------------- text checks
def _tick_texts(axis: Axis) -> list[Text]:
    """Tick labels the axis shows now (inside its view interval, visible, non-empty)."""
    low, high = sorted(axis.get_view_interval())
    span = (high - low) * 1e-9
    shown = []
    for locs, ticks in (
        (axis.get_majorticklocs(), axis.get_major_ticks),
        (axis.get_minorticklocs(), axis.get_minor_ticks),
    ):
        for loc, tick in zip(locs, ticks(len(locs)), strict=True):
            if low - span <= loc <= high + span:
                shown += [t for t in (tick.label1, tick.label2) if t.get_visible()]
    return shown


def visible_texts(fig: Figure) -> list[Text]:
    """Every piece of text the figure draws (labels, titles, legends, annotations, tick labels)."""
    fig.canvas.draw()
    ticks: set[int] = set()
    texts: list[Text] = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            for tick in (*axis.majorTicks, *axis.minorTicks):
                ticks.update((id(tick.label1), id(tick.label2)))
            if axis.get_visible():
                texts += _tick_texts(axis)
    for text in fig.findobj(Text):
        if id(text) in ticks or not text.get_visible() or not text.get_text().strip():
            continue
        if text.axes is not None and not text.axes.get_visible():
            continue
        texts.append(text)
    return [t for t in texts if t.get_text().strip()]


def text_problems(fig: Figure) -> list[str]:
    """Text boxes that overlap another one, or stick out of the figure, as readable lines."""
    renderer = fig.canvas.get_renderer()
    texts = visible_texts(fig)
    boxes = [t.get_window_extent(renderer).expanded(1, 1).padded(-1) for t in texts]
    width, height = fig.bbox.width, fig.bbox.height
    problems = []
    for i, (text, box) in enumerate(zip(texts, boxes, strict=True)):
        if box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1:
            problems.append(f"{text.get_text()!r} is cut by the figure edge")
        for other, other_box in zip(texts[i + 1 :], boxes[i + 1 :], strict=True):
            if box.overlaps(other_box):
                problems.append(f"{text.get_text()!r} overlaps {other.get_text()!r}")
    return problems


# ---------------------------------------------------------------------------- helpers
def _subsample(n: int, limit: int = MAX_SCATTER_POINTS) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(_RNG_SEED).choice(n, limit, replace=False))


def use_log_x(values: np.ndarray, kind: str) -> bool:
    """A positive scale variable spanning more than a decade is shown on a log axis."""
    if kind != RELATIVE or values.size == 0:
        return False
    positive = values[values > 0]
    return positive.size > 0.99 * values.size and np.percentile(
        positive, 99.9
    ) > 10 * np.percentile(positive, 0.1)


def value_edges(values: np.ndarray, kind: str) -> tuple[np.ndarray, bool]:
    """Bin edges over the central 99.9 % (the rest in flow bins), about sqrt(n)/1.5 bins in
    10..50, so that the ratio panel's Poisson errors do not swamp it; log edges for a wide
    positive scale variable."""
    finite = values[np.isfinite(values)]
    n_bins = int(np.clip(round(math.sqrt(max(finite.size, 1)) / 1.5), 10, 50))
    if use_log_x(finite, kind):
        lo, hi = np.percentile(finite[finite > 0], [0.05, 99.95])
        return np.geomspace(lo, hi, n_bins + 1), True
    lo, hi = np.percentile(finite, [0.05, 99.95]) if finite.size else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, n_bins + 1), False


def headroom(ax: plt.Axes, fraction: float = 0.35) -> None:
    """Raise the y limit so the top `fraction` of the axes stays free for legends and labels."""
    low, high = ax.get_ylim()
    if ax.get_yscale() == "log":
        low = max(low, 0.5)
        ax.set_ylim(low, low * (high / low) ** (1 / (1 - fraction)))
    else:
        ax.set_ylim(low, low + (high - low) / (1 - fraction))


def _filled(edges: np.ndarray, values: np.ndarray, label: str) -> hist.Hist:
    h = hist.Hist(hist.axis.Variable(edges, label=label), storage=hist.storage.Weight())
    return h.fill(np.asarray(values, dtype=np.float64))


def _comparison_limits(h_orig: hist.Hist, h_reco: hist.Hist) -> tuple[float, float]:
    """Half-range of the ratio panel and limit of the pull panel: wide enough for twice the
    typical Poisson error of a bin and for 90 % of the bins' deviations (a lossy model's
    shifts stay in view), in steps of 0.05 up to +-1; pulls to +-3, or +-5 when they exceed 3."""
    orig, reco = h_orig.values(), h_reco.values()
    filled = orig > 0
    if not filled.any():
        return 0.5, 3.0
    spread = 2 * float(np.median(1 / np.sqrt(orig[filled])))
    deviation = 1.2 * float(np.percentile(np.abs(reco[filled] / orig[filled] - 1), 90))
    half = float(np.clip(math.ceil(max(spread, deviation) * 20) / 20, 0.1, 1.0))
    variance = h_orig.variances() + h_reco.variances()
    with np.errstate(divide="ignore", invalid="ignore"):
        pulls = np.abs(reco - orig)[variance > 0] / np.sqrt(variance[variance > 0])
    return half, 5.0 if pulls.size and pulls.max() > 3 else 3.0


# ---------------------------------------------------------------------------- figures
def distribution_figure(
    column: str,
    original: np.ndarray,
    reconstructed: np.ndarray,
    unit: str,
    kind: str,
    style: PlotStyle,
    objects: str = "jet",
) -> Figure:
    """Original (points, Poisson errors) and decoded (line) histograms, with decoded/original
    ratio (hatched: the original's statistical uncertainty) and pull panels."""
    original = np.asarray(original, dtype=np.float64)
    edges, log_x = value_edges(original, kind)
    label = axis_label(column, unit)
    h_orig = _filled(edges, original, label)
    h_reco = _filled(edges, reconstructed, label)
    with style.context():
        fig, (top, ratio, pull) = plt.subplots(
            3,
            1,
            figsize=(10, 11),
            sharex=True,
            gridspec_kw={"height_ratios": [3, 1, 1], "hspace": 0.07},
        )
        mplhep.histplot(h_orig, ax=top, histtype="errorbar", color="black", label="original")
        mplhep.histplot(h_reco, ax=top, yerr=False, color="tab:red", lw=2, label="decoded")
        top.set_ylabel(f"{objects}s / bin")
        top.set_xlabel("")
        counts = h_orig.values()
        if counts.max(initial=0) > 100 * max(1.0, float(np.median(counts))):
            top.set_yscale("log")
        top.legend(loc="upper right")
        headroom(top)
        half, pull_limit = _comparison_limits(h_orig, h_reco)
        mplhep.comp.comparison(
            h_reco,
            h_orig,
            ax=ratio,
            comparison="split_ratio",
            h1_label="decoded",
            h2_label="original",
            comparison_ylabel="ratio",
            comparison_ylim=(1 - half, 1 + half),
            xlabel="",
        )
        mplhep.comp.comparison(
            h_reco,
            h_orig,
            ax=pull,
            comparison="pull",
            h1_label="decoded",
            h2_label="original",
            comparison_ylabel="pull",
            comparison_ylim=(-pull_limit, pull_limit),
            xlabel=label,
        )
        # Round ticks, none at the panels' edges where their labels would meet.
        ratio.yaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 5, 10], prune="both"))
        pull.yaxis.set_major_locator(MaxNLocator(3, symmetric=True, prune="both"))
        compact_ticks(ratio.yaxis)
        if log_x:
            _log_x(pull, edges[-1])
        fig.subplots_adjust(left=0.16, right=0.96, top=0.93, bottom=0.1)
        fig.align_ylabels()
        style.mark(top)
    return fig


def residual_figure(
    column: str,
    r: np.ndarray,
    stats: Mapping[str, Any],
    kind: str,
    style: PlotStyle,
    *,
    bound: Tolerance | None = None,
    uniform: bool = False,
    objects: str = "jet",
) -> Figure:
    """Residual histogram against its tolerance band.

    With a bound, the axis spans 1.25x the band. When the residual is uniform by construction
    (a bounded column: quantisation to a grid inside the band) no Gaussian is drawn; otherwise
    the Gaussian of the core sigma is, the axis spans +-5 core sigma and the legend gives the
    tails beyond 3 and 5 core sigma (values outside the axis are counted in its edge bins).
    """
    r = r[np.isfinite(r)]
    sigma = float(stats.get("core_sigma") or 0.0)
    if bound is not None:
        half_range = 1.25 * bound.value
    elif sigma > 0:
        half_range = 5 * sigma
    else:
        half_range = 1.2 * float(stats.get("p99_abs") or 0.0) or 1.0
    n_bins = int(np.clip(round(math.sqrt(max(r.size, 1))), 20, 80))
    edges = np.linspace(-half_range, half_range, n_bins + 1)
    h = _filled(edges, np.clip(r, edges[0], edges[-1]), residual_label(column, kind))
    lines = [f"RMS {stats['rms']:.3g}", f"max |r| {stats['max_abs']:.3g}"]
    with style.context():
        fig, ax = plt.subplots(figsize=(13, 8))
        if bound is not None:
            ax.axvspan(
                -bound.value,
                bound.value,
                color="tab:green",
                alpha=0.15,
                lw=0,
                label="tolerance",
            )
            lines.insert(0, f"bound ±{bound_text(bound)}")
            lines.insert(2, f"max |r| / bound {stats['max_abs'] / bound.value:.3f}")
            if uniform:
                lines += [f"RMS / bound {stats['rms'] / bound.value:.3f}", "(0.577 if uniform)"]
        mplhep.histplot(h, ax=ax, histtype="fill", color="tab:blue", alpha=0.6, label="residual")
        if not uniform and sigma > 0:
            x = np.linspace(edges[0], edges[-1], 400)
            width = edges[1] - edges[0]
            gauss = (
                r.size * width / (sigma * math.sqrt(2 * math.pi)) * np.exp(-0.5 * (x / sigma) ** 2)
            )
            ax.plot(x, gauss, color="black", lw=1.5, ls="--", label="Gaussian, core σ")
            beyond3 = 100 * np.mean(np.abs(r) > 3 * sigma)
            beyond5 = 100 * np.mean(np.abs(r) > 5 * sigma)
            lines += [
                f"core σ {sigma:.3g}",
                f"|r| > 3σ: {beyond3:.2g} %",
                f"|r| > 5σ: {beyond5:.2g} %",
            ]
            ax.set_yscale("log")
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(edges[0], edges[-1])
        ax.set_ylabel(f"{objects}s / bin")
        compact_ticks(ax.xaxis)
        ax.xaxis.set_major_locator(MaxNLocator(5, symmetric=True))
        # Beside the axes: a flat (uniform) histogram leaves no free corner inside them.
        ax.legend(
            title="\n".join(lines),
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            fontsize="medium",
            title_fontsize="medium",
            alignment="left",
            frameon=False,
        )
        headroom(ax, 0.25)
        fig.subplots_adjust(left=0.12, right=0.64, top=0.92, bottom=0.13)
        style.mark(ax)
    return fig


def corner_figure(
    names: Sequence[str],
    kinds: Sequence[str],
    r: np.ndarray,
    correlation: Sequence[Sequence[float | None]],
    core_sigmas: Sequence[float],
    style: PlotStyle,
    bounds: Sequence[float | None] = (),
) -> Figure:
    """Pair plot of residuals, backgrounds coloured by correlation, outliers as points.

    Diagonal: residual histograms. Below: 2D histogram of the core plus points for the rows
    outside it. Above: the correlation coefficient. The core of a column with a bound
    (`bounds[j]`, in residual units) is its whole band, shown with a 20 % margin; otherwise it
    is +-1 core sigma (`core_sigmas[j]`, as `evaluate` measured it), shown to +-4. At most
    MAX_CORNER_COLUMNS columns (the first ones).
    """
    k = min(len(names), MAX_CORNER_COLUMNS)
    r = r[:, :k]
    bounds = [*bounds, *([None] * k)][:k]
    sigmas = np.array([b or s or 1.0 for b, s in zip(bounds, core_sigmas[:k], strict=True)])
    spans = np.array([1.2 if b else 4.0 for b in bounds]) * sigmas
    cmap = plt.get_cmap("RdBu_r")
    with style.context():
        fig, axes = plt.subplots(k, k, figsize=(2.6 * k + 1.4, 2.6 * k + 1.4), squeeze=False)
        for i in range(k):
            for j in range(k):
                ax = axes[i, j]
                ax.tick_params(labelsize=9, length=3)
                ax.minorticks_off()  # dozens of small panels: minor ticks cost most drawing time
                compact_ticks(ax.xaxis, ax.yaxis)
                for axis in (ax.xaxis, ax.yaxis):
                    axis.set_major_locator(MaxNLocator(3, symmetric=True))
                limit_x = spans[j]
                if i == j:
                    values = r[np.isfinite(r[:, j]), j]
                    ax.hist(np.clip(values, -limit_x, limit_x), bins=40, color="tab:blue")
                    ax.set_xlim(-limit_x, limit_x)
                    ax.set_yticks([])
                elif j > i:
                    rho = correlation[i][j]
                    ax.set_facecolor(cmap(0.5 + 0.5 * rho) if rho is not None else "white")
                    ax.text(
                        0.5,
                        0.5,
                        "n/a" if rho is None else f"{rho:+.2f}",
                        ha="center",
                        va="center",
                        transform=ax.transAxes,
                        fontsize=14,
                    )
                    ax.set_xticks([])
                    ax.set_yticks([])
                else:
                    _corner_panel(ax, r[:, j], r[:, i], sigmas[j], sigmas[i], correlation[i][j])
                    ax.set_xlim(-spans[j], spans[j])
                    ax.set_ylim(-spans[i], spans[i])
                if i < k - 1:
                    ax.tick_params(labelbottom=False)
                if j > 0:
                    ax.tick_params(labelleft=False)
        for j in range(k):
            axes[-1, j].set_xlabel(residual_label(names[j], kinds[j]), fontsize=10)
            axes[j, 0].set_ylabel(residual_label(names[j], kinds[j]), fontsize=10)
        axes[0, 0].set_ylabel("")
        fig.subplots_adjust(left=0.1, right=0.98, top=0.95, bottom=0.1, hspace=0.08, wspace=0.08)
        style.mark(axes[0, 0], size=14, above=True)
    return fig


def _corner_panel(
    ax: plt.Axes, xs: np.ndarray, ys: np.ndarray, sx: float, sy: float, rho: float | None
) -> None:
    cmap = plt.get_cmap("RdBu_r")
    ax.set_facecolor(cmap(0.5 + 0.5 * rho, alpha=0.5) if rho is not None else "white")
    both = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[both], ys[both]
    core = (np.abs(xs) <= sx) & (np.abs(ys) <= sy)
    ax.hist2d(xs[core], ys[core], bins=20, range=[[-sx, sx], [-sy, sy]], cmin=1, cmap="viridis")
    outliers = np.flatnonzero(~core)
    shown = outliers[_subsample(outliers.size)]
    ax.plot(xs[shown], ys[shown], ".", ms=1.5, color="black", alpha=0.5, rasterized=True)


def profile_columns(
    names: Sequence[str], variables: Sequence[str] = PROFILE_VARIABLES
) -> list[str]:
    """The columns to bin residuals in: those whose physics name is in `variables`."""
    return [n for v in variables for n in names if base_name(n) == v]


def profile_figure(
    bin_column: str,
    bin_values: np.ndarray,
    names: Sequence[str],
    kinds: Sequence[str],
    r: np.ndarray,
    unit: str,
    style: PlotStyle,
    bounds: Mapping[str, Tolerance] | None = None,
    n_bins: int = 20,
) -> Figure:
    """Mean and 16-84 % band of every residual in equal-population bins of `bin_column`, with
    the tolerance band (dashed) where there is one."""
    bounds = bounds or {}
    x = np.asarray(bin_values, dtype=np.float64)
    edges = np.unique(np.nanpercentile(x, np.linspace(0, 100, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    order = np.argsort(which, kind="stable")
    starts = np.searchsorted(which[order], np.arange(len(edges)))
    groups = [order[starts[b] : starts[b + 1]] for b in range(len(edges) - 1)]
    centres = np.array([np.median(x[g]) if g.size else np.nan for g in groups])
    k = len(names)
    columns = 2 if k == 4 else min(k, 3)
    rows = math.ceil(k / columns)
    with style.context():
        fig, axes = plt.subplots(
            rows, columns, figsize=(6.5 * columns, 5.2 * rows + 0.8), squeeze=False
        )
        for idx, name in enumerate(names):
            ax = axes[idx // columns, idx % columns]
            stats = np.full((3, centres.size), np.nan)
            for b, g in enumerate(groups):
                values = r[g, idx]
                values = values[np.isfinite(values)]
                if values.size:
                    stats[:, b] = [values.mean(), *np.percentile(values, [16, 84])]
            ax.fill_between(
                centres, stats[1], stats[2], color="tab:blue", alpha=0.3, label="16-84 %"
            )
            ax.plot(centres, stats[0], "o-", color="tab:blue", ms=4, label="mean")
            ax.axhline(0, color="black", lw=0.8)
            bound = bounds.get(name)
            if bound is not None:
                for sign in (-1, 1):
                    ax.axhline(
                        sign * bound.value,
                        color="tab:green",
                        ls="--",
                        lw=1.5,
                        label="tolerance" if sign > 0 else None,
                    )
                ax.set_ylim(-1.6 * bound.value, 1.6 * bound.value)
            ax.set_xlabel(axis_label(bin_column, unit), fontsize=14)
            ax.set_ylabel(residual_label(name, kinds[idx]), fontsize=14)
            compact_ticks(ax.yaxis)
            ax.yaxis.set_major_locator(MaxNLocator(5, symmetric=True, prune="both"))
            ax.tick_params(labelsize=12)
            ax.minorticks_off()
            if use_log_x(x, RELATIVE if base_name(bin_column) in ("pt", "m") else ANGLE):
                _log_x(ax, edges[-1])
            if edges[-1] > edges[0]:  # one value everywhere: matplotlib picks the range
                ax.set_xlim(edges[0], edges[-1])
            if idx == 0:
                ax.legend(fontsize=11, loc="lower left", ncols=3)
        for idx in range(k, rows * columns):
            axes[idx // columns, idx % columns].set_visible(False)
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        style.mark(axes[0, 0], size=16, above=True)
    return fig


def bytes_figure(
    methods: Sequence[Mapping[str, Any]], style: PlotStyle, unit: str = "jet"
) -> Figure:
    """Bytes per object of jetzip and of each baseline on the same values: one bar each, the
    method's name above it (long names never need margin), hatched when it breaks a rule."""
    values = [m["bytes_per_object"] for m in methods]
    with style.context():
        fig, ax = plt.subplots(figsize=(10, 1.15 * len(methods) + 2.6))
        for y, m in enumerate(methods):
            broken = bool(m.get("violations"))
            colour = "tab:purple" if m.get("jetzip") else "tab:gray"
            ax.barh(
                y,
                m["bytes_per_object"],
                height=0.45,
                color=colour,
                hatch="//" if broken else None,
                edgecolor="white" if broken else colour,
            )
            ax.text(
                m["bytes_per_object"], y, f" {m['bytes_per_object']:.3g}", va="center", fontsize=18
            )
            name = m["method"] + (f" ({m['violations']} values break the rules)" if broken else "")
            ax.text(0, y - 0.3, name, va="bottom", fontsize=18)
        ax.set_yticks([])
        ax.set_ylim(len(methods) - 0.5, -1.6)
        ax.set_xlim(0, 1.25 * max(values, default=1.0))
        ax.set_xlabel(f"bytes / {unit}")
        ax.minorticks_off()
        fig.tight_layout(rect=(0, 0, 1, 0.94))
        style.mark(ax)
    return fig


def column_bytes_figure(column_bytes: Mapping[str, int], n_rows: int, style: PlotStyle) -> Figure:
    """Bytes per jet of every stored column of the .jz file (one bar each, tallest first)."""
    n = max(n_rows, 1)
    ordered = sorted(column_bytes.items(), key=lambda item: -item[1])
    with style.context():
        fig, ax = plt.subplots(figsize=(10, 0.42 * len(ordered) + 2.0))
        values = [v / n for _, v in ordered]
        ax.barh(range(len(ordered)), values, color="tab:purple")
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:.3g}", va="center", fontsize=12)
        ax.set_yticks(range(len(ordered)), [name for name, _ in ordered], fontsize=12)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.25 * max(values, default=1.0))
        ax.set_xlabel("bytes / jet in the .jz file")
        ax.tick_params(axis="y", which="both", left=False, right=False)
        ax.minorticks_off()
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        style.mark(ax, size=16)
    return fig


def loss_figure(history: Sequence[Mapping[str, Any]], style: PlotStyle) -> Figure:
    """Training and validation loss per epoch (log scale), from the rows of MODEL_DIR's
    history.csv (`jetzip.training.loop.read_history`)."""
    epochs = [row["epoch"] for row in history]
    with style.context():
        fig, ax = plt.subplots(figsize=(10, 8))
        ax.plot(epochs, [row["train_loss"] for row in history], label="training")
        ax.plot(epochs, [row["val_loss"] for row in history], label="validation")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (normalised units)")
        ax.legend()
        fig.tight_layout(rect=(0, 0, 1, 0.94))
        style.mark(ax)
    return fig


def latent_figure(latent: np.ndarray, style: PlotStyle, what: str = "latent") -> Figure:
    """One histogram per latent dimension."""
    k = latent.shape[1]
    with style.context():
        fig, axes = plt.subplots(1, k, figsize=(5.5 * k, 5.6), squeeze=False)
        for j in range(k):
            ax = axes[0, j]
            ax.hist(latent[:, j], bins=60, color="tab:green")
            ax.set_xlabel(f"{what} {j}", fontsize=14)
            ax.tick_params(labelsize=11)
            ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.yaxis.set_major_locator(MaxNLocator(4, prune="lower"))
            compact_ticks(ax.xaxis)
            ax.minorticks_off()
        axes[0, 0].set_ylabel("jets / bin", fontsize=14)
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        style.mark(axes[0, 0], size=14, above=True)
    return fig


def latent_scatter_figure(latent: np.ndarray, style: PlotStyle) -> Figure:
    """Pairwise scatter of latent dimensions (subsampled)."""
    k = latent.shape[1]
    shown = latent[_subsample(latent.shape[0])]
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)] or [(0, 0)]
    columns = min(len(pairs), 3)
    rows = math.ceil(len(pairs) / columns)
    with style.context():
        fig, axes = plt.subplots(
            rows, columns, figsize=(5.5 * columns, 5.2 * rows + 0.5), squeeze=False
        )
        for idx, (i, j) in enumerate(pairs):
            ax = axes[idx // columns, idx % columns]
            ax.plot(shown[:, i], shown[:, j], ".", ms=2, alpha=0.4)
            ax.set_xlabel(f"latent {i}", fontsize=14)
            ax.set_ylabel(f"latent {j}", fontsize=14)
            ax.tick_params(labelsize=11)
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_major_locator(MaxNLocator(4, prune="lower"))
                compact_ticks(axis)
            ax.minorticks_off()
        for idx in range(len(pairs), rows * columns):
            axes[idx // columns, idx % columns].set_visible(False)
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        style.mark(axes[0, 0], size=14, above=True)
    return fig
