"""A trained model's decoder in fixed point, for predictions that must be the same on every CPU.

In bounded mode the decoder's output is the prediction each value is coded against, so the
decompressing machine must compute it bit for bit as the compressing one did. PyTorch's float
kernels do not (they differ by ATEN_CPU_CAPABILITY, SIMD width and build). Here the decoder runs
as an `IntegerMLP` (exact integer arithmetic, `jetzip.models.integer`): the float32 latent is
turned into fixed point exactly, batch-norm is folded into the linear layers, tanh and sigmoid
are tables computed once with `exactmath`, and the inverse normalisation uses `exactmath`'s exp
and sinh. Every step is IEEE + - * / or integer work, so the output is a pure function of the
latent and the stored weights. It is a slightly coarser copy of the float decoder (tables of
2**-12 resolution), which only matters for how well it predicts, never for the bound.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jetzip.codec import exactmath
from jetzip.models.integer import IntegerMLP, LookupActivation

#: Fixed-point fraction bits: latent inputs, weights, hidden activations, network outputs.
INPUT_BITS = 16
WEIGHT_BITS = 16
HIDDEN_BITS = 14
OUTPUT_BITS = 24
#: Limits in real units: latent values, pre-activations (tanh/sigmoid saturate well within;
#: relu's are clipped there), network outputs (normalised units).
INPUT_LIMIT = 128.0
HIDDEN_LIMIT = 512.0
OUTPUT_LIMIT = 64.0
#: Identifier of this predictor's arithmetic, recorded in the file (see `jetzip.codec.pipeline`).
PREDICTOR = "integer-1"


def _tanh(x: np.ndarray) -> np.ndarray:
    """tanh from exactmath's exp: (1 - e) / (1 + e) with e = exp(-2|x|), signed."""
    e = exactmath.exp(-2.0 * np.abs(x))
    return np.sign(x) * ((1.0 - e) / (1.0 + e))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + exactmath.exp(-x))


#: Saturating activations as tables over the clipped pre-activation range; relu is exact.
_TABLES = {"tanh": (_tanh, 8.0), "sigmoid": (_sigmoid, 16.0)}


def _layers(module: Any) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """(weight, bias, activation name) per linear layer of a decoder body, batch-norm folded
    in (eval mode: y = (x - mean) / sqrt(var + eps) * gamma + beta), dropout dropped."""
    from torch import nn

    layers: list[tuple[np.ndarray, np.ndarray, str]] = []
    for child in module.children():
        if isinstance(child, nn.Linear):
            weight = child.weight.detach().double().numpy()
            layers.append((weight, child.bias.detach().double().numpy(), "identity"))
        elif isinstance(child, nn.BatchNorm1d):
            weight, bias, _ = layers[-1]
            gamma, beta = (
                child.weight.detach().double().numpy(),
                child.bias.detach().double().numpy(),
            )
            mean = child.running_mean.detach().double().numpy()
            scale = gamma / np.sqrt(child.running_var.detach().double().numpy() + child.eps)
            layers[-1] = (weight * scale[:, None], (bias - mean) * scale + beta, "identity")
        elif isinstance(child, nn.Dropout | nn.Identity):
            continue
        else:
            name = type(child).__name__.lower()
            if not layers or layers[-1][2] != "identity" or name not in ("tanh", "sigmoid", "relu"):
                raise ValueError(f"no integer version of a decoder with {type(child).__name__}")
            layers[-1] = (*layers[-1][:2], name)
    return layers


class IntegerDecoder:
    """The `Model` the codec sees in bounded mode: the float encoder (its latent is stored, so
    it need not be reproducible) and the integer decoder (its output must be)."""

    thread_safe = True  # plain numpy on per-call arrays

    def __init__(self, model: Any) -> None:
        network = model.network
        layers = _layers(network.decoder_body) + _layers(_single(network.to_output))
        activations: list[Any] = []
        for _, _, name in layers:
            if name in _TABLES:
                function, reach = _TABLES[name]
                activations.append(
                    LookupActivation.tabulate(function, HIDDEN_BITS, -reach, reach, step_shift=2)
                )
            else:
                activations.append(name)
        self.network = IntegerMLP.from_float(
            [(w, b) for w, b, _ in layers],
            activations,
            input_bits=INPUT_BITS,
            weight_bits=WEIGHT_BITS,
            hidden_bits=HIDDEN_BITS,
            output_bits=OUTPUT_BITS,
            input_limit=int(INPUT_LIMIT * 2**INPUT_BITS),
            hidden_limit=int(HIDDEN_LIMIT * 2**HIDDEN_BITS),
            output_limit=int(OUTPUT_LIMIT * 2**OUTPUT_BITS),
        )
        self.model = model
        self.columns: list[str] = list(model.columns)
        self.latent_dim = int(model.latent_dim)
        self.chains = [model.normaliser.chains[c] for c in self.columns]

    def encode(self, x: np.ndarray) -> np.ndarray:
        return self.model.encode(x)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """(n, latent_dim) float32 -> (n, k) float64 physical values, the same on every CPU."""
        fixed = np.rint(np.asarray(z, dtype=np.float64) * 2.0**INPUT_BITS)
        fixed = np.where(np.isfinite(fixed), fixed, 0.0).astype(np.int64)
        scaled = self.network(fixed).astype(np.float64) * 2.0**-OUTPUT_BITS
        return np.column_stack(
            [_inverse(chain, scaled[:, j]) for j, chain in enumerate(self.chains)]
        )

    def to_bytes(self) -> bytes:
        return self.model.to_bytes()

    def content_hash(self) -> str:
        return self.model.content_hash()

    def __getattr__(self, name: str) -> Any:  # spec, n_parameters, ...: the float model's
        return getattr(self.model, name)


def _single(linear: Any) -> Any:
    from torch import nn

    return nn.Sequential(linear)


def _inverse(chain: Any, values: np.ndarray) -> np.ndarray:
    """A column's inverse normalisation with exactmath where a step needs exp or sinh (the
    other steps are + - * / already)."""
    with np.errstate(over="ignore", invalid="ignore"):
        for step in reversed(chain.steps):
            if step.kind == "log":
                values = exactmath.exp(values * exactmath.log(np.float64(step.base))) - step.offset
            elif step.kind == "asinh":
                e = exactmath.exp(values)
                values = (0.5 * e - 0.5 / e) * step.scale
            else:
                values = step.inverse(values)
    return values


def integer_decoder(model: Any) -> IntegerDecoder | None:
    """The model with its decoder in fixed point, or None when it has a layer with no integer
    version (softmax, elu, ...) or weights too large for exact integer sums."""
    try:
        return IntegerDecoder(model)
    except ValueError:
        return None


def recorded_decoder(model: Any, predictor: Any) -> IntegerDecoder:
    """The decoder a file's header names for its bounded columns' model predictions."""
    from jetzip.errors import CorruptFileError

    if predictor != PREDICTOR:
        raise CorruptFileError(
            f"unknown model predictor {str(predictor)[:40]!r} (written by a newer jetzip? this "
            f"one knows {PREDICTOR!r})"
        )
    fixed = integer_decoder(model)
    if fixed is None:
        raise CorruptFileError("the file's model has no integer decoder, yet the file uses one")
    return fixed
