//! Guarded SQL over the analytics bench's sale lines (not its rollups), as `/api/query` and the
//! chat run it: the queries the `cluster` and `small_files` benches time.

/// Name and SQL of each query.
pub const QUERIES: [(&str, &str); 5] = [
    ("count", "SELECT count(*) AS n FROM sellout_entries"),
    (
        "revenue per reseller",
        "SELECT reseller, sum(sales_eur) AS revenue, sum(quantity) AS units FROM sellout_entries GROUP BY reseller ORDER BY revenue DESC",
    ),
    (
        "products per month",
        "SELECT year, month, count(DISTINCT product_ean) AS products FROM sellout_entries GROUP BY year, month ORDER BY year, month",
    ),
    (
        "top 10 products of 2025",
        "SELECT product_ean, sum(sales_eur) AS revenue FROM sellout_entries WHERE year = 2025 GROUP BY product_ean ORDER BY revenue DESC, product_ean LIMIT 10",
    ),
    (
        "one month's resellers",
        "SELECT reseller, sum(sales_eur) AS revenue FROM sellout_entries WHERE year = 2024 AND month = 3 GROUP BY reseller ORDER BY reseller",
    ),
];
