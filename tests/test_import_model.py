"""`jetzip import-model`: a HEPAutoencoders-style state dict (built here, never committed)
becomes a model dir whose reconstruction is the original network's, exactly as they ran it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from jetzip.cli.main import main
from jetzip.errors import OptionError
from jetzip.models import TrainedModel
from jetzip.models.importing import import_state_dict

COLUMNS = ["E", "pt", "eta", "phi"]
MEAN = [9.1e4, 6.4e4, 0.04, 0.002]
STD = [1.2e5, 7.0e4, 1.45, 1.8]


class HepAE(nn.Module):
    """The layout of HEPAutoencoders' AE_3D_200: en1..en4, de1..de4, tanh, tanh on the latent
    before the decoder."""

    def __init__(self, widths: tuple[int, ...] = (200, 100, 50), n_features: int = 4) -> None:
        super().__init__()
        sizes = [n_features, *widths, 3]
        for i in range(4):
            setattr(self, f"en{i + 1}", nn.Linear(sizes[i], sizes[i + 1]))
            setattr(self, f"de{i + 1}", nn.Linear(sizes[4 - i], sizes[3 - i]))
        self.tanh = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, 4):
            x = self.tanh(getattr(self, f"en{i}")(x))
        x = self.en4(x)
        for i in range(1, 4):
            x = getattr(self, f"de{i}")(self.tanh(x))
        return self.de4(self.tanh(x))


def jets(n: int = 500) -> np.ndarray:
    rng = np.random.default_rng(3)
    pt = 2e4 * np.exp(rng.exponential(0.7, n))
    eta = rng.normal(0, 1.4, n)
    return np.column_stack([pt * np.cosh(eta), pt, eta, rng.uniform(-np.pi, np.pi, n)])


def test_imported_model_reconstructs_as_the_original(tmp_path: Path) -> None:
    torch.manual_seed(0)
    theirs = HepAE().eval()
    path = tmp_path / "ae.pth"
    torch.save({"model": theirs.state_dict(), "opt": {"lr": torch.tensor(1e-3)}}, path)  # fastai
    out = tmp_path / "model"
    args = ["import-model", str(path), "-o", str(out), "--preset", "AE_3D_200"]
    args += ["--columns", ",".join(COLUMNS), "--mean", ",".join(map(str, MEAN))]
    args += ["--std", ",".join(map(str, STD)), "--units", "E=MeV,pt=MeV"]
    assert main(args) == 0
    model = TrainedModel.load(out)
    assert model.columns == COLUMNS and model.units == {"E": "MeV", "pt": "MeV"}
    assert model.n_parameters == sum(p.numel() for p in theirs.parameters())
    x = jets()
    with torch.no_grad():
        scaled = torch.from_numpy(((x - MEAN) / STD).astype(np.float32))
        expected = theirs(scaled).double().numpy() * STD + MEAN
    np.testing.assert_allclose(model.reconstruct(x), expected, rtol=1e-5, atol=1e-6)
    # refusing to overwrite, then a normalisation file instead of the three lists
    assert main(args) == 1
    norm = tmp_path / "norm.json"
    norm.write_text(f'{{"columns": {COLUMNS!r}, "mean": {MEAN}, "std": {STD}}}'.replace("'", '"'))
    again = ["import-model", str(path), "-o", str(out), "--normalisation-file", str(norm)]
    assert main([*again, "--overwrite"]) == 0
    assert TrainedModel.load(out).content_hash() != ""
    np.testing.assert_array_equal(TrainedModel.load(out).reconstruct(x), model.reconstruct(x))


def test_mismatched_state_dicts_are_refused_naming_the_layer() -> None:
    state = HepAE(widths=(100, 100, 50)).state_dict()  # an AE_3D_100
    with pytest.raises(OptionError, match=r"layer en1: weight has shape \(100, 4\)"):
        import_state_dict(state, "AE_3D_200", COLUMNS, MEAN, STD)
    five = HepAE(n_features=5).state_dict()
    with pytest.raises(OptionError, match="layer en1"):
        import_state_dict(five, "AE_3D_200", COLUMNS, MEAN, STD)
    full = HepAE().state_dict()
    missing = {k: v for k, v in full.items() if k != "de3.bias"}
    with pytest.raises(OptionError, match=r"layer de3: the state dict has no de3\.bias"):
        import_state_dict(missing, "AE_3D_200", COLUMNS, MEAN, STD)
    with pytest.raises(OptionError, match=r"en5\.weight"):
        import_state_dict({**full, "en5.weight": torch.zeros(1)}, "AE_3D_200", COLUMNS, MEAN, STD)
    with pytest.raises(OptionError, match="one mean and one std per column"):
        import_state_dict(full, "AE_3D_200", COLUMNS, MEAN[:3], STD)
    with pytest.raises(OptionError, match="positive"):
        import_state_dict(full, "AE_3D_200", COLUMNS, MEAN, [1, 1, 0, 1])
    with pytest.raises(OptionError, match="not an en1"):
        import_state_dict(full, "AE_bn_LeakyReLU", COLUMNS, MEAN, STD)


def test_cli_errors_are_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a pickle")
    assert (
        main(
            [
                "import-model",
                str(bad),
                "-o",
                str(tmp_path / "m"),
                "--columns",
                "a",
                "--mean",
                "0",
                "--std",
                "1",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "is not a PyTorch state dict" in err and err.count("\n") == 1
    assert main(["import-model", str(bad), "-o", str(tmp_path / "m")]) == 1
    assert "need --columns, --mean and --std" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"columns": ["E"], "mean": ["a"], "std": [1]}', "a mean in {} is damaged (expected a"),
        ('{"columns": ["E"], "mean": [0], "std": [true]}', "a std in {} is damaged (expected a"),
        ('{"columns": "E", "mean": [0], "std": [1]}', "the 'columns' list of {} is damaged"),
        ('{"columns": ["E"], "std": [1]}', "the 'mean' list of {} is damaged"),
        ('{"columns": ["E"], "mean": [NaN], "std": [1]}', "normalisation file {} is damaged"),
        ("[1, 2]", "normalisation file {} is damaged (expected an object"),
    ],
)
def test_a_non_numeric_normalisation_file_is_one_line(
    tmp_path: Path, capsys, text: str, message: str
) -> None:
    state = tmp_path / "ae.pth"
    torch.save(HepAE().state_dict(), state)
    norm = tmp_path / "norm.json"
    norm.write_text(text)
    args = ["import-model", str(state), "-o", str(tmp_path / "m"), "--normalisation-file"]
    assert main([*args, str(norm)]) == 1
    err = capsys.readouterr().err
    assert message.format(norm) in err and err.count("\n") == 1
    assert not (tmp_path / "m").exists()
