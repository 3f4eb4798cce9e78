#!/usr/bin/env python3
"""Writes questions.yaml: chat questions over the demo history (18 months to June 2025 from all
nine formats, `taskifai gen-history --until 2025-06 --months 18`) with the answers computed
here, from the canonical rows, by plain Python filters and sums, not by the chat's planner.
Regenerate after the history generator changes:

  taskifai gen-history --until 2025-06 --months 18 --out /tmp/history
  taskifai ingest --tenant demo $(find /tmp/history -type f | sort)
  taskifai query --format csv "$(cat tests/chat/sales.sql)" > /tmp/sales.csv
  python3 tests/chat/expected.py /tmp/sales.csv > tests/chat/questions.yaml
"""
import csv, sys
from collections import defaultdict
from datetime import date
from decimal import Decimal

rows = []
for r in csv.DictReader(open(sys.argv[1])):
    r["day"] = date.fromisoformat(r["day"])
    r["quantity"] = int(r["quantity"])
    r["sales_eur"] = Decimal(r["sales_eur"])
    rows.append(r)

def month(y, m):
    return lambda r: r["day"].year == y and r["day"].month == m
def between(a, b):
    return lambda r: a <= r["day"] <= b
def eq(col, *vals):
    return lambda r: r[col] in vals
def both(*fs):
    return lambda r: all(f(r) for f in fs)
ALL = lambda r: True

def total(f):
    sel = [r for r in rows if f(r)]
    return {"revenue_eur": float(sum(r["sales_eur"] for r in sel)), "units": sum(r["quantity"] for r in sel), "lines": len(sel)}

def grouped(f, col, measure="sales_eur"):
    g = defaultdict(Decimal)
    for r in rows:
        if f(r) and r[col]:
            g[r[col]] += r[measure]
    return g

def top(f, col, measure="sales_eur", lowest=False):
    g = grouped(f, col, measure)
    name = "revenue_eur" if measure == "sales_eur" else "units"
    k = sorted(g, key=lambda k: (g[k] if lowest else -g[k], k))[0]
    return {col: k, name: float(g[k])}, len(g)

def count(f, col):
    return {col + "s": len({r[col] for r in rows if f(r) and r[col]})}

def trend(f, measure="sales_eur"):
    g = defaultdict(Decimal)
    for r in rows:
        if f(r):
            g[r["day"].replace(day=1)] += r[measure]
    first = sorted(g)[0]
    name = "revenue_eur" if measure == "sales_eur" else "units"
    return {"month": first.isoformat(), name: float(g[first])}, len(g)

def compare(a_label, fa, b_label, fb, f=ALL, measure="sales_eur"):
    out = {}
    for label, fx in ((a_label, fa), (b_label, fb)):
        sel = [r[measure] for r in rows if f(r) and fx(r)]
        out[label] = float(sum(sel)) if sel else None
    return out

def channels(f):
    g = defaultdict(Decimal)
    for r in rows:
        if f(r):
            g["online" if r["channel"] == "online" else "offline"] += r["sales_eur"]
    k = sorted(g, reverse=True)[0]
    return {"channel": k, "revenue_eur": float(g[k])}, len(g)

def breakdown(f, col):
    g = grouped(f, col)
    k = sorted(g, key=lambda k: (-g[k], k))[0]
    return {col: k, "revenue_eur": float(g[k])}, len(g)

def lines(f):
    # The chat shows the first 200 lines and says so.
    return min(200, len([r for r in rows if f(r)]))

APR, MAR, FEB, JUN = month(2025, 4), month(2025, 3), month(2025, 2), month(2025, 6)
Y2025 = between(date(2025, 1, 1), date(2025, 7, 10))
Q1, Q2 = between(date(2025, 1, 1), date(2025, 3, 31)), between(date(2025, 4, 1), date(2025, 6, 30))
# "Ghost of Tom" names the fragrance: both sizes.
GOT = eq("product", "BBGOT100", "BBGOT50")
ONLINE, OFFLINE = eq("channel", "online"), (lambda r: r["channel"] != "online")

Q = []
def add(intent, q, first_row=None, n=None, expect="answer"):
    Q.append((intent, q, first_row or {}, n, expect))

for q in ["What were total sales?", "TOTAL SALES", "total sales pls", "how much did we sell overall"]:
    add("total", q, total(ALL))
add("total", "total revenue in April 2025", total(APR))
add("total", "what was the revenue in june 2025", total(JUN))
add("total", "How much did Galilu sell last month?", total(both(JUN, eq("reseller", "Galilu"))))
add("total", "units sold in february 2025", {"units": total(FEB)["units"]})
add("total", "sales of Ghost of Tom in April 2025", total(both(APR, GOT)))
add("total", "revenue in the UK", total(eq("country", "GB")))
add("total", "How much did Skins Cosmetics NL sell in Q1?", total(both(Q1, eq("reseller", "Skins Cosmetics NL"))))
add("total", "online sales in April 2025", total(both(APR, ONLINE)))
add("total", "offline revenue in 2025", total(both(Y2025, OFFLINE)))
add("total", "What did Selfridges sell in week 17?", total(both(between(date(2025, 4, 21), date(2025, 4, 27)), eq("reseller", "Selfridges"))))
add("total", "sales of 7350154320060", total(eq("product", "BBWM3")))
add("total", "how much did boxnox sell in april", total(both(APR, eq("reseller", "BOXNOX"))))
add("total", "How much did Libery sell in April 2025?", total(both(APR, eq("reseller", "Liberty"))))
add("total", "revenue at Creme de la Creme since March", total(both(between(date(2025, 3, 1), date(2025, 7, 9)), eq("reseller", "Creme de la Creme"))))
add("total", "Sales in Sweden", total(eq("country", "SE")))
add("total", "units of Wild Moss candle", {"units": total(eq("product", "BBWM3"))["units"]})
add("total", "How much Swimming Pool did we sell in April 2025?", total(both(APR, eq("product", "BBSP100"))))
add("total", "sales of BBSC100 in Q2", total(both(Q2, eq("product", "BBSC100"))))

add("count", "How many resellers sold in April 2025?", count(APR, "reseller"))
add("count", "how many products did Liberty sell", count(eq("reseller", "Liberty"), "product"))
add("count", "How many stores sold Ghost of Tom?", count(GOT, "store"))
add("count", "how many countries do we sell in", count(ALL, "country"))

r, _ = top(both(JUN, GOT), "reseller"); add("top", "Which reseller sold the most Ghost of Tom last month?", r, 1)
r, _ = top(ALL, "product", "quantity"); add("top", "top 3 products by units", r, 3)
r, _ = top(APR, "product"); add("top", "best selling product in April 2025", r, 1)
r, k = top(Y2025, "reseller"); add("top", "Top 5 resellers in 2025", r, min(5, k))
r, _ = top(ALL, "country"); add("top", "Which country had the highest revenue?", r, 1)
r, _ = top(APR, "reseller", lowest=True); add("top", "which reseller sold the least in april 2025", r, 1)
r, _ = top(ALL, "store"); add("top", "which store sold the most?", r, 1)
r, k = top(Q2, "country", "quantity"); add("top", "top 2 markets by units in Q2 2025", r, min(2, k))
r, _ = top(eq("reseller", "Creme de la Creme"), "store"); add("top", "Which store of Creme de la Creme sold the most?", r, 1)

r, n = trend(both(eq("reseller", "Liberty"), between(date(2025, 1, 1), date(2025, 7, 9)))); add("trend", "Show me Liberty's sales by month this year", r, n)
r, n = trend(Y2025); add("trend", "monthly revenue in 2025", r, n)
r, n = trend(ALL, "quantity"); add("trend", "units by month", r, n)
r, n = trend(GOT); add("trend", "revenue trend for Ghost of Tom", r, n)
r, n = trend(eq("country", "GB")); add("trend", "UK sales over time", r, n)

add("compare", "Compare April 2025 with March 2025", compare("April 2025", APR, "March 2025", MAR), 1)
add("compare", "this year vs last year", compare("2025 so far", between(date(2025, 1, 1), date(2025, 7, 9)), "2024 to 9 July", between(date(2024, 1, 1), date(2024, 7, 9))), 1)
add("compare", "How did Q2 compare to Q1?", compare("Q2 2025", Q2, "Q1 2025", Q1), 1)
add("compare", "April vs February units", compare("April 2025", APR, "February 2025", FEB, measure="quantity"), 1)
add("compare", "compare june 2025 with may 2025 for Galilu", compare("June 2025", JUN, "May 2025", month(2025, 5), eq("reseller", "Galilu")), 1)

r, n = channels(Q2); add("channels", "How did online compare with offline in Q2?", r, n)
r, n = channels(ALL); add("channels", "online vs offline sales", r, n)
r, n = channels(eq("reseller", "Creme de la Creme")); add("channels", "channel split for Creme de la Creme", r, n)
r, n = channels(APR); add("channels", "sales by channel in April 2025", r, n)

r, n = breakdown(ALL, "country"); add("breakdown", "sales by country", r, n)
r, n = breakdown(APR, "reseller"); add("breakdown", "revenue by reseller in April 2025", r, n)
r, n = breakdown(eq("reseller", "BOXNOX"), "store"); add("breakdown", "sales per store for Boxnox", r, n)
r, n = breakdown(ALL, "product"); add("breakdown", "share of each product", r, n)

add("lines", "Show the sales lines of Boxnox in April 2025", {}, lines(both(APR, eq("reseller", "BOXNOX"))))
add("lines", "list transactions for Galilu", {}, lines(eq("reseller", "Galilu")))
add("lines", "show me the raw rows for Sweden", {}, lines(eq("country", "SE")))

# The history's own events: the December peak, the launch of Super Cedar 50 ml in January 2025,
# Creme de la Creme's missing files for October and November 2024.
r, n = trend(ALL); add("trend", "which month had the highest revenue?", r, n)
r, n = trend(eq("product", "BBSC50")); add("trend", "sales of Super Cedar 50 ml by month", r, n)
add("total", "How much did Creme de la Creme sell in November 2024?", {"lines": 0})
add("compare", "compare December 2024 with November 2024", compare("December 2024", month(2024, 12), "November 2024", month(2024, 11)), 1)
r, k = top(month(2024, 12), "reseller"); add("top", "top resellers in December 2024", r, min(5, k))

for q in ["How much did Skins sell?", "sales at skins in february"]:
    add("ask", q, expect="ask")
for q in ["How much did Harrods sell last month?", "Forecast sales for next quarter", "What is our margin on Ghost of Tom?",
          "average order value", "sales excluding Boxnox", "Why did sales drop in June?", "What's the weather in Stockholm?",
          "sales of BBXX999", "Tell me a joke"]:
    add("decline", q, expect="decline")

def y(v):
    if v is None:
        return "null"
    if isinstance(v, str):
        return '"' + v.replace('"', '\\"') + '"'
    if isinstance(v, float):
        return repr(round(v, 6))
    return str(v)

print("# Generated by tests/chat/expected.py from the demo tenant's canonical rows: do not edit by hand.")
print("today: 2025-07-10")
print("questions:")
for intent, q, first, n, expect in Q:
    print(f"  - q: {y(q)}")
    print(f"    intent: {intent}")
    if expect != "answer":
        print(f"    expect: {expect}")
    if n is not None:
        print(f"    rows: {n}")
    if first:
        print("    first_row: {" + ", ".join(f"{y(k)}: {y(v)}" for k, v in first.items()) + "}")
