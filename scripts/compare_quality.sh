#!/usr/bin/env bash
# Scores topicmill's and scikit-learn's k=20 models of all of 20 Newsgroups
# with the same code (scripts/compare_quality.py; --strict fails when below).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
{ read -r python; read -r topicmill; } < <(bash "$repo/scripts/release_cli.sh" | tail -n 2)
data=${TOPICMILL_DATA:-$repo/../shared/datasets}
exec "$python" "$repo/scripts/compare_quality.py" --topicmill "$topicmill" \
    --tarball "$data/20news-bydate/20news-bydate.tar.gz" "$@"
