"""One block of events: Pythia 8 generation, FastJet clustering, per-jet variables.

The heavy lifting stays in compiled code and in whole-array operations: Pythia hands over the
block as an Awkward array (`Pythia.nextBatch`), FastJet clusters all events of the block in
one call, and the substructure variables are numpy reductions over all constituents.
pythia8mc and fastjet are imported only here, inside functions, so that importing jetzip
does not need the optional `[generate]` extra.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

from jetzip.generate.settings import GeneratorSettings, GeneratorUnavailableError
from jetzip.generate.substructure import Constituents, jet_shapes, nsubjettiness
from jetzip.lazy import lazy_module
from jetzip.table import Table

ak = lazy_module("awkward")  # only generating needs it, not `jetzip --help` (jetzip.lazy)

#: Output columns in order, with their units and storage types.
COLUMNS: dict[str, tuple[str, type[np.generic]]] = {
    "m": ("MeV", np.float32),
    "pt": ("MeV", np.float32),
    "eta": ("", np.float32),
    "phi": ("", np.float32),
    "E": ("MeV", np.float32),
    "n_constituents": ("", np.int32),
    "n_charged": ("", np.int32),
    "width": ("", np.float32),
    "ptd": ("", np.float32),
    "lead_pt_frac": ("", np.float32),
    "charged_pt_frac": ("", np.float32),
    "jet_charge": ("", np.float32),
    "tau1": ("", np.float32),
    "tau2": ("", np.float32),
    "tau3": ("", np.float32),
}

_MEV_PER_GEV = 1000.0
#: Radius of the exclusive-kt reclustering that finds N-subjettiness axes: larger than any
#: distance inside an anti-kt jet, so no constituent is ever merged with the beam.
_AXES_RADIUS = 4.0


def import_backends() -> tuple[ModuleType, ModuleType]:
    """pythia8mc and fastjet, or one clear error saying how to install them."""
    try:
        import fastjet
        import pythia8mc
    except ImportError as exc:
        raise GeneratorUnavailableError(
            f"the event generator needs Pythia 8 and FastJet ({exc.name} is missing); "
            "install them with: pip install 'jetzip[generate]'"
        ) from None
    return pythia8mc, fastjet


def pythia_settings(settings: GeneratorSettings, seed: int) -> list[str]:
    """Pythia configuration lines: 13 TeV QCD 2 -> 2, hadronisation on, quiet.

    Particles with a proper lifetime above 10 mm (K0_S, Lambda, ...) are left undecayed, the
    usual definition of stable particles for generator-level jets.
    """
    return [
        "Print:quiet = on",
        f"Beams:eCM = {settings.ecm!r}",
        *process_settings(settings),
        f"PartonLevel:MPI = {'on' if settings.mpi else 'off'}",
        "HadronLevel:all = on",
        "ParticleDecays:limitTau0 = on",
        "ParticleDecays:tau0Max = 10.",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
    ]


#: Hadronic decays only: W and Z to quarks (d u s c b), tops to W b.
_HADRONIC_W = ["24:onMode = off", "24:onIfAny = 1 2 3 4 5"]
_HADRONIC_Z = ["23:onMode = off", "23:onIfAny = 1 2 3 4 5"]


def process_settings(settings: GeneratorSettings) -> list[str]:
    """Pythia lines of the hard process: QCD 2 -> 2, or a heavy resonance decaying to t tbar or
    W Z whose decay products all go to quarks."""
    mass = settings.resonance_mass
    if settings.process == "zprime_ttbar":
        return [
            "NewGaugeBoson:ffbar2gmZZprime = on",
            "Zprime:gmZmode = 3",  # the Z' alone, no gamma*/Z interference
            f"32:m0 = {mass!r}",
            "32:onMode = off",
            "32:onIfAny = 6",
            *_HADRONIC_W,
        ]
    if settings.process == "wprime_wz":
        return [
            "NewGaugeBoson:ffbar2Wprime = on",
            f"34:m0 = {mass!r}",
            "Wprime:coup2WZ = 1",
            "34:onMode = off",
            "34:onIfMatch = 24 23",
            *_HADRONIC_W,
            *_HADRONIC_Z,
        ]
    return ["HardQCD:all = on", f"PhaseSpace:pTHatMin = {settings.pthat_min!r}"]


def generate_block(settings: GeneratorSettings, block: int) -> Table:
    """All jets of block `block`: a fresh Pythia seeded for this block alone.

    A fresh instance per block makes the result of a block independent of which process
    generated it and of what that process did before, so the table is the same for any
    number of workers.
    """
    pythia8mc, fastjet = import_backends()
    events = settings.block_events(block)
    pythia = pythia8mc.Pythia("", False)
    for line in pythia_settings(settings, settings.block_seed(block)):
        if not pythia.readString(line):
            raise RuntimeError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise RuntimeError("Pythia initialisation failed")
    batch = pythia.nextBatch(len(events))
    particles = _visible_particles(batch["prt"], pythia.particleData, settings.eta_max)
    table = _jets_table(particles, fastjet, settings)
    event_numbers = np.asarray(events, dtype=np.int64)
    return Table(
        table.columns,
        event=event_numbers[table.event],
        units=table.units,
        meta={"n_events": len(events)},
    )


def _visible_particles(records: ak.Array, particle_data: Any, eta_max: float) -> ak.Array:
    """Final-state particles except neutrinos, within |eta| < eta_max, with their charge."""
    final = records[(records["status"] > 0) & ~_is_neutrino(records["id"])]
    momentum = final["p"]
    eta = np.arcsinh(momentum["pz"] / np.hypot(momentum["px"], momentum["py"]))
    final = final[abs(eta) < eta_max]
    ids = ak.to_numpy(ak.flatten(final["id"]))
    charge = _charges(ids, particle_data)
    counts = ak.num(final)
    return ak.zip(
        {
            "px": final["p"]["px"],
            "py": final["p"]["py"],
            "pz": final["p"]["pz"],
            "E": final["p"]["e"],
            "charge": ak.unflatten(charge, counts),
        }
    )


def _is_neutrino(pdg_id: ak.Array) -> ak.Array:
    magnitude = abs(pdg_id)  # nu_e, nu_mu, nu_tau and their antiparticles
    return (magnitude == 12) | (magnitude == 14) | (magnitude == 16)


def _charges(ids: np.ndarray, particle_data: Any) -> np.ndarray:
    """Electric charge of every particle, from Pythia's table, one lookup per species."""
    species, inverse = np.unique(ids, return_inverse=True)
    table = np.array([particle_data.charge(int(s)) for s in species], dtype=np.float64)
    return table[inverse]


def _jets_table(particles: ak.Array, fastjet: ModuleType, settings: GeneratorSettings) -> Table:
    """Anti-kt jets of every event, pt-ordered within the event, with all COLUMNS.

    The table's event index here is the position of the event in the block.
    """
    four_momenta = particles[["px", "py", "pz", "E"]]
    with _stdout_to_stderr():  # FastJet prints its banner on stdout at first use
        sequence = fastjet.ClusterSequence(
            four_momenta, fastjet.JetDefinition(fastjet.antikt_algorithm, settings.jet_radius)
        )
        jets = sequence.inclusive_jets(settings.jet_pt_min)
        members = sequence.constituent_index(settings.jet_pt_min)
    jet_pt = np.hypot(jets["px"], jets["py"])
    jet_eta = np.arcsinh(jets["pz"] / jet_pt)
    keep = (jet_pt > settings.jet_pt_min) & (abs(jet_eta) < settings.eta_max)
    order = ak.argsort(jet_pt[keep], axis=1, ascending=False)
    jets = jets[keep][order]
    members = members[keep][order]
    event = np.repeat(np.arange(len(jets)), ak.to_numpy(ak.num(jets)))

    flat = {k: ak.to_numpy(ak.flatten(jets[k])).astype(np.float64) for k in ("px", "py", "pz", "E")}
    pt = np.hypot(flat["px"], flat["py"])
    rapidity = _rapidity(flat["E"], flat["pz"])
    phi = np.arctan2(flat["py"], flat["px"])
    mass2 = flat["E"] ** 2 - pt**2 - flat["pz"] ** 2
    values: dict[str, np.ndarray] = {
        "m": np.sqrt(np.maximum(mass2, 0.0)) * _MEV_PER_GEV,
        "pt": pt * _MEV_PER_GEV,
        "eta": np.arcsinh(flat["pz"] / pt),
        "phi": phi,
        "E": flat["E"] * _MEV_PER_GEV,
    }

    constituents, momenta = _gather_constituents(particles, members)
    values.update(jet_shapes(constituents, pt, rapidity, phi))
    for n_axes in (1, 2, 3):
        axes_y, axes_phi = _exclusive_kt_axes(momenta, constituents.counts, n_axes, fastjet)
        values[f"tau{n_axes}"] = nsubjettiness(constituents, axes_y, axes_phi, settings.jet_radius)

    columns = {name: values[name].astype(dtype) for name, (_, dtype) in COLUMNS.items()}
    columns["phi"] = _phi_half_open(columns["phi"])
    units = {name: unit for name, (unit, _) in COLUMNS.items()}
    return Table(columns, event=event, units=units)


def _gather_constituents(particles: ak.Array, members: ak.Array) -> tuple[Constituents, ak.Array]:
    """Constituents of every jet, flat for numpy and as jets -> four-momenta for FastJet.

    `members` holds, per event and jet, indices into that event's particles; adding the
    offset of each event turns them into indices into the flat particle arrays.
    """
    per_event = ak.to_numpy(ak.num(particles))
    first_particle = np.concatenate(([0], np.cumsum(per_event)[:-1]))
    per_jet = ak.flatten(members, axis=1)
    counts = ak.to_numpy(ak.num(per_jet))
    constituents_per_event = ak.to_numpy(ak.sum(ak.num(members, axis=2), axis=1))
    index = ak.to_numpy(ak.flatten(per_jet)) + np.repeat(first_particle, constituents_per_event)
    flat = {k: ak.to_numpy(ak.flatten(particles[k]))[index] for k in ("px", "py", "pz", "E")}
    charge = ak.to_numpy(ak.flatten(particles["charge"]))[index]
    constituents = Constituents(
        counts=counts,
        pt=np.hypot(flat["px"], flat["py"]),
        rapidity=_rapidity(flat["E"], flat["pz"]),
        phi=np.arctan2(flat["py"], flat["px"]),
        charge=charge,
    )
    return constituents, ak.unflatten(ak.zip(flat), counts)


def _rapidity(energy: np.ndarray, pz: np.ndarray) -> np.ndarray:
    return 0.5 * np.log((energy + pz) / (energy - pz))


def _exclusive_kt_axes(
    jet_particles: ak.Array, counts: np.ndarray, n_axes: int, fastjet: ModuleType
) -> tuple[np.ndarray, np.ndarray]:
    """(rapidity, phi) of the N exclusive-kt (winner-take-all) subjets of every jet with more
    than N constituents.

    Each jet is handed to FastJet as one "event"; rows of jets with at most N constituents
    stay zero (their tau_N is zero by definition and the axes are not used). Winner-take-all
    recombination makes an axis follow the harder branch rather than the pt-weighted centroid:
    the axes are insensitive to soft recoil, and tau1 is not the jet width in disguise (with
    E-scheme axes the two are ~100 % correlated).
    """
    axes_y = np.zeros((counts.shape[0], n_axes))
    axes_phi = np.zeros((counts.shape[0], n_axes))
    selected = np.flatnonzero(counts > n_axes)
    if selected.size == 0:
        return axes_y, axes_phi
    sequence = fastjet.ClusterSequence(
        jet_particles[selected],
        fastjet.JetDefinition(fastjet.kt_algorithm, _AXES_RADIUS, fastjet.WTA_pt_scheme),
    )
    with warnings.catch_warnings():
        # fastjet 3.5 compares the JetDefinition itself with the algorithm enum and so warns
        # about "jet-finders other than kt" even for kt; the warning does not apply here.
        warnings.filterwarnings("ignore", message="dcut and exclusive jets", category=UserWarning)
        subjets = sequence.exclusive_jets(n_jets=n_axes)
    px, py, pz, energy = (
        ak.to_numpy(ak.flatten(subjets[k])).reshape(-1, n_axes) for k in ("px", "py", "pz", "E")
    )
    axes_y[selected] = _rapidity(energy, pz)
    axes_phi[selected] = np.arctan2(py, px)
    return axes_y, axes_phi


def _phi_half_open(phi: np.ndarray) -> np.ndarray:
    """float32 phi in (-pi, pi]: rounding can land on -pi, which is the same angle as +pi."""
    limit = np.float32(np.pi)
    return np.where(phi <= -limit, limit, phi).astype(np.float32)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send whatever C++ code writes on file descriptor 1 to stderr instead."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
