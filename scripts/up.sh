#!/usr/bin/env bash
# Makes the machine ready (scripts/setup.sh), then serves portside: `portside up [--host H]
# [--port P] [--data-dir D]`, by default on http://127.0.0.1:4566.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
setup_env=$(bash scripts/setup.sh)
eval "$setup_env"
exec .venv/bin/portside up "$@"
