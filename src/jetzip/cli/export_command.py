"""`jetzip export MODEL_DIR --onnx OUT.onnx`: a trained model for ONNX Runtime."""

from __future__ import annotations

import argparse

from jetzip.cli.registry import arg, command


@command(
    "export",
    "Export a trained model as an ONNX file (checked against PyTorch).",
    arg("model_dir", metavar="MODEL_DIR", help="trained model directory (from `jetzip train`)"),
    arg("--onnx", required=True, metavar="OUT.onnx", help="ONNX file to write"),
)
def export(args: argparse.Namespace) -> int:
    """Write the network (both directions) as ONNX, with the fitted transforms, columns, units
    and the model's sha256 as metadata, then run it with ONNX Runtime on seeded random input and
    report the largest difference from PyTorch. ONNX Runtime is not bit-identical to PyTorch, so
    files compressed in bounded mode are always decoded with PyTorch."""
    from jetzip.models import TrainedModel
    from jetzip.models.onnx_export import OnnxModel, export_onnx, largest_network_difference

    model = TrainedModel.load(args.model_dir)
    export_onnx(model, args.onnx)
    difference = largest_network_difference(model, OnnxModel(args.onnx))
    print(
        f"wrote {args.onnx}: {model.n_parameters} parameters, columns {', '.join(model.columns)}, "
        f"latent {model.latent_dim}; largest |ONNX Runtime - PyTorch| = {difference:.2e} "
        "(network space)"
    )
    return 0
