"""Evaluation: what a compression lost and gained, as numbers (metrics.json), plots and a report.

metrics = evaluate(original, reconstructed, tolerances="pt=0.1%", compressed_path="x.jz")
write_report("report", original, reconstructed, metrics)
"""

from jetzip.evaluate.evaluation import evaluate
from jetzip.evaluate.report import format_summary_table, write_report

__all__ = ["evaluate", "format_summary_table", "write_report"]
