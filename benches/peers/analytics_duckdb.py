"""The analytics peer: DuckDB answers the KPI request and the analytics page's rankings over the
same Parquet files of the tenant's lake (every file is live: the benchmark never replaces).

Usage: analytics_duckdb.py LAKE_DIR WINDOWS_JSON
WINDOWS_JSON is a list of [from, to] ISO dates; prints JSON: per request kind, the cold time
(a new connection's first request) and the median warm time, in milliseconds.
"""

import json
import statistics
import sys
import time
from datetime import date, timedelta

import duckdb

lake, windows = sys.argv[1], json.loads(sys.argv[2])
FILES = f"{lake}/tenant=demo/table=sellout_entries/year=*/month=*/*.parquet"
VIEW = f"""CREATE VIEW f AS SELECT coalesce(sale_date, make_date(year, month, 1)) AS day, reseller,
  store, channel, country, product_ean, coalesce(functional_name, vendor_product_name, product_ean)
  AS product, quantity, sales_eur FROM read_parquet('{FILES}', hive_partitioning = true)"""


def shift_year(d):
    return d.replace(year=d.year - 1)


def kpis(con, a, b):
    """The KPI request's queries, as TaskifAI runs them: totals, movers, channels, the previous
    window's and last year's revenue."""
    w = f"day BETWEEN DATE '{a}' AND DATE '{b}'"
    con.execute(f"""SELECT sum(sales_eur), sum(quantity), count(*), count(DISTINCT reseller),
        count(DISTINCT product) FROM f WHERE {w}""").fetchall()
    r = f"day BETWEEN DATE '{b - timedelta(days=29)}' AND DATE '{b}'"
    q = f"day BETWEEN DATE '{b - timedelta(days=89)}' AND DATE '{b}'"
    con.execute(f"""SELECT (SELECT count(DISTINCT product) FROM f WHERE quantity > 0 AND {r}),
        (SELECT count(DISTINCT product) FROM f WHERE quantity > 0 AND {q} AND product NOT IN
        (SELECT product FROM f WHERE quantity > 0 AND {r} AND product IS NOT NULL))""").fetchall()
    con.execute(f"SELECT channel, sum(sales_eur), sum(quantity), count(*) FROM f WHERE {w} GROUP BY 1").fetchall()
    n = b - a
    pa = a - n - timedelta(days=1)
    con.execute(f"SELECT sum(sales_eur), sum(quantity) FROM f WHERE day BETWEEN DATE '{pa}' AND DATE '{a - timedelta(days=1)}'").fetchall()
    con.execute(f"SELECT sum(sales_eur), sum(quantity) FROM f WHERE day BETWEEN DATE '{shift_year(a)}' AND DATE '{shift_year(b)}'").fetchall()


def ranking(key):
    def run(con, a, b):
        con.execute(f"""SELECT {key}, sum(sales_eur), sum(quantity), count(*) FROM f
            WHERE day BETWEEN DATE '{a}' AND DATE '{b}' AND {key} IS NOT NULL GROUP BY 1
            ORDER BY 2 DESC NULLS LAST, 1 LIMIT 10""").fetchall()
    return run


def series(con, a, b):
    con.execute(f"""SELECT date_trunc('month', day), sum(sales_eur), sum(quantity), count(*) FROM f
        WHERE day BETWEEN DATE '{a}' AND DATE '{b}' GROUP BY 1 ORDER BY 1""").fetchall()


KINDS = {
    "kpis": kpis,
    "timeseries": series,
    "top-products": ranking("product"),
    "top-resellers": ranking("reseller"),
    "top-markets": ranking("country"),
    "top-stores": ranking("store"),
}

out = {}
for name, run in KINDS.items():
    a, b = (date.fromisoformat(d) for d in windows[0])
    con = duckdb.connect()
    con.execute(VIEW)
    t = time.perf_counter()
    run(con, a, b)
    cold = (time.perf_counter() - t) * 1000
    warm = []
    for w in windows[1:]:
        a, b = (date.fromisoformat(d) for d in w)
        t = time.perf_counter()
        run(con, a, b)
        warm.append((time.perf_counter() - t) * 1000)
    out[name] = {"cold_ms": round(cold, 1), "warm_p50_ms": round(statistics.median(warm), 1)}
print(json.dumps(out))
