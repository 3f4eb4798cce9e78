"""Reads a TaskifAI table with engines that are not TaskifAI: the Python `deltalake` package
(delta-rs) and DuckDB over what it reads, and DuckDB alone over the Parquet files the Delta log
names (with the partition values the log gives them). Prints one JSON object: the table version
and columns as each reader sees them, and rows, units and sales per month and batch.

Usage: delta_readers.py TABLE_URI [--options STORAGE_OPTIONS_JSON] [--version N]
A bucket (s3://...) is read by delta-rs only: DuckDB's S3 reader is an extension it would
download.
"""

import argparse
import datetime
import json
import sys

import duckdb
import pyarrow
from deltalake import DeltaTable

GROUPS = """
    SELECT year, month, batch_id, count(*) AS rows, sum(quantity) AS units,
           CAST(sum(sales_eur) AS VARCHAR) AS sales
    FROM t GROUP BY ALL ORDER BY ALL
"""


def literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, datetime.date):
        return f"DATE '{v.isoformat()}'"
    return "'" + str(v).replace("'", "''") + "'"


def rows(result):
    return [list(r) for r in result.fetchall()]


def main(uri, options, version):
    table = DeltaTable(uri, storage_options=options, version=version)
    arrow = table.to_pyarrow_table()
    con = duckdb.connect()
    con.register("t", arrow)
    by_delta_rs = rows(con.sql(GROUPS))

    # DuckDB reads the files the log lists, and takes the per-file columns from the log.
    files = pyarrow.table(table.get_add_actions(flatten=True)).to_pylist()
    if "://" in uri:
        by_duckdb = None
    else:
        by_duckdb = read_files(con, uri, files)
    print(
        json.dumps(
            {
                "version": table.version(),
                "columns": sorted(arrow.column_names),
                "files": len(files),
                "delta_rs": by_delta_rs,
                "duckdb": by_duckdb,
            },
            default=str,
        )
    )


def read_files(con, uri, files):
    parts = []
    for f in files:
        values = {k[len("partition.") :]: v for k, v in f.items() if k.startswith("partition.")}
        select = ", ".join(
            f"{literal(v)} AS {k}" for k, v in sorted(values.items())
        )
        parts.append(f"SELECT *, {select} FROM read_parquet('{uri}/{f['path']}', hive_partitioning = false)")
    con.sql("CREATE VIEW t2 AS " + " UNION ALL BY NAME ".join(parts))
    return rows(con.sql(GROUPS.replace("FROM t ", "FROM t2 ")))


if __name__ == "__main__":
    args = argparse.ArgumentParser()
    args.add_argument("uri")
    args.add_argument("--options", type=json.loads)
    args.add_argument("--version", type=int)
    a = args.parse_args()
    main(a.uri, a.options, a.version)
