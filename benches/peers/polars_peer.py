"""The benchmark rules in Polars: same checks, same order, exact integer money, Parquet zstd out."""
import json, sys
import polars as pl

RATES = {"EUR": 10000, "GBP": 11700, "CHF": 10500, "PLN": 2300, "SEK": 870, "USD": 9200}
src, out = sys.argv[1], sys.argv[2]
if src.endswith(".xlsx"):
    # calamine through fastexcel, every cell as text, as TaskifAI reads it.
    df = pl.read_excel(src, engine="calamine", infer_schema_length=0).lazy().with_row_index("source_row", offset=2)
else:
    df = pl.scan_csv(src, infer_schema=False).with_row_index("source_row", offset=2)
t = {c: pl.col(c).str.strip_chars() for c in ["Reseller", "Store", "Country", "Product EAN", "Product Name", "Functional Name", "Qty", "Unit Price", "Currency", "Sales Date"]}
t = {k: v.fill_null("") for k, v in t.items()}
date = t["Sales Date"].str.to_date("%d/%m/%Y", strict=False)
reason = (
    pl.when(t["Product EAN"] == "").then(pl.lit("missing_ean"))
    .when(~t["Product EAN"].str.contains(r"^\d{8,14}$")).then(pl.lit("bad_ean"))
    .when(~t["Qty"].str.contains(r"^-?\d+(\.0+)?$")).then(pl.lit("bad_qty"))
    .when(~t["Unit Price"].str.contains(r"^-?\d+(\.\d{1,2})?$")).then(pl.lit("bad_price"))
    .when(~t["Sales Date"].str.contains(r"^\d{2}/\d{2}/\d{4}$") | date.is_null()).then(pl.lit("bad_date"))
    .when(~t["Currency"].str.to_uppercase().is_in(list(RATES))).then(pl.lit("bad_currency"))
)
df = df.with_columns(reason.alias("reason"), date.alias("sale_date"), *[v.alias(k) for k, v in t.items()]).collect()
rejects = df.filter(pl.col("reason").is_not_null()).select("source_row", "reason")
ok = df.filter(pl.col("reason").is_null())
price = pl.col("Unit Price")
neg = price.str.starts_with("-")
whole = price.str.replace("^-", "").str.split(".").list.get(0).cast(pl.Int64)
frac = price.str.split(".").list.get(1, null_on_oob=True).fill_null("").str.pad_end(2, "0").cast(pl.Int64, strict=False).fill_null(0)
cents = pl.when(neg).then(-(whole * 100 + frac)).otherwise(whole * 100 + frac)
qty = pl.col("Qty").str.split(".").list.get(0).cast(pl.Int64)
rate = pl.col("Currency").str.to_uppercase().replace_strict(RATES, return_dtype=pl.Int64)
ok = ok.with_columns(qty.alias("quantity"), cents.alias("cents"), rate.alias("rate"))
ok = ok.with_columns((pl.col("quantity").cast(pl.Int128) * pl.col("cents") * pl.col("rate")).alias("micro"))
result = ok.select(
    "source_row",
    pl.col("Product EAN").alias("product_ean"), pl.col("Functional Name").alias("functional_name"), pl.col("Reseller").alias("reseller"),
    pl.col("Country").str.to_uppercase().alias("country"), pl.col("Currency").str.to_uppercase().alias("currency"), "quantity",
    (pl.col("cents").cast(pl.Decimal(12, 2)) / 100).alias("unit_price"), (pl.col("micro").cast(pl.Decimal(38, 0)) / 1_000_000).cast(pl.Decimal(18, 6)).alias("sales_eur"),
    "sale_date", pl.col("sale_date").dt.year().alias("year"), pl.col("sale_date").dt.month().alias("month"),
)
result.write_parquet(f"{out}/polars.parquet", compression="zstd")
rejects.write_csv(f"{out}/polars.rejects.csv")
total = int(ok["micro"].sum())
print(json.dumps({"accepted": ok.height, "rejects": dict(sorted(rejects.group_by("reason").len().iter_rows())), "sales_eur": f"{total // 10**6}.{total % 10**6:06d}" if total >= 0 else f"-{(-total) // 10**6}.{(-total) % 10**6:06d}"}))
