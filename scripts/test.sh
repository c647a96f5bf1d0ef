#!/usr/bin/env bash
# Makes the machine ready (scripts/setup.sh), lints, and runs the test suite. Arguments go to
# pytest. The suite must stay under 20 minutes: it is stopped after PORTSIDE_TEST_TIMEOUT
# seconds (default 1200).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
setup_env=$(bash scripts/setup.sh)
eval "$setup_env"

lint_paths=()
for path in src tests benchmarks; do
    if [[ -d $path ]]; then lint_paths+=("$path"); fi
done
echo "test: ruff check ${lint_paths[*]}" >&2
.venv/bin/ruff check "${lint_paths[@]}"

limit=${PORTSIDE_TEST_TIMEOUT:-1200}
rc=0
timeout --foreground --signal=INT --kill-after=60 "$limit" .venv/bin/pytest -q "$@" || rc=$?
case $rc in
    0) ;;
    5)
        echo "test: pytest collected no tests; a run that tests nothing is a failure" >&2
        exit 1
        ;;
    124)
        echo "test: the suite ran longer than ${limit}s and was stopped; it must stay under 20 minutes" >&2
        exit 1
        ;;
    *) exit "$rc" ;;
esac
