#!/usr/bin/env bash
# The distributed fit (issue 6): install Open MPI when it is missing, then
# lint and build the `mpi` feature, run the tests of topicmill-mpi and of the
# CLI with it (among them the MPI integration tests: mpirun on the real
# binary, 1–4 ranks), and a 2-rank
# smoke run of `mpirun -np 2 topicmill fit --distributed` on KOS compared
# with the single-process fit. Called by .ci/run; runs from the repo root.
# Tests run in release, sharing the compiled dependencies of the README's
# commands.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

export CI="${CI:-true}"
export TOPICMILL_DATA="${TOPICMILL_DATA:-$(cd "$repo/.." && pwd)/shared/datasets}"

missing=()
for pkg in libopenmpi-dev openmpi-bin libclang-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "mpi_tests: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Every cargo command here selects the same two packages and the same feature,
# so they resolve dependency features alike and share one set of compiled
# dependencies, the one the README's `cargo build --release --features mpi -p
# topicmill-cli` made (`-p topicmill-mpi` alone drops topicmill-text's
# `flate2/zlib-rs` and rebuilt topicmill-sparse and -nmf: 54 s on CI).
pkgs=(-p topicmill-mpi -p topicmill-cli --features topicmill-cli/mpi)

echo "== clippy, feature mpi"
cargo clippy "${pkgs[@]}" --all-targets -- -D warnings

echo "== tests of topicmill-mpi and topicmill-cli with the feature (mpirun on the built binary)"
cargo test --release "${pkgs[@]}"

echo "== mpirun -np 2 topicmill fit --distributed on KOS"
cargo build --release --features mpi -p topicmill-cli
bin="${CARGO_TARGET_DIR:-$repo/target}/release/topicmill"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" import --docword "$TOPICMILL_DATA/uci-bow/docword.kos.txt.gz" -o "$work/kos" >/dev/null
"$bin" fit "$work/kos" -k 10 --max-iter 50 -o "$work/one.bin"
RAYON_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe \
    --mca btl_vader_single_copy_mechanism none -np 2 \
    "$bin" fit "$work/kos" -k 10 --max-iter 50 -o "$work/two.bin" --distributed
# Same top words per topic from one process and from two ranks.
diff <("$bin" topics "$work/one.bin") <("$bin" topics "$work/two.bin")
echo "mpi_tests: ok"
