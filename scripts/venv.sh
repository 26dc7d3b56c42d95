#!/usr/bin/env bash
# Creates (or reuses) the Python venv at .venv with the pinned comparison stack.
# Prints the venv's python path on the last line.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$repo/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import sklearn, numpy, scipy" 2>/dev/null \
    || ! cmp -s "$repo/scripts/requirements.txt" "$venv/.requirements.txt"; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$repo/scripts/requirements.txt"
    cp "$repo/scripts/requirements.txt" "$venv/.requirements.txt"
fi
echo "$venv/bin/python"
