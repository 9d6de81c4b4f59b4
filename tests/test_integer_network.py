"""Integer MLP inference: hand-computed outputs, the exactness proof, serialisation, and the
same integers under every numpy SIMD setting and thread count (subprocesses)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from jetzip.models.integer import IntegerLinear, IntegerMLP, LookupActivation

#: numpy SIMD dispatch levels to switch off (this machine's targets; unknown names are ignored)
CPU_SETTINGS = ("", "AVX512_SPR AVX512_ICL X86_V4", "AVX512_SPR AVX512_ICL X86_V4 X86_V3")


def test_layer_matches_hand_computation() -> None:
    layer = IntegerLinear(np.array([[3, -2], [1, 1]]), np.array([5, -40]), shift=2, limit=100)
    out = layer(np.array([[7.0, 4.0]]))
    # (3*7 - 2*4 + 5) / 4 = 4.5 -> 4 ; (7 + 4 - 40) / 4 = -7.25 -> floor -8 -> relu 0
    assert out.tolist() == [[4.0, 0.0]]
    identity = IntegerLinear(layer.weight, layer.bias, 2, 5, "identity")
    assert identity(np.array([[7.0, 4.0]])).tolist() == [[4.0, -5.0]]  # clipped to -5


def test_layer_is_exact_near_the_2_53_bound() -> None:
    """Sums just below 2**53, odd shifts, inputs at their limits: the pre-scaled float64 layer
    equals floor((W x + b) / 2**shift) computed with Python integers."""
    rng = np.random.default_rng(3)
    limit = 2**24
    weight = rng.integers(-(2**22), 2**22, size=(16, 60))
    bias = rng.integers(-(2**40), 2**40, size=16)
    layer = IntegerLinear(weight, bias, shift=13, limit=2**45, activation="identity")
    assert layer.largest_sum(limit) < 2**53
    x = rng.choice([-limit, limit, -limit + 1, limit - 1, 0, 12345], size=(300, 60))
    exact = (x.astype(object) @ weight.T.astype(object) + bias.astype(object)) // 2**13
    expected = np.clip(exact.astype(np.int64), -(2**45), 2**45)
    assert np.array_equal(layer(x.astype(np.float64)).astype(np.int64), expected)


def test_from_float_follows_the_float_network() -> None:
    rng = np.random.default_rng(0)
    w1, b1 = rng.normal(size=(16, 3)), rng.normal(size=16)
    w2, b2 = rng.normal(size=(2, 16)) * 0.3, rng.normal(size=2)
    net = IntegerMLP.from_float(
        [(w1, b1), (w2, b2)],
        ["relu", "identity"],
        input_bits=10,
        weight_bits=12,
        hidden_bits=10,
        output_bits=12,
        input_limit=2**16,
        hidden_limit=2**18,
        output_limit=2**20,
    )
    x = rng.normal(size=(500, 3))
    expected = np.maximum(x @ w1.T + b1, 0) @ w2.T + b2
    got = net(np.rint(x * 2**10).astype(np.int64)) / 2**12
    assert got.dtype == np.float64
    assert np.abs(got - expected).max() < 0.02


def test_unsafe_bit_widths_are_refused() -> None:
    big = IntegerLinear(np.full((1, 64), 2**30), np.zeros(1, np.int64), 30, 2**20)
    with pytest.raises(ValueError, match="2\\*\\*53"):
        IntegerMLP([big], input_limit=2**20)


def test_lookup_activation_and_round_trip_through_arrays() -> None:
    tanh = LookupActivation.tabulate(np.tanh, 8, -4.0, 4.0, step_shift=2)
    assert tanh(np.array([-10_000.0]))[0] == tanh.values[0]  # beyond the table: its end
    assert abs(tanh(np.array([256.0]))[0] / 256 - np.tanh(1.0)) < 0.02
    net = IntegerMLP(
        [
            IntegerLinear(np.array([[2, 1], [-1, 3]]), np.array([0, 9]), 1, 2**12, tanh),
            IntegerLinear(np.array([[1, -1]]), np.array([3]), 0, 2**12, "identity"),
        ],
        input_limit=2**10,
    )
    again = IntegerMLP.from_arrays(net.to_arrays("p/"), "p/")
    x = np.arange(-40, 40).reshape(-1, 2) * 17
    assert np.array_equal(net(x), again(x))
    assert net.n_parameters == 9


_DIGEST_SCRIPT = """
import hashlib, numpy as np
from jetzip.models.integer import IntegerMLP
rng = np.random.default_rng(3)
net = IntegerMLP.from_float(
    [(rng.normal(size=(48, 14)), rng.normal(size=48)),
     (rng.normal(size=(48, 48)) / 7, rng.normal(size=48)),
     (rng.normal(size=(2, 48)), rng.normal(size=2))],
    ["relu", "relu", "identity"], input_bits=12, weight_bits=12, hidden_bits=12,
    output_bits=16, input_limit=2**18, hidden_limit=2**20, output_limit=2**24)
x = np.rint(rng.normal(size=(20000, 14)) * 2**14).astype(np.int64)
print(hashlib.sha256(net(x).tobytes()).hexdigest())
"""


def _digest(cpu: str, threads: str) -> str:
    env = dict(
        os.environ,
        NPY_DISABLE_CPU_FEATURES=cpu,
        OMP_NUM_THREADS=threads,
        OPENBLAS_NUM_THREADS=threads,
        MKL_NUM_THREADS=threads,
    )
    result = subprocess.run(
        [sys.executable, "-c", _DIGEST_SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_same_integers_under_every_cpu_setting_and_thread_count() -> None:
    digests = {_digest(cpu, threads) for cpu in CPU_SETTINGS for threads in ("1", "2")}
    assert len(digests) == 1
    assert len(next(iter(digests))) == len(hashlib.sha256().hexdigest())


def test_network_with_the_bias_in_the_product_is_exact_near_2_53() -> None:
    """IntegerMLP runs its first layer with the bias as one more row of the product (a ones
    column): still floor((W x + b) / 2**shift) exactly, at sums just below 2**53."""
    rng = np.random.default_rng(5)
    limit = 2**24
    weight = rng.integers(-(2**22), 2**22, size=(16, 60))
    bias = rng.integers(-(2**40), 2**40, size=16)
    first = IntegerLinear(weight, bias, shift=11, limit=2**46, activation="identity")
    second = IntegerLinear(np.eye(16, dtype=np.int64), np.zeros(16, np.int64), 0, 2**46, "identity")
    net = IntegerMLP([first, second], input_limit=limit)
    x = rng.choice([-limit, limit, -limit + 1, limit - 1, 0, 98765], size=(5000, 60))
    exact = (x.astype(object) @ weight.T.astype(object) + bias.astype(object)) // 2**11
    assert np.array_equal(net(x), np.clip(exact.astype(np.int64), -(2**46), 2**46))
