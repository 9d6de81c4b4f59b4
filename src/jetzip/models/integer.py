"""Integer (fixed-point) inference of small MLPs, bit-identical on every machine.

A decoder that must reproduce an encoder's numbers exactly cannot run a float network: BLAS
kernels, SIMD widths, thread counts and library builds change the last bits of a float sum
(Balle et al. 2019, "Integer networks for data compression with latent-variable models"). Here
every weight, bias and activation is an integer with a fixed number of fraction bits:

    layer output = clip(floor((W x + b) / 2**shift), -limit, limit)

The products and sums are carried in float64 so that the matrix product runs in BLAS, and they
are exact: construction proves that every partial sum of every row is an integer below 2**53
for any input (inputs are clipped to their limit first), and float64 holds such integers and
their sums exactly whatever the summation order, blocking or FMA use. The floor division by a
power of two and the clip are exact too. So the output is a pure function of the integer input.

Activations are integer-only: `relu`, `identity`, or a lookup table (`LookupActivation`, e.g.
tanh or sigmoid tabulated once when the float network is converted, stored as integers).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

#: Every partial sum stays below this, so float64 holds it exactly.
EXACT_LIMIT = 2**53
#: Rows per pass through the layers: the activations of a block stay in the CPU cache.
BLOCK_ROWS = 2048
_BLAS: ThreadpoolController | None = None


def _one_blas_thread() -> Any:
    """A context in which BLAS runs on one thread. The callers (the codec's column threads)
    are already parallel, and on a busy 2-core machine OpenBLAS's own pool made a 100 k-row
    network pass ~3x slower. Results never depend on it (the sums are exact)."""
    global _BLAS
    if _BLAS is None:
        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


@dataclass(frozen=True)
class LookupActivation:
    """f tabulated on integer inputs: entry i covers the inputs [lo + i * 2**step_shift,
    lo + (i + 1) * 2**step_shift) and holds f at their centre, in fixed point; inputs beyond
    the table take its end values. Built once from a float f (`tabulate`), then only read."""

    lo: int
    step_shift: int
    values: np.ndarray  # int64

    def __call__(self, x: np.ndarray) -> np.ndarray:
        index = np.floor((x - self.lo) * 2.0**-self.step_shift)
        np.clip(index, 0, self.values.size - 1, out=index)
        return self.values[index.astype(np.int64)].astype(np.float64)

    @classmethod
    def tabulate(
        cls,
        function: Callable[[np.ndarray], np.ndarray],
        fraction_bits: int,
        lo: float,
        hi: float,
        step_shift: int = 0,
    ) -> LookupActivation:
        """Table of `function` (a float function, evaluated once here) for fixed-point inputs
        and outputs with `fraction_bits` fraction bits over [lo, hi)."""
        scale = 2.0**fraction_bits
        start = int(np.floor(lo * scale))
        n = int(np.ceil((hi * scale - start) / 2**step_shift))
        centres = (start + (np.arange(n) + 0.5) * 2**step_shift) / scale
        return cls(start, step_shift, np.rint(function(centres) * scale).astype(np.int64))


Activation = str | LookupActivation


@dataclass(frozen=True)
class IntegerLinear:
    """One fixed-point layer: floor((W x + b) / 2**shift), clipped to +-limit, then activated.

    `weight` (out, in) and `bias` (out,) are int64; with inputs of `a` fraction bits and weights
    of `w`, the bias has a + w fraction bits and the output a + w - shift."""

    weight: np.ndarray
    bias: np.ndarray
    shift: int
    limit: int
    activation: Activation = "relu"

    def __post_init__(self) -> None:
        if self.weight.ndim != 2 or self.bias.shape != (self.weight.shape[0],):
            raise ValueError("an integer layer needs weight (out, in) and bias (out,)")
        if self.shift < 0 or self.limit < 1:
            raise ValueError("an integer layer needs shift >= 0 and limit >= 1")
        if isinstance(self.activation, str) and self.activation not in ("relu", "identity"):
            raise ValueError(f"unknown integer activation {self.activation!r}")

    def largest_sum(self, input_limit: int) -> int:
        """The largest |partial sum| any input within +-input_limit can produce (exact)."""
        rows = np.abs(self.weight).astype(object).sum(axis=1)
        return max(int(r) * input_limit + abs(int(b)) for r, b in zip(rows, self.bias, strict=True))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The layer on float64 integers x (n, in): one BLAS product and three in-place passes.

        The weights and bias are pre-scaled by 2**-shift: a power-of-two scaling of integers
        whose every partial sum is below 2**53 keeps each partial sum exact (same significand),
        so the floor is floor((W x + b) / 2**shift) bit for bit, and ReLU is folded into the
        clip's lower end."""
        weight, bias = self.scaled
        total = x @ weight
        total += bias
        return self._activated(total)

    def with_ones_column(self, x: np.ndarray) -> np.ndarray:
        """The layer on inputs (n, in + 1) whose last column is all ones: the bias is one more
        row of the product, an exact term like the others (`largest_sum` counts it), which
        saves a pass over the output."""
        return self._activated(x @ self._augmented)

    def _activated(self, total: np.ndarray) -> np.ndarray:
        """floor, clip and activation of the pre-scaled sums, in place."""
        np.floor(total, out=total)
        if isinstance(self.activation, LookupActivation):
            np.clip(total, -self.limit, self.limit, out=total)
            return self.activation(total)
        low = 0.0 if self.activation == "relu" else -float(self.limit)
        np.clip(total, low, float(self.limit), out=total)
        return total

    @functools.cached_property
    def scaled(self) -> tuple[np.ndarray, np.ndarray]:
        """W.T and b times 2**-shift in float64 (exact: powers of two), built once; what the
        entropy model's compiled kernel (`jetzip.entropy._condkernel`) multiplies with too."""
        scale = 2.0**-self.shift
        weight = np.ascontiguousarray(self.weight.T.astype(np.float64) * scale)
        return weight, self.bias.astype(np.float64) * scale

    @functools.cached_property
    def _augmented(self) -> np.ndarray:
        """The pre-scaled W.T with the pre-scaled bias as its last row."""
        weight, bias = self.scaled
        return np.ascontiguousarray(np.vstack([weight, bias]))


class IntegerMLP:
    """A stack of `IntegerLinear` layers on integer inputs clipped to +-`input_limit`."""

    def __init__(self, layers: Sequence[IntegerLinear], input_limit: int) -> None:
        self.layers = list(layers)
        self.input_limit = int(input_limit)
        if not self.layers:
            raise ValueError("an integer network needs at least one layer")
        bound = self.input_limit
        for i, layer in enumerate(self.layers):
            if layer.largest_sum(bound) >= EXACT_LIMIT:
                raise ValueError(
                    f"integer layer {i} could reach sums of 2**53 or more: use fewer fraction "
                    "bits or smaller limits"
                )
            bound = _output_bound(layer)

    @property
    def n_inputs(self) -> int:
        return int(self.layers[0].weight.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.layers[-1].weight.shape[0])

    @property
    def n_parameters(self) -> int:
        return sum(layer.weight.size + layer.bias.size for layer in self.layers)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Integer outputs (int64, shape (n, n_outputs)) for integer inputs (n, n_inputs)."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"expected integer inputs of shape (n, {self.n_inputs})")
        out = np.empty((x.shape[0], self.n_outputs), dtype=np.int64)
        # a ones column carries the bias; column-major, as BLAS takes tall blocks fastest
        inputs = np.empty((self.n_inputs + 1, x.shape[0])).T
        np.clip(x, -self.input_limit, self.input_limit, out=inputs[:, :-1])
        inputs[:, -1] = 1.0
        first, *rest = self.layers
        with _one_blas_thread():
            for start in range(0, x.shape[0], BLOCK_ROWS):
                values = first.with_ones_column(inputs[start : start + BLOCK_ROWS])
                for layer in rest:
                    values = layer(values)
                out[start : start + BLOCK_ROWS] = values
        return out

    @classmethod
    def from_float(
        cls,
        layers: Sequence[tuple[np.ndarray, np.ndarray]],
        activations: Sequence[Activation],
        *,
        input_bits: int,
        weight_bits: int,
        hidden_bits: int,
        output_bits: int,
        input_limit: int,
        hidden_limit: int,
        output_limit: int,
    ) -> IntegerMLP:
        """Round a float MLP ((weight (out, in), bias (out,)) per layer) to fixed point.

        Inputs carry `input_bits` fraction bits, hidden activations `hidden_bits`, the output
        `output_bits`; weights are rounded to `weight_bits`. Limits are in integer units."""
        if len(activations) != len(layers):
            raise ValueError("one activation per layer")
        built = []
        in_bits = input_bits
        for i, ((weight, bias), activation) in enumerate(zip(layers, activations, strict=True)):
            last = i == len(layers) - 1
            out_bits = output_bits if last else hidden_bits
            shift = in_bits + weight_bits - out_bits
            if shift < 0:
                raise ValueError("output fraction bits exceed input plus weight fraction bits")
            w = np.rint(np.asarray(weight, dtype=np.float64) * 2.0**weight_bits)
            b = np.rint(np.asarray(bias, dtype=np.float64) * 2.0 ** (in_bits + weight_bits))
            built.append(
                IntegerLinear(
                    w.astype(np.int64),
                    b.astype(np.int64),
                    shift,
                    output_limit if last else hidden_limit,
                    activation,
                )
            )
            in_bits = out_bits
        return cls(built, input_limit)

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """The network as named integer arrays (for `np.savez`), read back by `from_arrays`."""
        arrays = {f"{prefix}input_limit": np.array(self.input_limit, dtype=np.int64)}
        for i, layer in enumerate(self.layers):
            key = f"{prefix}{i}"
            arrays[f"{key}.weight"] = layer.weight
            arrays[f"{key}.bias"] = layer.bias
            arrays[f"{key}.shape"] = np.array([layer.shift, layer.limit], dtype=np.int64)
            if isinstance(layer.activation, LookupActivation):
                table = layer.activation
                arrays[f"{key}.lut"] = table.values
                arrays[f"{key}.lut_origin"] = np.array([table.lo, table.step_shift], np.int64)
            else:
                arrays[f"{key}.act"] = np.array(layer.activation)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str = "") -> IntegerMLP:
        """Inverse of `to_arrays`; raises KeyError or ValueError on incomplete arrays."""
        layers = []
        i = 0
        while f"{prefix}{i}.weight" in arrays:
            key = f"{prefix}{i}"
            shift, limit = (int(v) for v in arrays[f"{key}.shape"])
            activation: Activation
            if f"{key}.lut" in arrays:
                lo, step_shift = (int(v) for v in arrays[f"{key}.lut_origin"])
                activation = LookupActivation(lo, step_shift, _int64(arrays[f"{key}.lut"]))
            else:
                activation = str(_scalar(arrays[f"{key}.act"]))
            layers.append(
                IntegerLinear(
                    _int64(arrays[f"{key}.weight"]),
                    _int64(arrays[f"{key}.bias"]),
                    shift,
                    limit,
                    activation,
                )
            )
            i += 1
        return cls(layers, int(_scalar(arrays[f"{prefix}input_limit"])))


def _output_bound(layer: IntegerLinear) -> int:
    if isinstance(layer.activation, LookupActivation):
        return int(np.abs(layer.activation.values).max(initial=0))
    return layer.limit


def _scalar(array: np.ndarray) -> object:
    """The one value of a stored scalar (0-d, or 1-d after a round trip through a file)."""
    flat = np.asarray(array).reshape(-1)
    if flat.size != 1:
        raise ValueError("expected a single value")
    return flat[0]


def _int64(array: np.ndarray) -> np.ndarray:
    if array.dtype.kind not in "iu":
        raise ValueError("integer network arrays must hold integers")
    return array.astype(np.int64)
