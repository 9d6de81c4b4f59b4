"""`jetzip generate`: built-in Pythia 8 jets written to any table format jetzip writes."""

from __future__ import annotations

import argparse

from jetzip.cli.registry import FORCE_ARG, arg, command, refuse_existing
from jetzip.errors import OptionError
from jetzip.generate import PROCESSES, GeneratorSettings, available_cores, generate_jets


@command(
    "generate",
    "Generate 13 TeV QCD (or boosted top / W / Z signal) jets with Pythia 8 and FastJet.",
    arg("-n", "--events", type=int, required=True, help="number of Pythia events"),
    arg("-o", "--output", required=True, help="output table (.parquet, .root, .h5, .csv, ...)"),
    arg("--seed", type=int, default=0, help="master random seed"),
    arg(
        "--pthat-min",
        type=float,
        default=GeneratorSettings.pthat_min,
        help="minimum pT of the hard scattering in GeV (PhaseSpace:pTHatMin)",
    ),
    arg(
        "--jet-pt-min",
        type=float,
        default=GeneratorSettings.jet_pt_min,
        help="keep jets with pt above this, in GeV",
    ),
    arg(
        "--eta-max",
        type=float,
        default=GeneratorSettings.eta_max,
        help="|eta| acceptance for particles and jets",
    ),
    arg(
        "--process",
        choices=PROCESSES,
        default=GeneratorSettings.process,
        help="hard process: QCD dijets, Z' -> t tbar or W' -> W Z (tops, W, Z to quarks)",
    ),
    arg(
        "--resonance-mass",
        type=float,
        default=GeneratorSettings.resonance_mass,
        help="Z' / W' mass in GeV (signal processes)",
    ),
    arg(
        "--jet-radius",
        type=float,
        default=GeneratorSettings.jet_radius,
        help="anti-kt distance parameter R (e.g. 0.8 for large-R top jets)",
    ),
    arg(
        "--no-mpi",
        action="store_true",
        help="switch off multiparton interactions (the underlying event): ~5x faster, less real",
    ),
    arg(
        "--workers",
        type=int,
        default=None,
        help=f"worker processes (default: all cores, here {available_cores()})",
    ),
    arg("--no-cache", action="store_true", help="regenerate even when a cached result exists"),
    FORCE_ARG,
)
def generate(args: argparse.Namespace) -> int:
    """Generate 13 TeV proton-proton events (Pythia 8, hadronisation and underlying event on):
    QCD 2 -> 2 by default, or with --process a Z' -> t tbar or W' -> W Z (2 TeV unless
    --resonance-mass) with hadronic decays (boosted-jet signals for `jetzip evaluate
    --compare`); cluster visible final-state particles with anti-kt R=0.4 (FastJet; see
    --jet-radius), and write one row per jet: m, pt, E in MeV, eta, phi, and substructure
    variables (constituent and charged multiplicity, width, pT_D, leading and charged pt
    fractions, jet charge, N-subjettiness tau1-tau3). The event column numbers the events.
    The same seed gives the same table for any number of workers; results are cached in
    $JETZIP_CACHE (default ~/.cache/jetzip). An existing OUTPUT is overwritten only with
    --force.
    """
    refuse_existing(args.output, args.force)
    from jetzip.io import write_table  # the io layer is heavy; load it only when writing

    table = generate_jets(
        args.events,
        seed=args.seed,
        pthat_min=args.pthat_min,
        jet_pt_min=args.jet_pt_min,
        eta_max=args.eta_max,
        mpi=not args.no_mpi,
        process=args.process,
        resonance_mass=args.resonance_mass,
        jet_radius=args.jet_radius,
        workers=args.workers,
        use_cache=not args.no_cache,
    )
    if table.n_rows == 0:
        raise OptionError(
            f"no jet passed the selection in {args.events} events; generate more events or "
            "lower --jet-pt-min"
        )
    write_table(table, args.output)
    print(f"wrote {table.n_rows:,} jets from {args.events:,} events to {args.output}")
    return 0
