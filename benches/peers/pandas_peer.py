"""The benchmark rules in pandas: same checks, same order, exact integer money, Parquet zstd out."""
import json, sys
import numpy as np
import pandas as pd

RATES = {"EUR": 10000, "GBP": 11700, "CHF": 10500, "PLN": 2300, "SEK": 870, "USD": 9200}
src, out = sys.argv[1], sys.argv[2]
if src.endswith(".xlsx"):
    df = pd.read_excel(src, dtype=str, keep_default_na=False, engine="calamine").apply(lambda c: c.str.strip())
else:
    df = pd.read_csv(src, dtype=str, keep_default_na=False).apply(lambda c: c.str.strip())
df.insert(0, "source_row", np.arange(2, len(df) + 2))
date = pd.to_datetime(df["Sales Date"], format="%d/%m/%Y", errors="coerce")
checks = [
    ("missing_ean", df["Product EAN"] == ""),
    ("bad_ean", ~df["Product EAN"].str.fullmatch(r"\d{8,14}")),
    ("bad_qty", ~df["Qty"].str.fullmatch(r"-?\d+(\.0+)?")),
    ("bad_price", ~df["Unit Price"].str.fullmatch(r"-?\d+(\.\d{1,2})?")),
    ("bad_date", ~df["Sales Date"].str.fullmatch(r"\d{2}/\d{2}/\d{4}") | date.isna()),
    ("bad_currency", ~df["Currency"].str.upper().isin(list(RATES))),
]
reason = pd.Series(np.select([c for _, c in checks], [r for r, _ in checks], default=""), index=df.index)
rejects = pd.DataFrame({"source_row": df["source_row"], "reason": reason})[reason != ""]
ok = df[reason == ""].copy()
parts = ok["Unit Price"].str.lstrip("-").str.split(".", n=1, expand=True).reindex(columns=[0, 1]).fillna("")
cents = parts[0].astype(np.int64) * 100 + parts[1].str.ljust(2, "0").replace("", "00").astype(np.int64)
cents = np.where(ok["Unit Price"].str.startswith("-"), -cents, cents)
qty = ok["Qty"].str.split(".").str[0].astype(np.int64)
rate = ok["Currency"].str.upper().map(RATES).astype(np.int64)
micro = [int(q) * int(c) * int(r) for q, c, r in zip(qty, cents, rate)]
result = pd.DataFrame({
    "source_row": ok["source_row"], "product_ean": ok["Product EAN"], "functional_name": ok["Functional Name"], "reseller": ok["Reseller"],
    "country": ok["Country"].str.upper(), "currency": ok["Currency"].str.upper(), "quantity": qty, "unit_price": cents / 100,
    "sales_eur_micro": micro, "sale_date": date[reason == ""].dt.date, "year": date[reason == ""].dt.year, "month": date[reason == ""].dt.month,
})
result["sales_eur_micro"] = result["sales_eur_micro"].astype("int64")
result.to_parquet(f"{out}/pandas.parquet", compression="zstd")
rejects.to_csv(f"{out}/pandas.rejects.csv", index=False)
total = sum(micro)
print(json.dumps({"accepted": len(ok), "rejects": dict(sorted(rejects["reason"].value_counts().items())), "sales_eur": f"{total // 10**6}.{total % 10**6:06d}"}))
