"""`TrainedModel`: a fitted normaliser plus network, in physical units, as one byte string.

This is what other parts of jetzip use: the codec embeds `to_bytes()` in .jz files and uses
`decode` as its prediction, so `decode` must give bit-identical output on every run. It runs the
network on one thread, in eval mode, in float32, and the bytes are a fixed layout (JSON header +
raw little-endian tensors) rather than a pickle, so the same weights always hash the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jetzip.errors import CorruptFileError, InputError, OptionError
from jetzip.models.network import AutoEncoder, build_model
from jetzip.transforms import Normaliser
from jetzip.validate import load_json

MAGIC = b"JZMODEL\x01"
#: File in MODEL_DIR that holds `TrainedModel.to_bytes()`.
MODEL_FILE = "model.jzm"


#: Fewest rows a decode call runs through the network: smaller batches are padded with zeros
#: up to this, because torch's CPU matrix product takes other kernels (other summation orders)
#: for a handful of rows, so a 1- or 4-row tail decoded ~1e-3 apart from the same rows in a
#: larger batch. From 16 rows on, every row's output is the same whatever the batch.
MIN_DECODE_ROWS = 16

#: Held while torch runs on one thread: the thread setting is process-wide, so two threads
#: (say, two chunks coded at once) must not change it under each other's feet.
_SINGLE_THREAD = threading.RLock()


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, so reductions happen in one fixed order; one
    such block at a time in the process."""
    with _SINGLE_THREAD:
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(previous)


def _network_within(spec: Mapping[str, Any], n_bytes: int) -> AutoEncoder:
    """The network for `spec`, built only when its parameters fit in the `n_bytes` that hold
    their values: the spec is sized on torch's meta device first, which allocates nothing, so
    a hostile spec (20000 x 20000 layers in a small file) costs no memory."""
    with torch.device("meta"):
        n_parameters = sum(p.numel() for p in build_model(spec).parameters())
    if n_parameters > n_bytes:
        raise CorruptFileError(
            f"damaged jetzip model: its spec needs {n_parameters:,} parameters, its bytes hold "
            f"{n_bytes:,}"
        )
    return build_model(spec)


class TrainedModel:
    """A trained autoencoder that encodes and decodes tables' columns in physical units."""

    def __init__(
        self,
        network: AutoEncoder,
        normaliser: Normaliser,
        units: Mapping[str, str] | None = None,
    ) -> None:
        if normaliser.columns and len(normaliser.columns) != network.spec["n_inputs"]:
            raise ValueError("normaliser columns and network input width differ")
        self.network = network.cpu().float().eval()
        self.normaliser = normaliser
        self.columns: list[str] = normaliser.columns
        self.units: dict[str, str] = {
            c: str(u) for c, u in (units or {}).items() if c in self.columns
        }

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.network.spec)

    @property
    def latent_dim(self) -> int:
        return int(self.network.spec["latent"])

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.network.parameters())

    def _check_width(self, array: np.ndarray, width: int, what: str) -> np.ndarray:
        array = np.asarray(array)
        if array.ndim != 2 or array.shape[1] != width:
            raise InputError(f"{what} must have shape (n, {width}), got {array.shape}")
        return array

    def encode(self, x: np.ndarray) -> np.ndarray:
        """(n, k) float64 physical values in `columns` order -> (n, latent_dim) float32."""
        x = self._check_width(x, len(self.columns), "encode input")
        scaled = self.normaliser.transform(x).astype(np.float32)
        with torch.no_grad(), single_thread():
            return self.network.encode(torch.from_numpy(scaled)).numpy()

    def encode_distribution(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For a VAE: the latent mean and log-variance, each (n, latent_dim) float32."""
        if self.spec["kind"] != "vae":
            raise InputError("only a VAE model has a latent distribution")
        x = self._check_width(x, len(self.columns), "encode input")
        scaled = self.normaliser.transform(x).astype(np.float32)
        with torch.no_grad(), single_thread():
            mean, log_variance = self.network.encode_distribution(torch.from_numpy(scaled))
        return mean.numpy(), log_variance.numpy()

    def decode(self, z: np.ndarray) -> np.ndarray:
        """(n, latent_dim) float32 -> (n, k) float64 physical values; bit-reproducible."""
        z = self._check_width(z, self.latent_dim, "decode input").astype(np.float32, copy=False)
        n_rows = len(z)
        if 0 < n_rows < MIN_DECODE_ROWS:
            z = np.concatenate([z, np.zeros((MIN_DECODE_ROWS - n_rows, z.shape[1]), np.float32)])
        with torch.no_grad(), single_thread():
            scaled = self.network.decode(torch.from_numpy(np.ascontiguousarray(z))).numpy()
        scaled = scaled[:n_rows]
        return self.normaliser.inverse(scaled.astype(np.float64))

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """decode(encode(x)): what latent-only storage would give back."""
        return self.decode(self.encode(x))

    # ------------------------------------------------------------------ bytes
    def to_bytes(self) -> bytes:
        """Spec, fitted transforms, columns, units and weights; no training history."""
        tensors, blobs, offset = [], [], 0
        for name, tensor in self.network.state_dict().items():
            array = np.ascontiguousarray(tensor.detach().cpu().numpy())
            array = array.astype(array.dtype.newbyteorder("<"), copy=False)
            blob = array.tobytes()
            tensors.append(
                {
                    "name": name,
                    "dtype": array.dtype.str,
                    "shape": list(array.shape),
                    "offset": offset,
                }
            )
            blobs.append(blob)
            offset += len(blob)
        header = {
            "spec": self.network.spec,
            "columns": self.columns,
            "units": self.units,
            # a list of pairs, because the header is written with sorted keys
            "transforms": list(self.normaliser.to_json_dict().items()),
            "tensors": tensors,
        }
        header_bytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        return MAGIC + struct.pack("<Q", len(header_bytes)) + header_bytes + b"".join(blobs)

    @classmethod
    def from_bytes(cls, data: bytes) -> TrainedModel:
        """Rebuild a model from `to_bytes()` output; CorruptFileError when it is damaged."""
        data = bytes(data)
        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 8:
            raise CorruptFileError("not a jetzip model (bad magic bytes)")
        (header_len,) = struct.unpack_from("<Q", data, len(MAGIC))
        start = len(MAGIC) + 8
        try:
            header = load_json(data[start : start + header_len], "the model's header")
            body = memoryview(data)[start + header_len :]
            network = _network_within(header["spec"], len(body))
            state = {}
            for t in header["tensors"]:
                dtype = np.dtype(t["dtype"])
                count = int(np.prod(t["shape"], dtype=np.int64))
                array = np.frombuffer(body, dtype=dtype, count=count, offset=t["offset"])
                state[t["name"]] = torch.from_numpy(
                    array.reshape(t["shape"]).astype(dtype.newbyteorder("="))
                )
            network.load_state_dict(state)
            normaliser = Normaliser.from_json_dict(dict(header["transforms"]))
        except (ValueError, KeyError, TypeError, RuntimeError, OverflowError, OptionError) as exc:
            raise CorruptFileError(f"damaged jetzip model: {exc}") from exc
        if normaliser.columns != header["columns"]:
            raise CorruptFileError("damaged jetzip model: columns and transforms disagree")
        return cls(network, normaliser, header["units"])

    def content_hash(self) -> str:
        """sha256 hex digest of `to_bytes()`: identifies the exact model a file needs."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    # ------------------------------------------------------------------ directories
    @classmethod
    def load(cls, model_dir: str | os.PathLike[str]) -> TrainedModel:
        """Load MODEL_DIR (as written by `jetzip train`)."""
        path = Path(model_dir) / MODEL_FILE
        if not path.is_file():
            raise InputError(f"{model_dir} is not a jetzip model directory (no {MODEL_FILE})")
        return cls.from_bytes(path.read_bytes())
