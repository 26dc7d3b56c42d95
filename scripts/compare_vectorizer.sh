#!/usr/bin/env bash
# Builds the release CLI, makes the pinned venv (scripts/venv.sh), and runs the
# scikit-learn comparison of `topicmill vectorize` (exit 1 on any mismatch).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
python=$(bash scripts/venv.sh | tail -n 1)
cargo build --release --quiet -p topicmill-cli
target=${CARGO_TARGET_DIR:-$repo/target}
exec "$python" scripts/compare_vectorizer.py --topicmill "$target/release/topicmill" "$@"
