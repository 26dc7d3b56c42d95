#!/usr/bin/env bash
# Runs every command in the README's ```sh blocks, in order, so that a README
# section stays a promise: a command that stops working turns CI red.
# Lines starting with '#' are comments; a trailing '\' continues a command.
set -euo pipefail
readme=${1:-README.md}
script=$(awk '
    /^```sh[[:space:]]*$/ { inside = 1; next }
    /^```/ && inside      { inside = 0; next }
    inside                { print }
' "$readme")
if [ -z "$script" ]; then
    echo "readme_commands: no \`\`\`sh blocks in $readme" >&2
    exit 1
fi
printf '%s\n' "$script" | sed 's/^/+ /'
bash -euo pipefail -c "$script"
