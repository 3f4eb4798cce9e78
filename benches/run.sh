#!/usr/bin/env bash
# Side-by-side benchmark: TaskifAI against Polars (Python and Rust), DuckDB and pandas on the same generated files.
# Usage: benches/run.sh [CSV_ROWS] [XLSX_ROWS] [RUNS]   (defaults 1000000 200000 3; 10000000 for the large run)
set -euo pipefail
cd "$(dirname "$0")/.."
csv_rows=${1:-1000000}; xlsx_rows=${2:-200000}; runs=${3:-3}
venv=benches/out/venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q polars pandas pyarrow duckdb fastexcel python-calamine
fi
cargo build -q --release -p taskifai-api
bin=target/release/taskifai
# The Rust Polars peer is a package of its own (benches/peers/polars-rs), kept out of the workspace.
cargo build -q --release --manifest-path benches/peers/polars-rs/Cargo.toml --target-dir target/polars-peer
polars_rs=target/polars-peer/release/taskifai-polars-peer
"$bin" gen-bench --rows "$csv_rows" --format csv --out benches/out >/dev/null
files=("benches/out/bench_${csv_rows}_2025.csv")
if [ "$xlsx_rows" != 0 ]; then
  "$bin" gen-bench --rows "$xlsx_rows" --format xlsx --out benches/out >/dev/null
  files+=("benches/out/bench_${xlsx_rows}_2025.xlsx")
fi
"$venv/bin/python" benches/compare.py "$bin" "$venv/bin/python" "$polars_rs" "$runs" "${files[@]}"
