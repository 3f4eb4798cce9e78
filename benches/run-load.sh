#!/usr/bin/env bash
# Loading benchmark: brings PostgreSQL up like the tests do, then runs it optimized.
# Usage: benches/run-load.sh [ROWS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-postgres
cargo bench -q -p taskifai-benches --bench load -- "${1:-1000000}" "${2:-3}"
