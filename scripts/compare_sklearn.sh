#!/usr/bin/env bash
# Timing and memory comparison with scikit-learn (scripts/compare_sklearn.py;
# pass --quick for the CI version), with the pinned venv and the release CLI.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
{ read -r python; read -r topicmill; } < <(bash scripts/release_cli.sh | tail -n 2)
exec "$python" scripts/compare_sklearn.py --topicmill "$topicmill" "$@"
