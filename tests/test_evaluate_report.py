"""The evaluation report: the figures it draws, one self-contained page, rendered by Chromium
(every figure visible at its size, side by side without overlapping, no text box on another)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch

from jetzip.codec import compress_table, decompress_file
from jetzip.evaluate import evaluate, write_report
from jetzip.evaluate import plots as plots_module
from jetzip.evaluate import report as report_module
from jetzip.evaluate.metrics import residual_matrix
from jetzip.evaluate.report import Section, write_sections
from jetzip.models import TrainedModel, build_model
from jetzip.table import Table
from jetzip.transforms import build_normaliser

COLUMNS = ["m", "pt", "eta", "phi"]
UNITS = {"m": "GeV", "pt": "GeV", "eta": "", "phi": "rad"}
TOLERANCES = "m=0.5%,pt=0.5%,eta=0.002,phi=0.002"
EXPECTED_PLOTS = [
    "bytes_per_jet",
    *(f"distribution_{c}" for c in COLUMNS),
    *(f"residual_{c}" for c in COLUMNS),
    "residual_corner",
    "profile_vs_pt",
    "profile_vs_eta",
    "loss_curves",
    "latent_distributions",
    "latent_scatter",
]


def jet_table(n: int = 3000) -> Table:
    rng = np.random.default_rng(7)
    pt = 20 + rng.exponential(40, n)
    columns = {
        "m": pt * rng.uniform(0.05, 0.3, n),
        "pt": pt,
        "eta": rng.normal(0, 1.5, n),
        "phi": rng.uniform(-np.pi, np.pi, n),
    }
    return Table({k: v.astype(np.float32) for k, v in columns.items()}, units=UNITS)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One report with every section: model (loss curves, latents, costs), .jz, tolerances."""
    base = tmp_path_factory.mktemp("evaluate")
    original = jet_table()
    torch.manual_seed(0)
    x = original.matrix(COLUMNS)
    model = TrainedModel(
        build_model({"n_inputs": 4, "latent": 3, "encoder": [16]}),
        build_normaliser(COLUMNS, "custom").fit(x),
        UNITS,
    )
    model_dir = base / "model"
    model_dir.mkdir()
    (model_dir / "history.csv").write_text(
        "epoch,train_loss,val_loss,lr,seconds\n1,0.5,0.6,0.001,1.0\n2,0.2,0.25,0.001,1.0\n"
    )
    jz = base / "jets.jz"
    compress_table(original, jz, tolerances=TOLERANCES)
    reconstructed = decompress_file(jz)
    metrics = evaluate(
        original,
        reconstructed,
        model=model,
        model_dir=model_dir,
        tolerances=TOLERANCES,
        compressed_path=jz,
    )
    page = write_report(
        base / "report",
        original,
        reconstructed,
        metrics,
        model=model,
        model_dir=model_dir,
        command="jetzip evaluate a.parquet jets.jz -o report",
    )
    return {"page": page, "metrics": metrics, "base": base}


def test_every_plot_is_written_as_png_and_pdf(report: dict) -> None:
    plot_dir = report["page"].parent / "plots"
    for name in EXPECTED_PLOTS:
        for suffix in (".png", ".pdf"):
            path = plot_dir / f"{name}{suffix}"
            assert path.is_file() and path.stat().st_size > 1000, path
    assert sorted(p.stem for p in plot_dir.glob("*.png")) == sorted(EXPECTED_PLOTS)


def test_page_embeds_every_plot_and_metrics_json_is_complete(report: dict) -> None:
    page = report["page"]
    text = page.read_text()
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(embedded) == len(EXPECTED_PLOTS)
    assert all(base64.b64decode(data).startswith(b"\x89PNG") for data in embedded)
    assert "jetzip evaluate a.parquet jets.jz -o report" in text
    assert "Costs on this machine" in text and "Did every value meet its rule?" in text
    for method in ("float32 + best lossless codec", "CMS NanoAOD precision + LZMA"):
        assert f"<td>{method}</td>" in text
    metrics = json.loads((page.parent / "metrics.json").read_text())
    assert set(metrics["per_column"]) == set(COLUMNS)
    assert all(t["violations"] == 0 for t in metrics["tolerances"].values())
    assert metrics["compression"]["bytes_per_jet"] < 16
    assert metrics["model"]["costs"]["n_parameters"] > 0
    leftovers = [p.name for p in report["base"].iterdir() if p.name.startswith(".report")]
    assert leftovers == []


def test_interrupted_report_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = jet_table(200)

    def interrupted(*args: object, **kwargs: object) -> Path:
        raise KeyboardInterrupt

    monkeypatch.setattr(plots_module, "distribution_figure", interrupted)
    reconstructed = Table({**{c: original[c] for c in COLUMNS}, "pt": original["pt"] * 1.001})
    metrics = evaluate(original, reconstructed, measure_costs=False)
    with pytest.raises(KeyboardInterrupt):
        write_report(tmp_path / "report", original, reconstructed, metrics)
    assert list(tmp_path.iterdir()) == []


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
PAGE_WIDTH = 1200
# Appended to a copy of the page: after load, writes one line per figure (decoded size, shown
# box) and the text boxes of the page that overlap another one or a figure.
LAYOUT_PROBE = """<script>
window.addEventListener("load", () => {
  const box = el => el.getBoundingClientRect();
  const meet = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 &&
                         a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const lines = Array.from(document.images).map(img => {
    const r = box(img);
    return `figure ${img.alt} ${img.complete} ${img.naturalWidth} ${r.left} ${r.top} ` +
           `${r.right} ${r.bottom}`;
  });
  const texts = Array.from(document.querySelectorAll("h1,h2,h3,p,table,figcaption,pre"));
  const boxes = [...texts, ...document.images].map(box);
  texts.forEach((a, i) => boxes.forEach((b, j) => {
    if (j > i && meet(box(a), b)) lines.push(`overlap ${a.tagName} ${j}`);
  }));
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = lines.join("\\n");
  document.body.appendChild(out);
});
</script>"""


def chromium(page: Path, profile: Path, *arguments: str) -> str:
    """Run headless Chromium on `page` with a fresh profile; its stdout."""
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments, page.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(report: dict, tmp_path: Path) -> None:
    """Every figure decodes, is shown at half its pixel width (2x PNG) inside the page, and no
    figure or text block overlaps another; the screenshot is not blank."""
    page = report["page"]
    screenshot = tmp_path / "page.png"
    chromium(
        page, tmp_path / "shot", f"--screenshot={screenshot}", f"--window-size={PAGE_WIDTH},3000"
    )
    pixels = matplotlib.image.imread(screenshot)
    assert pixels.shape[:2] == (3000, PAGE_WIDTH)
    assert pixels[..., :3].std() > 0.05  # not a blank page

    probed = page.parent / "probe.html"
    probed.write_text(page.read_text().replace("</body>", LAYOUT_PROBE + "</body>"))
    dom = chromium(
        probed, tmp_path / "dom", "--virtual-time-budget=10000", f"--window-size={PAGE_WIDTH},3000",
        "--dump-dom",
    )  # fmt: skip
    probe = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert probe, "the probe script did not run"
    lines = probe.group(1).split("\n")
    figures = [line.split() for line in lines if line.startswith("figure ")]
    assert sorted(f[1] for f in figures) == sorted(EXPECTED_PLOTS)
    boxes = []
    for _, name, complete, natural, *edges in figures:
        left, top, right, bottom = map(float, edges)
        assert complete == "true" and int(natural) > 0, name
        assert right - left == pytest.approx(int(natural) / 2, abs=3), name  # + border
        assert left >= 0 and right <= PAGE_WIDTH and bottom - top > 100, name
        boxes.append((left, top, right, bottom))
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1)
    assert [line for line in lines if line.startswith("overlap")] == []


def test_exact_and_undefined_columns_get_no_residual_plots(tmp_path: Path) -> None:
    original = Table({"index": np.arange(50), "m": -np.ones(50), "pt": np.linspace(1, 2, 50)})
    reconstructed = Table(
        {"index": np.arange(50), "m": np.zeros(50), "pt": np.linspace(1, 2, 50) * 1.01}
    )
    metrics = evaluate(original, reconstructed)
    page = write_report(tmp_path / "report", original, reconstructed, metrics)
    pngs = sorted(p.stem for p in (page.parent / "plots").glob("*.png"))
    assert pngs == ["distribution_pt", "profile_vs_pt", "residual_pt"]
    assert "Not plotted, reproduced exactly (1): index." in page.read_text()
    page = write_report(tmp_path / "all", original, reconstructed, metrics, all_plots=True)
    pngs = sorted(p.stem for p in (page.parent / "plots").glob("*.png"))
    assert pngs == [
        "distribution_index", "distribution_m", "distribution_pt", "profile_vs_m",
        "profile_vs_pt", "residual_pt",
    ]  # fmt: skip


def test_a_source_row_identifier_gets_no_distribution_plot(tmp_path: Path) -> None:
    """The ATLAS pickles' jet id (kept as an `index` column) is not a physics variable."""
    meta = {"index_column": "index"}
    original = Table({"index": np.arange(50), "pt": np.linspace(1, 2, 50)}, meta=meta)
    reconstructed = Table({"index": np.arange(50), "pt": np.linspace(1, 2, 50) * 1.01}, meta=meta)
    metrics = evaluate(original, reconstructed)
    page = write_report(tmp_path / "report", original, reconstructed, metrics, all_plots=True)
    pngs = sorted(p.stem for p in (page.parent / "plots").glob("*.png"))
    assert "distribution_index" not in pngs and "distribution_pt" in pngs


def test_vae_report_shows_latent_mean_and_variance(tmp_path: Path) -> None:
    original = jet_table(500)
    torch.manual_seed(0)
    model = TrainedModel(
        build_model({"kind": "vae", "n_inputs": 4, "latent": 2, "encoder": [8]}),
        build_normaliser(COLUMNS, "custom").fit(original.matrix(COLUMNS)),
        UNITS,
    )
    reconstructed = Table(
        {
            c: model.reconstruct(original.matrix(COLUMNS))[:, j].astype(np.float32)
            for j, c in enumerate(COLUMNS)
        },
        units=UNITS,
    )
    metrics = evaluate(original, reconstructed, model=model, measure_costs=False)
    page = write_report(tmp_path / "report", original, reconstructed, metrics, model=model)
    for name in ("vae_latent_mean", "vae_latent_variance"):
        assert (page.parent / "plots" / f"{name}.png").stat().st_size > 1000


def test_residuals_are_computed_once_and_only_for_sections_drawn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A section left out of the figure budget costs no residual pass; a drawn one computes its
    residuals once for all its figures (residual and profile here). The real function runs,
    only counted."""
    computed: list[Table] = []

    def counted(original: Table, *args: object, **kwargs: object) -> np.ndarray:
        computed.append(original)
        return residual_matrix(original, *args, **kwargs)

    monkeypatch.setattr(report_module, "residual_matrix", counted)
    monkeypatch.setattr(report_module, "MAX_FIGURES", 3)  # one section's figures
    sections = []
    for name in ("Jet", "Photon"):
        original = Table({"pt": np.linspace(1, 2, 50)})
        reconstructed = Table({"pt": np.linspace(1, 2, 50) * 1.001})
        sections.append(Section(name, original, reconstructed, evaluate(original, reconstructed)))
    page = write_sections(tmp_path / "report", sections)
    pngs = sorted(p.stem for p in (page.parent / "plots").glob("*.png"))
    assert pngs == ["Jet_distribution_pt", "Jet_profile_vs_pt", "Jet_residual_pt"]
    assert len(computed) == 1 and computed[0] is sections[0].original
    assert "Figures left out to keep the page short (--all-plots draws them): Photon" in (
        page.read_text()
    )
