"""Models: preset shapes, spec validation, the VAE, and the TrainedModel interface."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jetzip.errors import CorruptFileError, InputError, OptionError
from jetzip.models import PRESET_NAMES, TrainedModel, build_model, normalise_spec, preset_spec
from jetzip.models.network import LOG_VARIANCE_RANGE
from jetzip.transforms import build_normaliser

PRESET_LAYERS = {
    "AE_3D_200": [4, 200, 100, 50, 3, 50, 100, 200, 4],
    "AE_3D_100": [4, 100, 100, 50, 3, 50, 100, 100, 4],
    "AE_3D_50": [4, 50, 50, 20, 3, 20, 50, 50, 4],
    "AE_3D_200_seed": [4, 200, 200, 20, 3, 20, 200, 200, 4],
    "AE_bn_LeakyReLU": [4, 200, 200, 200, 3, 200, 200, 200, 4],
    "VAE_3D_200": [4, 200, 100, 50, 3, 50, 100, 200, 4],
}


def linear_widths(network: torch.nn.Module) -> list[int]:
    linears = [m for name, m in network.named_modules() if isinstance(m, torch.nn.Linear)]
    linears = [m for m in linears if m is not getattr(network, "to_logvar", None)]
    return [linears[0].in_features] + [m.out_features for m in linears]


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_preset_layer_widths_and_output_shapes(name: str) -> None:
    network = build_model(preset_spec(name, 4)).eval()
    assert linear_widths(network) == PRESET_LAYERS[name]
    x = torch.randn(7, 4)
    assert network.encode(x).shape == (7, 3)
    assert network(x)[0].shape == (7, 4)


def test_input_width_follows_columns_and_bn_family_takes_any_latent() -> None:
    network = build_model(preset_spec("AE_bn_LeakyReLU", 27, latent=18))
    assert linear_widths(network) == [27, 200, 200, 200, 18, 200, 200, 200, 27]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in network.modules()) == 6
    assert sum(isinstance(m, torch.nn.LeakyReLU) for m in network.modules()) == 6


def test_spec_options_dropout_and_latent_activation() -> None:
    spec = {"n_inputs": 5, "encoder": [8, 6], "latent": 2, "activation": "silu"}
    network = build_model({**spec, "dropout": [0.1, 0.0, 0.0, 0.2], "latent_activation": True})
    assert sum(isinstance(m, torch.nn.Dropout) for m in network.modules()) == 2
    assert network.encode(torch.randn(3, 5)).abs().max() < 1.2  # silu is not bounded below 0
    assert normalise_spec(spec)["decoder"] == [6, 8]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"n_inputs": 4, "encoder": [8], "latent": 5}, "larger than the input"),
        ({"n_inputs": 4, "encoder": [8], "latent": 2, "activation": "swish"}, "activation"),
        ({"n_inputs": 4, "encoder": [8], "latent": 2, "dropout": [0.1]}, "dropout"),
        ({"n_inputs": 4, "encoder": [8], "latent": 2, "width": 3}, "unknown model spec"),
    ],
)
def test_bad_specs_are_option_errors(spec: dict, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        build_model(spec)


def test_unknown_preset() -> None:
    with pytest.raises(OptionError, match="unknown preset"):
        preset_spec("AE_9D_9", 4)


def test_vae_samples_in_training_and_uses_the_mean_in_eval() -> None:
    torch.manual_seed(0)
    network = build_model(preset_spec("VAE_3D_200", 4))
    x = torch.randn(16, 4)
    network.train()
    first, kl = network(x)
    second, _ = network(x)
    assert kl is not None and kl.item() >= 0
    assert not torch.equal(first, second)
    network.eval()
    assert torch.equal(network(x)[0], network.decode(network.encode(x)))


def test_the_kl_term_and_encode_distribution_share_the_clamped_log_variance() -> None:
    """With the log-variance head pushed beyond its range, forward's KL term is the one of
    the (clamped) posterior encode_distribution gives."""
    torch.manual_seed(0)
    network = build_model(preset_spec("VAE_3D_200", 4)).eval()
    with torch.no_grad():
        network.to_logvar.bias.fill_(50.0)
    x = torch.randn(16, 4)
    _, kl = network(x)
    mean, logvar = network.encode_distribution(x)
    assert torch.all(logvar == LOG_VARIANCE_RANGE[1])
    expected = -0.5 * torch.mean(torch.sum(1 + logvar - mean.pow(2) - logvar.exp(), dim=1))
    torch.testing.assert_close(kl, expected)


def make_trained(n_inputs: int = 4) -> tuple[TrainedModel, np.ndarray]:
    rng = np.random.default_rng(0)
    x = np.column_stack(
        [rng.uniform(1, 3e4, 300), rng.uniform(2e4, 3e5, 300), rng.uniform(-3, 3, (300, 2))]
    )
    torch.manual_seed(0)
    network = build_model(preset_spec("AE_bn_LeakyReLU", n_inputs))
    network.train()
    network(torch.randn(64, n_inputs))  # move batch-norm running statistics off their init
    normaliser = build_normaliser(["m", "pt", "phi", "eta"]).fit(x)
    return TrainedModel(network, normaliser, {"m": "MeV", "pt": "MeV"}), x


def test_trained_model_interface_and_byte_round_trip() -> None:
    model, x = make_trained()
    assert model.columns == ["m", "pt", "phi", "eta"]
    assert model.units == {"m": "MeV", "pt": "MeV"}
    assert model.latent_dim == 3
    assert model.n_parameters == sum(p.numel() for p in model.network.parameters())
    z = model.encode(x)
    assert z.dtype == np.float32 and z.shape == (300, 3)
    decoded = model.decode(z)
    assert decoded.dtype == np.float64 and decoded.shape == (300, 4)
    copy = TrainedModel.from_bytes(model.to_bytes())
    assert copy.to_bytes() == model.to_bytes()
    assert copy.content_hash() == model.content_hash() and len(model.content_hash()) == 64
    assert copy.spec == model.spec
    np.testing.assert_array_equal(copy.decode(z), decoded)
    np.testing.assert_array_equal(copy.encode(x), z)


def test_decode_is_bit_identical_across_thread_counts_and_batches() -> None:
    model, x = make_trained()
    z = model.encode(x)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = model.decode(z)
        torch.set_num_threads(2)
        assert np.array_equal(model.decode(z), single)
    finally:
        torch.set_num_threads(previous)
    for size in (1, 37):  # 37: a 4-row tail; small batches once took other torch kernels
        chunked = np.concatenate([model.decode(z[i : i + size]) for i in range(0, len(z), size)])
        assert np.array_equal(chunked, single), size


def test_damaged_bytes_and_bad_shapes() -> None:
    model, _ = make_trained()
    data = model.to_bytes()
    with pytest.raises(CorruptFileError, match="magic"):
        TrainedModel.from_bytes(b"nope" + data)
    with pytest.raises(CorruptFileError):
        TrainedModel.from_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="shape"):
        model.decode(np.zeros((2, 4), dtype=np.float32))
    with pytest.raises(InputError, match="not a jetzip model directory"):
        TrainedModel.load("/nonexistent-model-dir")


def test_vae_posterior_mean_is_the_stored_latent() -> None:
    model, x = make_trained()
    with pytest.raises(InputError, match="only a VAE"):
        model.encode_distribution(x)
    torch.manual_seed(0)
    network = build_model(preset_spec("VAE_3D_200", 4))
    vae = TrainedModel(network, model.normaliser)
    mean, log_variance = vae.encode_distribution(x)
    assert mean.shape == log_variance.shape == (300, 3)
    np.testing.assert_array_equal(mean, vae.encode(x))
    low, high = LOG_VARIANCE_RANGE
    assert np.all((log_variance >= low) & (log_variance <= high))
