#!/usr/bin/env bash
# Builds the release CLI, makes the pinned venv (scripts/venv.sh), and runs the
# timing and memory comparison with scikit-learn (scripts/compare_sklearn.py;
# pass --quick for the CI version).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
python=$(bash scripts/venv.sh | tail -n 1)
cargo build --release --quiet -p topicmill-cli
target=${CARGO_TARGET_DIR:-$repo/target}
exec "$python" scripts/compare_sklearn.py --topicmill "$target/release/topicmill" "$@"
