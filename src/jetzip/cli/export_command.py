"""`jetzip export MODEL_DIR --onnx OUT.onnx` (ONNX Runtime) and `--hls4ml DIR` (FPGA firmware
through hls4ml, with its bit-accurate C simulation checked on real jets)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from jetzip.cli.registry import arg, command
from jetzip.errors import OptionError

if TYPE_CHECKING:
    from jetzip.models import TrainedModel

#: Jets of --jets run through the C simulation by default (AE_3D_200: ~300 jets/s here).
DEFAULT_MAX_JETS = 5000


@command(
    "export",
    "Export a trained model as ONNX and/or an hls4ml FPGA project (each checked against PyTorch).",
    arg("model_dir", metavar="MODEL_DIR", help="trained model directory (from `jetzip train`)"),
    arg("--onnx", metavar="OUT.onnx", help="ONNX file to write"),
    arg(
        "--hls4ml",
        metavar="DIR",
        help="hls4ml project directory to write (encoder/ and autoencoder/, Vivado backend); "
        "needs hls4ml and g++",
    ),
    arg(
        "--precision",
        default=None,
        help="hls4ml fixed-point type of weights and activations (default ap_fixed<16,6>: 16 "
        "bits, 6 of them integer)",
    ),
    arg(
        "--table-size",
        type=int,
        default=None,
        help="entries of each tanh/sigmoid lookup table, a power of two >= 64 (default 8192; "
        "hls4ml's own 1024 costs several per cent of pt on AE_3D_200)",
    ),
    arg("--jets", metavar="DATA", help="real jets to compare the fixed-point model with PyTorch"),
    arg(
        "--max-jets",
        type=int,
        default=DEFAULT_MAX_JETS,
        help="first jets of --jets to compare",
    ),
)
def export(args: argparse.Namespace) -> int:
    """--onnx writes the network (both directions) as ONNX, with the fitted transforms,
    columns, units and the model's sha256 as metadata, then runs it with ONNX Runtime on seeded
    random input and reports the largest difference from PyTorch. ONNX Runtime is not
    bit-identical to PyTorch, so files compressed in bounded mode are always decoded with
    PyTorch. --hls4ml converts the encoder and the whole autoencoder (normalised space) with
    hls4ml's PyTorch front end, compiles the C simulation with g++, and with --jets reports the
    fixed-point residual against PyTorch."""
    from jetzip.models import TrainedModel

    if args.onnx is None and args.hls4ml is None:
        raise OptionError("give --onnx OUT.onnx and/or --hls4ml DIR")
    given = (args.precision, args.jets, args.table_size)  # (0 or "" is given, and checked)
    if args.hls4ml is None and any(value is not None for value in given):
        raise OptionError("--precision, --table-size and --jets go with --hls4ml")
    model = TrainedModel.load(args.model_dir)
    if args.onnx is not None:
        _export_onnx(model, args.onnx)
    if args.hls4ml is not None:
        _export_hls4ml(model, args)
    return 0


def _export_onnx(model: TrainedModel, path: str) -> None:
    from jetzip.models.onnx_export import OnnxModel, export_onnx, largest_network_difference

    export_onnx(model, path)
    difference = largest_network_difference(model, OnnxModel(path))
    print(
        f"wrote {path}: {model.n_parameters} parameters, columns {', '.join(model.columns)}, "
        f"latent {model.latent_dim}; largest |ONNX Runtime - PyTorch| = {difference:.2e} "
        "(network space)"
    )


def _export_hls4ml(model: TrainedModel, args: argparse.Namespace) -> None:
    from jetzip.models.hls_export import DEFAULT_PRECISION, DEFAULT_TABLE_SIZE, export_hls4ml
    from jetzip.models.quality import format_rms

    jets = None
    if args.jets is not None:
        from jetzip.anomaly import model_matrix
        from jetzip.io import read_table

        if args.max_jets < 1:
            raise OptionError("--max-jets must be at least 1")
        jets = model_matrix(model, read_table(args.jets))[: args.max_jets]
    result = export_hls4ml(
        model,
        args.hls4ml,
        precision=DEFAULT_PRECISION if args.precision is None else args.precision,
        table_size=DEFAULT_TABLE_SIZE if args.table_size is None else args.table_size,
        jets=jets,
    )
    counts = ", ".join(f"{k} {v:,}" for k, v in result.multipliers.items())
    print(
        f"wrote {args.hls4ml}: encoder/ and autoencoder/ ({result.precision}, tables of "
        f"{result.table_size}, io_parallel, "
        f"C simulation compiled); multiplications per inference: {counts}. Resource use needs "
        "Vivado/Vitis HLS (hls4ml estimates none without them)"
    )
    if jets is not None:
        rms = result.physical_rms
        print(
            f"fixed point vs PyTorch on {result.n_jets:,} jets: latent max |diff| "
            f"{result.latent_max_abs:.3g}, output max |diff| {result.output_max_abs:.3g} "
            "(normalised space)\n"
            f"  residual RMS fixed vs float: {format_rms(rms['fixed_vs_float'])}\n"
            f"  residual RMS float vs jets:  {format_rms(rms['float_vs_jets'])}\n"
            f"  residual RMS fixed vs jets:  {format_rms(rms['fixed_vs_jets'])}"
        )
