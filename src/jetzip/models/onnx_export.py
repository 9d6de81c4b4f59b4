"""A trained model as one ONNX file, and a runner that uses it through ONNX Runtime.

The graph holds the network only (inputs and outputs in network space): its two inputs are
`inputs` (n, k) -> output `latent_of_inputs` (n, latent_dim) and `latent` (n, latent_dim) ->
output `decoded` (n, k); feed a zero-row array to the half you do not need. The fitted
transforms, columns, units and the model's content hash are stored as metadata, so
`OnnxModel` gives `encode`/`decode` in physical units like `TrainedModel`.

ONNX Runtime is about twice as fast as PyTorch on these small MLPs, but its results differ from
PyTorch's in the last bits, so it must not stand in for `TrainedModel.decode` where the codec
needs bit-identical predictions (bounded mode); it suits latent-only use and deployment.
`onnx_engine` builds the same graph in memory for the codec's `engine="onnx"` (latent mode).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from jetzip.errors import InputError
from jetzip.fileutil import atomic_output, default_cache_dir
from jetzip.models.network import AutoEncoder
from jetzip.models.trained import TrainedModel, single_thread
from jetzip.transforms import Normaliser

if TYPE_CHECKING:
    import onnx
    import onnxruntime

#: Metadata keys written into the ONNX file.
META_COLUMNS = "jetzip.columns"
META_UNITS = "jetzip.units"
META_TRANSFORMS = "jetzip.transforms"
META_SHA256 = "jetzip.model_sha256"
INPUT_NAMES = ["inputs", "latent"]
OUTPUT_NAMES = ["latent_of_inputs", "decoded"]
OPSET = 17


class _EncodeAndDecode(torch.nn.Module):
    """Both directions of the autoencoder as one exportable module."""

    def __init__(self, network: AutoEncoder) -> None:
        super().__init__()
        self.network = network

    def forward(self, inputs: torch.Tensor, latent: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.network.encode(inputs), self.network.decode(latent)


def onnx_graph(model: TrainedModel) -> onnx.ModelProto:
    """The model's network as a checked ONNX graph, with its transforms as metadata."""
    import onnx

    n_inputs, latent_dim = len(model.columns), model.latent_dim
    example = (torch.zeros(2, n_inputs), torch.zeros(2, latent_dim))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        torch.onnx.export(
            _EncodeAndDecode(model.network).eval(),
            example,
            buffer,
            input_names=INPUT_NAMES,
            output_names=OUTPUT_NAMES,
            dynamic_axes={
                "inputs": {0: "rows"},
                "latent_of_inputs": {0: "rows"},
                "latent": {0: "latent_rows"},
                "decoded": {0: "latent_rows"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    graph = onnx.load_from_string(buffer.getvalue())
    metadata = {
        META_COLUMNS: json.dumps(model.columns),
        META_UNITS: json.dumps(model.units),
        META_TRANSFORMS: json.dumps(model.normaliser.to_json_dict()),
        META_SHA256: model.content_hash(),
    }
    onnx.helper.set_model_props(graph, metadata)
    onnx.checker.check_model(graph)
    return graph


def export_onnx(model: TrainedModel, path: str | os.PathLike[str]) -> None:
    """Write `model` as an ONNX file (atomically), with its transforms as metadata."""
    graph = onnx_graph(model)
    with atomic_output(path) as tmp:
        tmp.write_bytes(graph.SerializeToString())


def _session(graph: str | bytes, threads: int) -> onnxruntime.InferenceSession:
    """A CPU session on `threads` intra-op threads for a graph file path or serialised graph."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


class _OnnxRunner:
    """encode/decode in physical units through an ONNX Runtime session of the jetzip graph."""

    session: onnxruntime.InferenceSession
    columns: list[str]
    normaliser: Normaliser
    latent_dim: int

    def encode(self, x: np.ndarray) -> np.ndarray:
        """(n, k) float64 physical values in `columns` order -> (n, latent_dim) float32."""
        scaled = self.normaliser.transform(x).astype(np.float32)
        empty = np.zeros((0, self.latent_dim), dtype=np.float32)
        return self.session.run(["latent_of_inputs"], {"inputs": scaled, "latent": empty})[0]

    def decode(self, z: np.ndarray) -> np.ndarray:
        """(n, latent_dim) float32 -> (n, k) float64 physical values."""
        empty = np.zeros((0, len(self.columns)), dtype=np.float32)
        latent = np.ascontiguousarray(z, dtype=np.float32)
        scaled = self.session.run(["decoded"], {"inputs": empty, "latent": latent})[0]
        return self.normaliser.inverse(scaled.astype(np.float64))


class OnnxModel(_OnnxRunner):
    """An exported model run by ONNX Runtime: `encode`/`decode` in physical units."""

    def __init__(self, path: str | os.PathLike[str], threads: int = 1) -> None:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"no such ONNX file: {path}")
        try:
            self.session = _session(str(path), threads)
            meta = self.session.get_modelmeta().custom_metadata_map
            self.columns = json.loads(meta[META_COLUMNS])
            self.units: dict[str, str] = json.loads(meta[META_UNITS])
            self.normaliser = Normaliser.from_json_dict(json.loads(meta[META_TRANSFORMS]))
            self.model_sha256: str = meta[META_SHA256]
        except (KeyError, ValueError, RuntimeError) as exc:
            raise InputError(f"{path} is not an ONNX file exported by jetzip: {exc}") from None
        self.latent_dim = int(self.session.get_inputs()[1].shape[1])


class OnnxEngine(_OnnxRunner):
    """A TrainedModel whose network runs in ONNX Runtime, built in memory (no file).

    The codec's `--engine onnx`: faster than PyTorch, but not bit-identical to it, so
    everything that identifies the model (bytes, hash, spec) stays the TrainedModel's."""

    #: ONNX Runtime sessions may run several batches at once (the codec's threads do).
    thread_safe = True

    def __init__(self, model: TrainedModel, threads: int = 1) -> None:
        self.trained = model
        self.columns = model.columns
        self.units = model.units
        self.normaliser = model.normaliser
        self.latent_dim = model.latent_dim
        self._threads = threads
        self._session: onnxruntime.InferenceSession | None = None
        self._building = threading.Lock()

    @property
    def session(self) -> onnxruntime.InferenceSession:
        """Built on first use, so decoding a file none of whose chunks needs the network does
        not pay for exporting the graph."""
        with self._building:
            if self._session is None:
                self._session = _cached_session(self.trained, self._threads)
        return self._session

    @property
    def spec(self) -> dict[str, Any]:
        return self.trained.spec

    @property
    def n_parameters(self) -> int:
        return self.trained.n_parameters

    def to_bytes(self) -> bytes:
        return self.trained.to_bytes()

    def content_hash(self) -> str:
        return self.trained.content_hash()


def graph_cache_path(model: TrainedModel) -> Path:
    """Where the exported graph of `model` is cached: keyed by the model's content and what
    the export depends on (jetzip, torch, the opset)."""
    from jetzip import __version__

    key = f"{model.content_hash()} {__version__} {torch.__version__} {OPSET}"
    name = hashlib.sha256(key.encode()).hexdigest()[:32]
    return default_cache_dir() / "onnx" / f"{name}.onnx"


def _cached_session(model: TrainedModel, threads: int) -> onnxruntime.InferenceSession:
    """A session of the model's graph, exported once per model and machine: the export takes
    ~150 ms for AE_3D_200, a tenth of compressing 500 k jets with ONNX Runtime. A cache entry
    that cannot be read or loaded is exported again; an unwritable cache only costs the export
    next time."""
    path = graph_cache_path(model)
    try:
        return _session(path.read_bytes(), threads)
    except Exception:  # absent, unreadable or damaged entry (ONNX Runtime raises its own types)
        graph = onnx_graph(model).SerializeToString()
    try:
        with atomic_output(path) as tmp:
            tmp.write_bytes(graph)
    except OSError:
        pass
    return _session(graph, threads)


#: Engines built in this process, by (model hash, threads).
_ENGINES: dict[tuple[str, int], OnnxEngine] = {}
_MAX_CACHED_ENGINES = 4


def onnx_engine(model: TrainedModel, threads: int = 1) -> OnnxEngine:
    """The ONNX Runtime engine for `model`, built once per process and reused."""
    key = (model.content_hash(), threads)
    if key not in _ENGINES:
        if len(_ENGINES) >= _MAX_CACHED_ENGINES:
            _ENGINES.pop(next(iter(_ENGINES)))
        _ENGINES[key] = OnnxEngine(model, threads)
    return _ENGINES[key]


def largest_network_difference(model: TrainedModel, exported: OnnxModel, rows: int = 4096) -> float:
    """Largest |ONNX - PyTorch| of the network outputs (network space) on seeded random input,
    both directions: the check `jetzip export` reports."""
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(rows, len(model.columns))).astype(np.float32)
    latent = rng.normal(size=(rows, model.latent_dim)).astype(np.float32)
    with torch.no_grad(), single_thread():
        ref_latent = model.network.encode(torch.from_numpy(inputs)).numpy()
        ref_decoded = model.network.decode(torch.from_numpy(latent)).numpy()
    got_latent, got_decoded = exported.session.run(
        OUTPUT_NAMES, {"inputs": inputs, "latent": latent}
    )
    return float(
        max(np.abs(got_latent - ref_latent).max(), np.abs(got_decoded - ref_decoded).max())
    )
