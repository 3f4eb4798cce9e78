"""The benchmark rules in DuckDB SQL: same checks, same order, exact integer money, Parquet zstd out."""
import json, sys
import duckdb

src, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("CREATE TABLE rates AS SELECT * FROM (VALUES ('EUR', 10000), ('GBP', 11700), ('CHF', 10500), ('PLN', 2300), ('SEK', 870), ('USD', 9200)) t(currency, rate)")
con.execute(f"""
CREATE TABLE src AS
SELECT row_number() OVER () + 1 AS source_row,
       trim(coalesce("Reseller", '')) AS reseller, trim(coalesce("Country", '')) AS country, trim(coalesce("Product EAN", '')) AS ean,
       trim(coalesce("Functional Name", '')) AS fname, trim(coalesce("Qty", '')) AS qty, trim(coalesce("Unit Price", '')) AS price,
       upper(trim(coalesce("Currency", ''))) AS currency, trim(coalesce("Sales Date", '')) AS sdate
FROM read_csv('{src}', all_varchar = true, header = true)""")
con.execute("""
CREATE TABLE checked AS
SELECT s.*, try_strptime(sdate, '%d/%m/%Y')::DATE AS sale_date, r.rate,
  CASE WHEN ean = '' THEN 'missing_ean'
       WHEN NOT regexp_full_match(ean, '\\d{8,14}') THEN 'bad_ean'
       WHEN NOT regexp_full_match(qty, '-?\\d+(\\.0+)?') THEN 'bad_qty'
       WHEN NOT regexp_full_match(price, '-?\\d+(\\.\\d{1,2})?') THEN 'bad_price'
       WHEN NOT regexp_full_match(sdate, '\\d{2}/\\d{2}/\\d{4}') OR try_strptime(sdate, '%d/%m/%Y') IS NULL THEN 'bad_date'
       WHEN r.rate IS NULL THEN 'bad_currency' END AS reason
FROM src s LEFT JOIN rates r USING (currency)""")
con.execute(f"COPY (SELECT source_row, reason FROM checked WHERE reason IS NOT NULL ORDER BY source_row) TO '{out}/duckdb.rejects.csv' (HEADER)")
con.execute("""
CREATE TABLE ok AS SELECT source_row, ean AS product_ean, fname AS functional_name, reseller, upper(country) AS country, currency,
  CAST(split_part(qty, '.', 1) AS BIGINT) AS quantity, CAST(price AS DECIMAL(12, 2)) AS unit_price, rate, sale_date,
  year(sale_date) AS year, month(sale_date) AS month FROM checked WHERE reason IS NULL""")
con.execute(f"""COPY (SELECT * EXCLUDE (rate), CAST(quantity * unit_price * rate / 10000 AS DECIMAL(18, 6)) AS sales_eur FROM ok)
  TO '{out}/duckdb.parquet' (FORMAT parquet, COMPRESSION zstd)""")
accepted, total = con.execute("SELECT count(*), CAST(sum(CAST(quantity AS HUGEINT) * CAST(unit_price * 100 AS HUGEINT) * rate) AS HUGEINT) FROM ok").fetchone()
rejects = dict(con.execute("SELECT reason, count(*) FROM checked WHERE reason IS NOT NULL GROUP BY 1 ORDER BY 1").fetchall())
print(json.dumps({"accepted": accepted, "rejects": rejects, "sales_eur": f"{total // 10**6}.{total % 10**6:06d}"}))
