#!/usr/bin/env bash
# The main job end to end on built-in data: generate Pythia jets, inspect and convert them,
# train an autoencoder, compress (error-bounded, and latent-only as in the ATLAS studies),
# decompress, and evaluate. Run through `make demo`, which provides the environment.
set -euo pipefail
OUT="${DEMO_OUT:-demo-output}"
EVENTS="${DEMO_EVENTS:-6000}"
EPOCHS="${DEMO_EPOCHS:-40}"
TOLERANCE="pt=0.1%,E=0.1%,m=0.1%,eta=0.001,phi=0.001"
mkdir -p "$OUT"
# --force: a rerun replaces the demo's own outputs (jetzip refuses to overwrite otherwise)

step() { printf '\n==> %s\n' "$*"; }

step "Generating Pythia 8 QCD dijets (cached after the first run)"
jetzip generate -n "$EVENTS" --seed 1 -o "$OUT/jets.parquet" --force

step "Describing the generated table"
jetzip info "$OUT/jets.parquet"

step "Converting to ROOT (jagged again: one entry per event)"
jetzip convert "$OUT/jets.parquet" "$OUT/jets.root" --force

step "The whole ROOT file: every branch and event, at CMS NanoAOD's own precision, and back"
jetzip compress "$OUT/jets.root" -o "$OUT/jets_root.jz" --precision nanoaod --force
jetzip decompress "$OUT/jets_root.jz" -o "$OUT/jets_back.root" --force
python -c "import jetzip; f = jetzip.open('$OUT/jets_root.jz'); \
print(f.num_entries, 'events; leading jet pt of event 0:', f.arrays(filter_name='Jet_*', entry_stop=1).Jet.pt[0, 0])"

step "Error-bounded compression: every value within $TOLERANCE"
jetzip compress "$OUT/jets.parquet" -o "$OUT/jets_bounded.jz" --tolerance "$TOLERANCE" \
    --default-tolerance 0.1% --force
jetzip info "$OUT/jets_bounded.jz"

step "Decompressing back to Parquet"
jetzip decompress "$OUT/jets_bounded.jz" -o "$OUT/jets_bounded.parquet" --force

step "Training AE_3D_200 on (E, pt, eta, phi) for $EPOCHS epochs"
jetzip train "$OUT/jets.parquet" -o "$OUT/model" --preset AE_3D_200 --columns E,pt,eta,phi \
    --epochs "$EPOCHS" --overwrite --threads 2

step "Latent-only compression of the 4-vectors (E, pt, eta, phi), as in the ATLAS studies"
jetzip convert "$OUT/jets.parquet" "$OUT/jets_4d.parquet" --columns E,pt,eta,phi --force
jetzip compress "$OUT/jets_4d.parquet" -o "$OUT/jets_latent.jz" --model "$OUT/model" --force

step "Evaluating the error-bounded file"
jetzip evaluate "$OUT/jets.parquet" "$OUT/jets_bounded.jz" -o "$OUT/report_bounded" \
    --tolerance "$TOLERANCE"

step "Evaluating the latent-only file with the model's plots"
jetzip evaluate "$OUT/jets_4d.parquet" "$OUT/jets_latent.jz" \
    --model "$OUT/model" -o "$OUT/report_latent"

printf '\nDemo results are in %s/:\n' "$OUT"
printf '  %s\n' "$OUT/report_bounded/index.html  (error-bounded compression report)" \
    "$OUT/report_latent/index.html   (autoencoder latent compression report)" \
    "$OUT/jets_bounded.jz, $OUT/jets_latent.jz, $OUT/model/"
