#!/usr/bin/env bash
# Runs the scikit-learn comparison of `topicmill vectorize` (exit 1 on any
# mismatch), with the pinned venv and the release CLI.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
{ read -r python; read -r topicmill; } < <(bash "$repo/scripts/release_cli.sh" | tail -n 2)
exec "$python" "$repo/scripts/compare_vectorizer.py" --topicmill "$topicmill" "$@"
