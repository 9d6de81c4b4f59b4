"""FPGA firmware for online compression: a trained model through hls4ml's PyTorch front end.

Two HLS projects are written, `encoder/` (what runs online: jet in, latent out) and
`autoencoder/` (encoder + decoder, to measure what fixed point costs), each in the network's
normalised space; the fitted transforms stay outside the firmware (they are per-column affine or
log maps, done before the network). hls4ml's bit-accurate C simulation is compiled with g++ and
run on real jets, and the residual against PyTorch is reported in normalised and physical units.
Resource use needs the vendor's HLS tools (Vivado / Vitis); hls4ml estimates nothing without
them, so only the multiplier count per inference is given here.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from jetzip.errors import OptionError
from jetzip.fileutil import atomic_output
from jetzip.models.quality import residual_rms, rms_between
from jetzip.models.trained import TrainedModel, single_thread

DEFAULT_PRECISION = "ap_fixed<16,6>"
#: Entries of each tanh / sigmoid lookup table (hls4ml's default, 1024, over inputs in [-8, 8)
#: is a step of 1/64, which dominated the fixed-point error of AE_3D_200: 0.29 vs 0.034 max
#: output difference at 4096 entries on ATLAS jets). Tables cost block RAM, not logic.
DEFAULT_TABLE_SIZE = 8192
#: Fractional resolution of those tables: their values lie in [-1, 1], so 2 integer bits.
_TABLE_PRECISION = "ap_fixed<24,2>"
_BOUNDED = (nn.Tanh, nn.Sigmoid)


@dataclass
class HlsExport:
    """What `export_hls4ml` measured."""

    out_dir: Path
    precision: str
    table_size: int
    multipliers: dict[str, int]  # per project: multiplications per inference
    n_jets: int = 0
    latent_max_abs: float = 0.0  # |fixed - float| of the encoder's latent, normalised space
    output_max_abs: float = 0.0  # the same for the autoencoder's output
    output_rms: list[float] = field(default_factory=list)  # per column, normalised space
    physical_rms: dict[str, dict[str, float]] = field(default_factory=dict)  # fixed vs float


def _plain(modules: list[nn.Module]) -> nn.Sequential:
    """A Sequential hls4ml can trace: dropout and identity (inactive in eval mode) left out."""
    kept = [m for m in modules if not isinstance(m, nn.Dropout | nn.Identity)]
    return nn.Sequential(*kept).eval()


def network_parts(model: TrainedModel) -> dict[str, nn.Sequential]:
    """The encoder and the whole autoencoder as plain Sequentials of the model's own layers."""
    if model.spec["kind"] != "ae":
        raise OptionError("--hls4ml exports plain autoencoders; a VAE's sampling has no firmware")
    net = model.network
    encoder = [*net.encoder_body, net.to_latent, net.latent_activation]
    return {
        "encoder": _plain(encoder),
        "autoencoder": _plain([*encoder, *net.decoder_body, net.to_output]),
    }


def multipliers(network: nn.Sequential) -> int:
    """Multiplications per inference: one per weight of every linear layer."""
    return sum(m.weight.numel() for m in network if isinstance(m, nn.Linear))


def _hls4ml() -> Any:
    try:
        import hls4ml
    except ImportError as exc:
        raise OptionError(
            f"--hls4ml needs the hls4ml package ({exc.name} is missing): pip install 'jetzip[fpga]'"
        ) from None
    if shutil.which("g++") is None:
        raise OptionError("--hls4ml compiles hls4ml's C simulation with g++, which is not on PATH")
    return hls4ml


def _build(
    hls4ml: Any, parts: dict[str, nn.Sequential], width: int, result: HlsExport, out: Path
) -> dict[str, Any]:
    """hls4ml's conversion of every part, then their C-simulation builds, the g++ runs side by
    side; hls4ml's chatter (topology, layer list) is kept off stdout and shown only on failure."""
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log):
            models = {
                name: _convert(hls4ml, net, width, result, out / name)
                for name, net in parts.items()
            }
            with ThreadPoolExecutor(len(models)) as pool:
                list(pool.map(lambda hls_model: hls_model.compile(), models.values()))
            return models
    except Exception:
        sys.stderr.write(log.getvalue())
        raise


def _convert(hls4ml: Any, network: nn.Sequential, width: int, result: HlsExport, out: Path) -> Any:
    config = hls4ml.utils.config_from_pytorch_model(
        network,
        input_shape=(width,),
        granularity="name",
        default_precision=result.precision,
        backend="Vivado",
    )
    # hls4ml names the layers of a Sequential "_<index>"
    for name, layer in config["LayerName"].items():
        index = name.lstrip("_")
        if index.isdigit() and isinstance(network[int(index)], _BOUNDED):
            layer["TableSize"] = result.table_size
            layer["Precision"]["table"] = _TABLE_PRECISION
    return hls4ml.converters.convert_from_pytorch_model(
        network, hls_config=config, output_dir=str(out), backend="Vivado", io_type="io_parallel"
    )


def export_hls4ml(
    model: TrainedModel,
    out_dir: str | os.PathLike[str],
    *,
    precision: str = DEFAULT_PRECISION,
    table_size: int = DEFAULT_TABLE_SIZE,
    jets: np.ndarray | None = None,
) -> HlsExport:
    """Write the HLS projects to `out_dir` (replaced atomically), compile their C simulation
    and, with `jets` ((n, k) physical rows in `model.columns` order), compare with PyTorch."""
    precision = precision.replace(" ", "")
    if not re.fullmatch(r"ap_u?fixed<\d+,-?\d+(,\w+)*>", precision):
        raise OptionError(f"precision must be an ap_fixed<W,I> type, got {precision!r}")
    if table_size < 64 or table_size & (table_size - 1):
        raise OptionError(f"the table size must be a power of two >= 64, got {table_size}")
    hls4ml = _hls4ml()
    parts = network_parts(model)
    result = HlsExport(
        Path(out_dir),
        precision,
        table_size,
        {name: multipliers(net) for name, net in parts.items()},
    )
    with atomic_output(Path(out_dir), directory=True) as tmp:
        compiled = _build(hls4ml, parts, len(model.columns), result, tmp)
        if jets is not None:
            _compare(model, parts, compiled, jets, result)
    return result


def _compare(
    model: TrainedModel,
    parts: dict[str, nn.Sequential],
    compiled: dict[str, Any],
    jets: np.ndarray,
    result: HlsExport,
) -> None:
    scaled = np.ascontiguousarray(model.normaliser.transform(jets), dtype=np.float32)
    with torch.no_grad(), single_thread():
        reference = {n: net(torch.from_numpy(scaled)).numpy() for n, net in parts.items()}
    fixed = {n: np.asarray(h.predict(scaled), dtype=np.float32) for n, h in compiled.items()}
    fixed = {n: v.reshape(reference[n].shape) for n, v in fixed.items()}
    result.n_jets = len(jets)
    result.latent_max_abs = float(np.abs(fixed["encoder"] - reference["encoder"]).max())
    diff = fixed["autoencoder"] - reference["autoencoder"]
    result.output_max_abs = float(np.abs(diff).max())
    result.output_rms = [float(v) for v in np.sqrt(np.mean(diff.astype(np.float64) ** 2, axis=0))]
    # in physical units: the fixed-point output against the float one, and each against the jets
    float_out = model.normaliser.inverse(reference["autoencoder"].astype(np.float64))
    fixed_out = model.normaliser.inverse(fixed["autoencoder"].astype(np.float64))
    result.physical_rms = {
        "fixed_vs_float": rms_between(model.columns, float_out, fixed_out),
        "float_vs_jets": residual_rms(model, jets),
        "fixed_vs_jets": rms_between(model.columns, jets, fixed_out),
    }
