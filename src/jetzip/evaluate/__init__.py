"""Evaluation: what a compression lost and gained, as numbers (metrics.json), plots and a report.

metrics = evaluate(original, reconstructed, tolerances="pt=0.1%", compressed_path="x.jz")
write_report("report", original, reconstructed, metrics)

Names are imported on first use, so that the CLI does not import matplotlib to start.
"""

from jetzip.lazy import lazy_exports

_EXPORTS = {
    "evaluate": "jetzip.evaluate.evaluation",
    "format_summary_table": "jetzip.evaluate.report",
    "write_report": "jetzip.evaluate.report",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
