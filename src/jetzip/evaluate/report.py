"""REPORT_DIR: metrics.json, every plot as PNG + PDF, and one self-contained index.html.

The page answers, in order: did every value meet its rule; how many bytes per jet against the
baselines on this very file; what changed in the distributions (lossy columns only; exact ones
are listed); the residuals against their tolerance band; their correlations; their profiles vs
pt and eta. A report has one such section per collection (`Section`), so that a whole file's
collections and its event-level branches each get their own.

The page embeds the PNGs (drawn at twice the shown size) as base64 data URIs, so it can be
mailed or opened from anywhere without a server; the PDFs sit next to it in `plots/` for
slides. The directory is written through `atomic_output`: an interrupted run leaves the
previous report (or nothing), never a half-written one.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from jetzip.codec.tolerance import Tolerance
from jetzip.evaluate import plots
from jetzip.evaluate.metrics import base_name, residual_matrix
from jetzip.fileutil import atomic_output
from jetzip.table import Table

PLOT_SUBDIR = "plots"
#: Rows encoded for the latent-space plots (enough for smooth histograms, quick to encode).
MAX_LATENT_ROWS = 20_000
#: Lossy columns that get their own distribution and residual figures by default (the
#: kinematic ones first); `all_plots` draws every column. Keeps the page at ~25 figures.
DEFAULT_COLUMN_FIGURES = 6
_KINEMATIC_ORDER = ("pt", "eta", "phi", "m", "mass", "e", "px", "py", "pz")
#: The same per section of a whole file, and the most figures a page gets unless all_plots.
SECTION_COLUMN_FIGURES = 3
MAX_FIGURES = 25

_SUMMARY_KEYS = (
    "mean", "rms", "std", "half_width_68", "core_sigma", "p99_abs", "max_abs",
    "average_abs_error", "recovered_pct",
)  # fmt: skip
SUMMARY_HEADER = (
    "variable", "residual", "mean", "RMS", "std", "68% hw", "core σ", "p99 |r|", "max |r|",
    "avg |r|", "% recov.", "excluded",
)  # fmt: skip


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int | np.integer):
        return str(int(value))
    return f"{value:.3g}"


def exact_columns(metrics: Mapping[str, Any]) -> list[str]:
    """Columns whose every value came back identical."""
    return [
        name
        for name, s in metrics["per_column"].items()
        if s.get("max_abs") == 0 and s["n_excluded"] == 0
    ]


def lossy_columns(metrics: Mapping[str, Any]) -> list[str]:
    """Columns that changed and have a defined residual, the kinematic ones first."""
    exact = set(exact_columns(metrics))
    names = [n for n in metrics["columns"] if n not in exact and metrics["per_column"][n]["n"]]

    def rank(name: str) -> int:
        base = base_name(name)
        return _KINEMATIC_ORDER.index(base) if base in _KINEMATIC_ORDER else len(_KINEMATIC_ORDER)

    return sorted(names, key=rank)


def summary_rows(metrics: Mapping[str, Any], names: Sequence[str] | None = None) -> list[list[str]]:
    """One row per column (`names`, default all): the residual statistics of the summary table."""
    rows = []
    for name in metrics["columns"] if names is None else names:
        s = metrics["per_column"][name]
        values = [_number(s.get(key)) for key in _SUMMARY_KEYS]
        rows.append([name, s["kind"], *values, str(s["n_excluded"])])
    return rows


def format_summary_table(metrics: Mapping[str, Any]) -> str:
    """The summary as aligned plain text for the terminal (columns stored exactly on one line)."""
    rows = [list(SUMMARY_HEADER), *summary_rows(metrics, lossy_columns(metrics))]
    widths = [max(len(row[i]) for row in rows) for i in range(len(SUMMARY_HEADER))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    exact = exact_columns(metrics)
    if exact:
        lines.append(f"reproduced exactly ({len(exact)}): {', '.join(exact)}")
    lines.append(
        f"{metrics['recovered_pct_all']:.2f} % of rows have every residual within "
        f"{metrics['recovered_within']:g}"
    )
    rules = metrics.get("tolerances") or {}
    for name, t in rules.items():
        if t["tolerance"] != "exact":
            lines.append(
                f"tolerance {name}={t['tolerance']}: {t['violations']} violations, worst |error| "
                f"{t['worst_abs_error']:.3g} ({t['worst_ratio']:.3g} of the bound)"
            )
    exact = [t["violations"] for t in rules.values() if t["tolerance"] == "exact"]
    if exact:
        lines.append(f"exact ({len(exact)} columns): {sum(exact)} values differ")
    model = metrics.get("model")
    if model:
        lines.append(f"MSE in the model's normalised units: {model['normalised_mse']['mse']:.4g}")
    compression = metrics.get("compression")
    if compression:
        per_jet = compression["bytes_per_jet"]
        without_model = compression["bytes_per_jet_without_model"]
        ratio = _number(compression["ratio_vs_raw_float32"])
        lines.append(
            f"{per_jet:.3f} bytes/jet ({without_model:.3f} without the model), "
            f"ratio vs raw float32 {ratio}"
        )
    return "\n".join(lines)


def jsonable(value: Any) -> Any:
    """Nested metrics with numpy scalars made plain and non-finite floats made null."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------- sections
@dataclass
class Section:
    """One part of the report: a collection (or the event-level branches) of a file, its
    decoded counterpart and their `evaluate` metrics."""

    name: str
    original: Table
    reconstructed: Table
    metrics: Mapping[str, Any]
    #: Object counted per row, for "bytes / jet" and "jets / bin".
    objects: str = "jet"
    plots: list[tuple[str, Path]] = field(default_factory=list)


# ---------------------------------------------------------------------- plots
#: (heading, file name, figure builder, width on the page in CSS pixels)
PlotTask = tuple[str, str, Callable[[], Any], int]

HEADINGS = (
    "Bytes per jet",
    "Distributions",
    "Residuals against the tolerance",
    "Residual correlations",
    "Residual profiles",
    "Model",
)


def _bounds(metrics: Mapping[str, Any]) -> dict[str, Tolerance]:
    return {
        name: Tolerance.parse(t["tolerance"])
        for name, t in (metrics.get("tolerances") or {}).items()
        if t["tolerance"] != "exact"
    }


def plot_tasks(
    section: Section,
    style: plots.PlotStyle,
    *,
    all_plots: bool = False,
    model: Any = None,
    model_dir: str | Path | None = None,
    columns: int = DEFAULT_COLUMN_FIGURES,
) -> list[PlotTask]:
    """Every figure of one section, in page order.

    Only lossy columns are plotted (exact ones are listed on the page); by default the first
    `columns` of them (kinematic first) get distribution and residual figures,
    profiles are vs pt and eta, and the per-column bytes figure is left out. `all_plots` draws
    every column (exact ones too), the profile vs m and the per-column bytes.
    """
    metrics, original, reconstructed = section.metrics, section.original, section.reconstructed
    prefix = "" if section.name == "" else f"{plots.safe_name(section.name)}_"
    units = {n: original.units.get(n, "") for n in metrics["columns"]}
    kinds = {n: metrics["per_column"][n]["kind"] for n in metrics["columns"]}
    bounds = _bounds(metrics)
    storage = metrics.get("storage") or {}
    lossy = lossy_columns(metrics)
    shown = lossy if all_plots else lossy[:columns]
    tasks: list[PlotTask] = []

    def add(heading: str, name: str, build: Callable[[], Any], wide: int = 0) -> None:
        """`wide`: the figure's width on the page in CSS pixels, if not the normal one."""
        tasks.append((heading, prefix + name, build, wide or plots.FIGURE_CSS_WIDTH))

    compression = metrics.get("compression") or {}
    if compression.get("baselines"):
        methods = compression["baselines"]["methods"]
        add(
            HEADINGS[0],
            "bytes_per_jet",
            partial(plots.bytes_figure, methods, style, section.objects),
        )
    if all_plots and compression.get("column_bytes"):
        draw = partial(
            plots.column_bytes_figure, compression["column_bytes"], original.n_rows, style
        )
        add(HEADINGS[0], "bytes_per_column", draw)
    # A row identifier kept from the source (the ATLAS pickles' jet id) is no physics variable.
    identifier = original.meta.get("index_column")
    distributions = [n for n in metrics["columns"] if n != identifier] if all_plots else shown
    for name in distributions:
        draw = partial(
            plots.distribution_figure,
            name,
            original[name],
            reconstructed[name],
            units[name],
            kinds[name],
            style,
            section.objects,
        )
        add(HEADINGS[1], f"distribution_{plots.safe_name(name)}", draw)
    # computed when a figure first needs them: a section left out of the page's figure budget
    # is planned but never drawn, and then costs no pass over its residuals
    shown_residuals = cache(partial(residual_matrix, original, reconstructed, shown, kinds))
    for j, name in enumerate(shown):

        def residual(j: int = j, name: str = name) -> Any:
            return plots.residual_figure(
                name,
                shown_residuals()[:, j],
                metrics["per_column"][name],
                kinds[name],
                style,
                bound=bounds.get(name),
                uniform=storage.get(name) == "bounded",
                objects=section.objects,
            )

        add(HEADINGS[2], f"residual_{plots.safe_name(name)}", residual)
    corner = shown[: plots.MAX_CORNER_COLUMNS]
    if len(corner) > 1:
        index = {n: i for i, n in enumerate(metrics["columns"])}
        full = metrics["residual_correlation"]
        correlation = [[full[index[a]][index[b]] for b in corner] for a in corner]

        def corner_plot() -> Any:
            return plots.corner_figure(
                corner,
                [kinds[n] for n in corner],
                shown_residuals()[:, : len(corner)],
                correlation,
                [metrics["per_column"][n]["core_sigma"] for n in corner],
                style,
                [bounds[n].value if n in bounds else None for n in corner],
            )

        # About 270 px per pair-plot column: two fit the normal width.
        wide = min(plots.WIDE_CSS_WIDTH, 270 * len(corner))
        add(HEADINGS[3], "residual_corner", corner_plot, wide=wide)
    variables = (*plots.PROFILE_VARIABLES, "m", "mass") if all_plots else plots.PROFILE_VARIABLES
    for b in plots.profile_columns(metrics["columns"], variables) if shown else []:

        def profile(b: str = b) -> Any:
            return plots.profile_figure(
                b,
                original[b],
                shown,
                [kinds[n] for n in shown],
                shown_residuals(),
                units[b],
                style,
                bounds,
            )

        add(
            HEADINGS[4],
            f"profile_vs_{plots.safe_name(b)}",
            profile,
            wide=plots.WIDE_CSS_WIDTH if len(shown) > 1 else 0,
        )
    if model is not None:
        for name, draw in _model_plots(model, original, model_dir, style):
            add(HEADINGS[5], name, draw)
    return tasks


def _model_plots(
    model: Any, original: Table, model_dir: str | Path | None, style: plots.PlotStyle
) -> list[tuple[str, Callable[[], Any]]]:
    """Loss curves (from MODEL_DIR/history.csv), latent distributions and scatter, VAE spread."""
    from jetzip.training.loop import read_history  # (torch is loaded with the model already)

    draws: list[tuple[str, Callable[[], Any]]] = []
    history = read_history(Path(model_dir)) if model_dir is not None else []
    if history:
        draws.append(("loss_curves", partial(plots.loss_figure, history, style)))
    x = original.matrix(list(model.columns))[:MAX_LATENT_ROWS]
    latent = model.encode(x)
    draws.append(("latent_distributions", partial(plots.latent_figure, latent, style)))
    if latent.shape[1] > 1:
        draws.append(("latent_scatter", partial(plots.latent_scatter_figure, latent, style)))
    if model.spec.get("kind") == "vae":
        mean, log_variance = (np.asarray(a) for a in model.encode_distribution(x))
        draws.append(("vae_latent_mean", partial(plots.latent_figure, mean, style, "mean")))
        variance = np.exp(log_variance)
        draws.append(
            ("vae_latent_variance", partial(plots.latent_figure, variance, style, "variance"))
        )
    return draws


# ---------------------------------------------------------------------- HTML
_CSS = """
body { font-family: sans-serif; max-width: 1120px; margin: 1em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 3px 7px; text-align: right; }
th { background: #eef; } td:first-child, th:first-child { text-align: left; }
figure { display: inline-block; margin: 0.4em; vertical-align: top; }
figure img { border: 1px solid #ddd; display: block; }
figcaption { font-size: 0.8em; color: #555; }
code, pre { background: #f4f4f4; padding: 2px 4px; white-space: pre-wrap; }
.fail { color: #b00; font-weight: bold; } .pass { color: #070; font-weight: bold; }
.note { color: #555; font-size: 0.9em; }
"""


def _table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], classes: Sequence[str] = ()
) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        f"<tr{f' class={chr(34)}{classes[i]}{chr(34)}' if i < len(classes) else ''}>"
        + "".join(f"<td>{html.escape(str(c))}</td>" for c in row)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _key_values(data: Mapping[str, Any]) -> str:
    rows = [
        (k, _number(v) if isinstance(v, int | float) else v)
        for k, v in data.items()
        if not isinstance(v, Mapping | list)
    ]
    return _table(("quantity", "value"), rows)


def _rules_section(metrics: Mapping[str, Any]) -> str:
    rules = metrics.get("tolerances") or {}
    latent = [n for n, kind in (metrics.get("storage") or {}).items() if kind == "latent"]
    if not rules:
        if latent:
            return (
                "<h2>Rules</h2><p>The file stores "
                f"{html.escape(', '.join(latent))} as a model's latent: no value has a bound "
                "(see the residuals below; <code>--tolerance</code> checks one).</p>"
            )
        return (
            "<h2>Rules</h2><p>No rule to check: give <code>--tolerance</code>, or evaluate a "
            ".jz file (its header records each column's rule).</p>"
        )
    rows, classes = [], []
    bounded = {n: t for n, t in rules.items() if t["tolerance"] != "exact"}
    exact = {n: t for n, t in rules.items() if t["tolerance"] == "exact"}
    for name, t in bounded.items():
        ok = t["violations"] == 0
        rows.append(
            (
                name,
                t["tolerance"],
                metrics["per_column"][name]["kind"],
                t["violations"],
                _number(t["worst_ratio"]),
                "pass" if ok else "FAIL",
            )
        )
        classes.append("" if ok else "fail")
    if exact:
        failed = [n for n, t in exact.items() if t["violations"]]
        rows.append(
            (
                f"{len(exact)} columns stored exactly",
                "exact",
                "-",
                sum(t["violations"] for t in exact.values()),
                "-",
                "pass" if not failed else "FAIL: " + ", ".join(failed),
            )
        )
        classes.append("" if not failed else "fail")
    passed = all(t["violations"] == 0 for t in rules.values())
    verdict = (
        '<p class="pass">Every value meets its rule.</p>'
        if passed
        else '<p class="fail">Some values break their rule (see the table).</p>'
    )
    out = "<h2>Did every value meet its rule?</h2>" + verdict
    out += _table(
        ("column", "rule", "residual", "violations", "worst / bound", "result"), rows, classes
    )
    if exact:
        out += f'<p class="note">Stored exactly: {html.escape(", ".join(exact))}.</p>'
    return out


def _times(ratio: float | None) -> str:
    """'3.2x smaller than' or '3.3x larger than', from reference bytes / these bytes."""
    if not ratio:
        return "-"
    return f"{ratio:.3g}x smaller than" if ratio >= 1 else f"{1 / ratio:.3g}x larger than"


def _bytes_section(metrics: Mapping[str, Any], objects: str) -> str:
    compression = metrics.get("compression")
    if not compression:
        return ""
    what = "Its branches in the .jz file" if compression.get("objects") else "This .jz file"
    out = (
        f"<h2>Bytes per {objects}</h2><p>{what}: <b>{compression['bytes_per_jet']:.3f}"
        f"</b> bytes per {objects} ({compression['file_bytes']:,} bytes for "
        f"{metrics['n_rows']:,} {objects}s, {_times(compression['ratio_vs_raw_float32'])} raw "
        "float32"
    )
    if compression.get("ratio_vs_input_file"):
        out += f", {_times(compression['ratio_vs_input_file'])} the input file"
    out += ").</p>"
    baselines = compression.get("baselines")
    if baselines:
        rows = [
            (m["method"], f"{m['bytes_per_object']:.3f}", m["violations"])
            for m in baselines["methods"]
        ]
        out += (
            f'<p class="note">Columns compared: {html.escape(", ".join(baselines["columns"]))} '
            "(those with a tolerance, or every float column when none has one; columns stored "
            "exactly, integer and bool ones are stored losslessly by every method and left "
            f"out). jetzip's figure is its whole file's payload for these columns; the baselines "
            f"are measured on its first {baselines['rows']:,} {objects}s.</p>"
            + _table(("method", f"bytes / {objects}", "values breaking the rules"), rows)
        )
        if baselines["skipped"]:
            out += (
                f'<p class="note">Not measured: {html.escape("; ".join(baselines["skipped"]))}.</p>'
            )
    return out


def _residual_table(metrics: Mapping[str, Any]) -> str:
    lossy = lossy_columns(metrics)
    if not lossy:
        return "<p>Every column was reproduced exactly: there are no residuals.</p>"
    out = (
        f'<p class="note">{metrics["n_rows"]:,} rows. Residuals follow the tolerance: relative '
        "(x'-x)/x for a relative tolerance and for momenta and energies (rows with x &le; 0 "
        "excluded and counted), absolute x'-x (wrapped for phi) otherwise. Core &sigma;: "
        "iterative 2&sigma;-clipped std corrected for the truncation. % recovered: share of "
        f"values with |residual| &le; {metrics['recovered_within']:g}; all columns at once: "
        f"{metrics['recovered_pct_all']:.2f} %.</p>"
    )
    out += _table(SUMMARY_HEADER, summary_rows(metrics, lossy))
    names = lossy[: plots.MAX_CORNER_COLUMNS * 2]
    if len(names) > 1:
        index = {n: i for i, n in enumerate(metrics["columns"])}
        full = metrics["residual_correlation"]
        rows = [[a, *(_number(full[index[a]][index[b]]) for b in names)] for a in names]
        out += "<h3>Residual correlation</h3>" + _table(("", *names), rows)
    return out


def _model_section(model: Mapping[str, Any]) -> str:
    mse = model["normalised_mse"]
    out = (
        "<h2>Model</h2>"
        f"<p>kind {html.escape(str(model['spec'].get('kind')))}, latent dimension "
        f"{model['latent_dim']}, content hash <code>{model['content_hash'][:16]}…</code>. "
        f"MSE in the model's normalised units: <b>{mse['mse']:.4g}</b> "
        f"({mse['rows_used']} rows).</p>"
        + _table(
            ("column", "normalised MSE"),
            [(c, _number(v)) for c, v in mse["mse_per_column"].items()],
        )
    )
    training = model.get("training")
    if training:  # MODEL_DIR/summary.json: residuals and achieved sparsity of training
        out += "<h3>Training (validation split)</h3>" + _key_values(
            {f"residual RMS {c}": v for c, v in training["val_residual_rms"].items()}
            | {f"hidden {k}": v for k, v in training["activations"].items()}
            | {"sparsity penalty": training.get("sparsity") or "none"}
        )
    if "costs" in model:
        out += "<h3>Costs on this machine</h3>" + _key_values(model["costs"])
    return out


def _png_width(png: bytes) -> int:
    """Pixel width from a PNG's IHDR chunk."""
    return int.from_bytes(png[16:20], "big")


def _figures(section: Section, heading: str, report_dir: Path) -> str:
    out = []
    for head, png in section.plots:
        if head != heading:
            continue
        data = png.read_bytes()
        width = _png_width(data) // 2
        pdf = png.with_suffix(".pdf").relative_to(report_dir).as_posix()
        out.append(
            f'<figure><img alt="{html.escape(png.stem)}" width="{width}" '
            f'src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'
            f'<figcaption><a href="{html.escape(pdf)}">{html.escape(png.stem)}.pdf</a>'
            "</figcaption></figure>"
        )
    return "\n".join(out)


def _section_html(section: Section, report_dir: Path, level: int) -> str:
    metrics = section.metrics
    objects = section.objects
    parts = [_rules_section(metrics), _bytes_section(metrics, objects)]
    parts.append(_figures(section, HEADINGS[0], report_dir))
    exact = exact_columns(metrics)
    parts.append(f"<h2>{HEADINGS[1]}</h2>")
    if exact:
        parts.append(
            f'<p class="note">Not plotted, reproduced exactly ({len(exact)}): '
            f"{html.escape(', '.join(exact))}.</p>"
        )
    drawn = sum(1 for heading, _ in section.plots if heading == HEADINGS[1])
    lossy = lossy_columns(metrics)
    if 0 < drawn < len(lossy):
        parts.append(
            f'<p class="note">Also lossy, in the tables but not plotted (--all-plots draws '
            f"them): {html.escape(', '.join(lossy[drawn:]))}.</p>"
        )
    parts.append(_figures(section, HEADINGS[1], report_dir))
    parts.append(f"<h2>{HEADINGS[2]}</h2>" + _residual_table(metrics))
    parts.append(_figures(section, HEADINGS[2], report_dir))
    for heading in HEADINGS[3:5]:
        figures = _figures(section, heading, report_dir)
        if figures:
            parts.append(f"<h2>{heading}</h2>{figures}")
    if metrics.get("model"):
        parts.append(_model_section(metrics["model"]))
        parts.append(_figures(section, HEADINGS[5], report_dir))
    if metrics.get("compression"):
        parts.append("<h3>The .jz file in numbers</h3>" + _key_values(metrics["compression"]))
    body = "\n".join(p for p in parts if p)
    if level == 1:
        return body
    # Sections of a whole file: headings one level down, under the section's own name.
    for n in (3, 2):
        body = body.replace(f"<h{n}>", f"<h{n + 1}>").replace(f"</h{n}>", f"</h{n + 1}>")
    title = f"{section.name} ({section.metrics['n_rows']:,} {section.objects}s)"
    return f'<h2 id="{plots.safe_name(section.name)}">{html.escape(title)}</h2>\n{body}'


def render_html(
    sections: Sequence[Section],
    report_dir: Path,
    *,
    command: str | None = None,
    created: str = "",
    version: str = "",
    notes: Sequence[str] = (),
) -> str:
    """The whole page as one string (images embedded), one part per section."""
    level = 1 if len(sections) == 1 else 2
    parts = [f'<p class="note">{html.escape(note)}</p>' for note in notes]
    if level == 2:
        links = ", ".join(
            f'<a href="#{plots.safe_name(s.name)}">{html.escape(s.name)}</a>' for s in sections
        )
        parts.append(f"<p>Sections: {links}.</p>")
    parts += [_section_html(section, report_dir, level) for section in sections]
    parts.append(
        "<h2>Provenance</h2>"
        f"<p>jetzip {html.escape(version)}, created {html.escape(created)}.</p>"
        f"<pre>{html.escape(command or '(library call)')}</pre>"
        '<p>All numbers: <a href="metrics.json">metrics.json</a>.</p>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>jetzip evaluation report</title><style>{_CSS}</style></head><body>"
        "<h1>jetzip evaluation report</h1>" + "\n".join(parts) + "</body></html>\n"
    )


def write_report(
    report_dir: str | Path,
    original: Table,
    reconstructed: Table,
    metrics: Mapping[str, Any],
    *,
    model: Any = None,
    model_dir: str | Path | None = None,
    command: str | None = None,
    progress: bool | None = None,
    style: plots.PlotStyle | None = None,
    all_plots: bool = False,
) -> Path:
    """Write metrics.json, plots/ and index.html for one table into `report_dir`; return the page.

    See `write_sections` for the arguments; this is the one-collection case.
    """
    section = Section("", original, reconstructed, metrics)
    return write_sections(
        report_dir,
        [section],
        model=model,
        model_dir=model_dir,
        command=command,
        progress=progress,
        style=style,
        all_plots=all_plots,
    )


def _jet_rank(name: str) -> int:
    """0 for the jets collection ("Jet", "Jets"), 1 for other jets (FatJet), 2 otherwise."""
    lower = name.lower()
    return 0 if lower.rstrip("s") == "jet" else 1 if "jet" in lower else 2


def write_sections(
    report_dir: str | Path,
    sections: Sequence[Section],
    *,
    model: Any = None,
    model_dir: str | Path | None = None,
    command: str | None = None,
    progress: bool | None = None,
    style: plots.PlotStyle | None = None,
    all_plots: bool = False,
    notes: Sequence[str] = (),
) -> Path:
    """Write metrics.json, plots/ and index.html into `report_dir` (atomically); return the page.

    One part of the page per section (a whole file: one per collection, one for the
    event-level branches); with one section, metrics.json is its metrics, else
    ``{"sections": {name: metrics}}``. `style` defaults to ATLAS; `all_plots` draws every
    column and figure (see `plot_tasks`); `progress=None` shows a progress bar only on a
    terminal. `model` belongs to the first section; `notes` are shown at the top of the page.
    """
    report_dir = Path(report_dir)
    style = style or plots.PlotStyle()
    sections = sorted(sections, key=lambda section: _jet_rank(section.name))
    with atomic_output(report_dir, directory=True) as tmp:
        plot_dir = tmp / PLOT_SUBDIR
        plot_dir.mkdir()
        planned = []
        for i, section in enumerate(sections):
            section.plots = []
            section_model = (model, model_dir) if i == 0 else (None, None)
            drawn = plot_tasks(
                section,
                style,
                all_plots=all_plots,
                model=section_model[0],
                model_dir=section_model[1],
                columns=DEFAULT_COLUMN_FIGURES if len(sections) == 1 else SECTION_COLUMN_FIGURES,
            )
            planned.append((section, drawn))
        # The jets come first (jetzip's first objects), on the page and in the figure budget.
        tasks, unplotted = [], []
        for section, drawn in planned:
            if not all_plots and drawn and len(tasks) + len(drawn) > MAX_FIGURES:
                unplotted.append(section.name)
                continue
            tasks += [(section, task) for task in drawn]
        if unplotted:
            notes = [
                *notes,
                f"Figures left out to keep the page short (--all-plots draws them): "
                f"{', '.join(unplotted)}; their numbers are all here.",
            ]
        bar = tqdm(
            tasks, desc="plots", unit="plot", disable=None if progress is None else not progress
        )
        for section, (heading, name, build, width) in bar:
            with style.context():  # drawn under the rc settings it was built with
                png = plots.save_figure(build(), plot_dir, name, width)
            section.plots.append((heading, png))
        if len(sections) == 1:
            metrics_out: Any = sections[0].metrics
        else:
            metrics_out = {"sections": {s.name: s.metrics for s in sections}}
        (tmp / "metrics.json").write_text(json.dumps(jsonable(metrics_out), indent=2) + "\n")
        first = sections[0].metrics
        page = render_html(
            sections,
            tmp,
            command=command,
            created=first.get("created", ""),
            version=first.get("jetzip_version", ""),
            notes=notes,
        )
        (tmp / "index.html").write_text(page)
    return report_dir / "index.html"
