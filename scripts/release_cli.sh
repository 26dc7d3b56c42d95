#!/usr/bin/env bash
# Shared preamble of the comparison scripts: makes the pinned venv
# (scripts/venv.sh), builds the release CLI, and prints two lines: the venv's
# python, then the topicmill binary.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
python=$(bash scripts/venv.sh | tail -n 1)
cargo build --release --quiet -p topicmill-cli
echo "$python"
echo "${CARGO_TARGET_DIR:-$repo/target}/release/topicmill"
