//! Analytics over one tenant's session: every sale (sell-out rows and web-shop orders) as one
//! `sales` view, narrowed by [`Filters`], then KPIs, time series, rankings and rows.
//!
//! User input never becomes SQL text: filters are DataFusion expressions with literal values,
//! dates are placeholders bound at run time ([`Query`]), and the only values formatted into
//! SQL are a ranking's or a page's row counts, which are numbers.

use chrono::{Datelike, Duration, NaiveDate};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::Result;
use datafusion::prelude::{col, lit, Expr, SessionContext};
use serde::{Deserialize, Serialize};

mod plans;
pub use plans::{run, Plans, Query};

/// [`LINES_SQL`]'s text, as a literal so that [`SALES_SQL`] can be built on it.
macro_rules! lines_sql {
    () => {
        "
SELECT coalesce(sale_date, period_start) AS day, coalesce(sale_date, period_end) AS day_end, reseller, store, channel, country, product_ean,
       coalesce(functional_name, vendor_product_name, product_ean) AS product, quantity, sales_eur,
       CAST(NULL AS VARCHAR) AS order_key, CAST(1 AS BIGINT) AS lines, CAST(1 AS BIGINT) AS own_orders,
       CAST(CASE WHEN quantity > 0 THEN 1 ELSE 0 END AS BIGINT) AS sold, batch_id, source_row
FROM sellout_entries
UNION ALL
SELECT order_date AS day, order_date AS day_end, reseller, CAST(NULL AS VARCHAR) AS store, 'online' AS channel, country, product_ean,
       coalesce(functional_name, product_name, product_ean) AS product, quantity, sales_eur,
       order_id AS order_key, CAST(1 AS BIGINT) AS lines, CAST(0 AS BIGINT) AS own_orders,
       CAST(CASE WHEN quantity > 0 THEN 1 ELSE 0 END AS BIGINT) AS sold, batch_id, source_row
FROM ecommerce_orders"
    };
}

/// The union of both canonical tables, one row per sale line: the chat's `sales` view. Each
/// sell-out line is its own order, keyed by its batch and row.
pub const SALES_SQL: &str = concat!(
    "
SELECT day, day_end, reseller, store, channel, country, product_ean, product, quantity, sales_eur,
       coalesce(order_key, batch_id || ':' || CAST(source_row AS VARCHAR)) AS order_key
FROM (",
    lines_sql!(),
    ") AS sale_lines"
);

// Open ends of a window; SQL date literals need real dates.
const EARLIEST: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date");
const LATEST: NaiveDate = NaiveDate::from_ymd_opt(2999, 12, 31).expect("valid date");

/// What every analytics request can narrow by.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// last_7_days, last_30_days, last_90_days, this_month, last_month, this_quarter,
    /// last_quarter, this_year, last_year, year_to_date.
    pub range: Option<String>,
    pub channel: Option<String>,
    pub reseller: Option<String>,
    /// EAN or functional name.
    pub product: Option<String>,
    pub country: Option<String>,
    pub store: Option<String>,
}

/// Growth from `before` to `now` in percent, to two decimals; `None` when there was nothing
/// before to grow from.
pub fn growth_pct(now: f64, before: f64) -> Option<f64> {
    (before != 0.0).then(|| ((now - before) / before * 10000.0).round() / 100.0)
}

/// A closed date window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Window {
    fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The window just before: as many calendar months when the window is whole months
    /// (November's is October, a quarter's the quarter before), else as many days. Monthly
    /// files date their rows on the 1st, so "the 30 days before November" (2 to 31 October)
    /// would leave October's monthly reports out and show growth that is not there.
    pub fn previous(&self) -> Self {
        if let Some(n) = self.whole_months() {
            return Self {
                from: self.from - chrono::Months::new(n),
                to: self.from - Duration::days(1),
            };
        }
        let len = Duration::days(self.days());
        Self {
            from: self.from - len,
            to: self.to - len,
        }
    }

    /// How many calendar months the window is, when it starts on a 1st and ends on a last day.
    fn whole_months(&self) -> Option<u32> {
        let after = self.to.succ_opt()?;
        (self.from.day() == 1 && after.day() == 1).then(|| {
            let index = |d: NaiveDate| d.year() * 12 + d.month() as i32;
            (index(after) - index(self.from)) as u32
        })
    }

    /// The same dates a year earlier.
    pub fn year_before(&self) -> Self {
        let back = |d: NaiveDate| d.with_year(d.year() - 1).unwrap_or(d - Duration::days(365));
        Self {
            from: back(self.from),
            to: back(self.to),
        }
    }

    /// `day` within the window, its dates placeholders of `q`.
    fn sql(&self, q: &mut Query) -> String {
        format!("day BETWEEN {} AND {}", q.date(self.from), q.date(self.to))
    }

    /// The calendar months lying wholly inside the window, as a window from the first's 1st
    /// to the last's last day; `None` when there is none.
    pub fn whole_months_within(&self) -> Option<Window> {
        let from = if self.from.day() == 1 {
            self.from
        } else {
            self.from.with_day(1)? + chrono::Months::new(1)
        };
        let to = if self.to.succ_opt()?.day() == 1 {
            self.to
        } else {
            self.to.with_day(1)?.pred_opt()?
        };
        (from <= to).then_some(Window { from, to })
    }
}

/// A named range relative to `today`.
pub fn named_range(name: &str, today: NaiveDate) -> Option<Window> {
    let month_start = |d: NaiveDate| d.with_day(1).expect("day 1 exists");
    let quarter_start = |d: NaiveDate| {
        NaiveDate::from_ymd_opt(d.year(), (d.month0() / 3) * 3 + 1, 1).expect("valid quarter")
    };
    let w = |from, to| Some(Window { from, to });
    match name {
        "last_7_days" => w(today - Duration::days(6), today),
        "last_30_days" => w(today - Duration::days(29), today),
        "last_90_days" => w(today - Duration::days(89), today),
        "this_month" => w(month_start(today), today),
        "last_month" => {
            let end = month_start(today) - Duration::days(1);
            w(month_start(end), end)
        }
        "this_quarter" => w(quarter_start(today), today),
        "last_quarter" => {
            let end = quarter_start(today) - Duration::days(1);
            w(quarter_start(end), end)
        }
        "this_year" | "year_to_date" => w(NaiveDate::from_ymd_opt(today.year(), 1, 1)?, today),
        "last_year" => w(
            NaiveDate::from_ymd_opt(today.year() - 1, 1, 1)?,
            NaiveDate::from_ymd_opt(today.year() - 1, 12, 31)?,
        ),
        _ => None,
    }
}

/// Why filters were refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FilterError {
    #[error("unknown range {0:?}; use last_7_days, last_30_days, last_90_days, this_month, last_month, this_quarter, last_quarter, this_year, last_year or year_to_date")]
    UnknownRange(String),
    #[error("`from` {from} is after `to` {to}")]
    Inverted { from: NaiveDate, to: NaiveDate },
    #[error("channel {0:?}: expected retail or online")]
    Channel(String),
    #[error("date {0} is out of range: dates go from {EARLIEST} to {LATEST}")]
    OutOfRange(NaiveDate),
}

impl Filters {
    /// The explicit window, if the filters name one; checks them on the way.
    pub fn window(&self, today: NaiveDate) -> Result<Option<Window>, FilterError> {
        if let Some(c) = &self.channel {
            if c != "retail" && c != "online" {
                return Err(FilterError::Channel(c.clone()));
            }
        }
        if let Some(r) = &self.range {
            return named_range(r, today)
                .map(Some)
                .ok_or_else(|| FilterError::UnknownRange(r.clone()));
        }
        if let Some(d) = [self.from, self.to]
            .into_iter()
            .flatten()
            .find(|d| !(EARLIEST..=LATEST).contains(d))
        {
            return Err(FilterError::OutOfRange(d));
        }
        match (self.from, self.to) {
            (Some(from), Some(to)) if from > to => Err(FilterError::Inverted { from, to }),
            (None, None) => Ok(None),
            (from, to) => Ok(Some(Window {
                from: from.unwrap_or(EARLIEST),
                to: to.unwrap_or(LATEST),
            })),
        }
    }

    fn predicate(&self) -> Option<Expr> {
        let eq = |c: &str, v: &Option<String>| v.as_ref().map(|v| col(c).eq(lit(v.clone())));
        [
            eq("channel", &self.channel),
            eq("reseller", &self.reseller),
            eq("store", &self.store),
            self.country
                .as_ref()
                .map(|c| col("country").eq(lit(c.to_uppercase()))),
            self.product.as_ref().map(|p| {
                col("product_ean")
                    .eq(lit(p.clone()))
                    .or(col("product").eq(lit(p.clone())))
            }),
        ]
        .into_iter()
        .flatten()
        .reduce(Expr::and)
    }
}

/// Every sale line of both tables with the additive columns the dashboard's queries count
/// with, so that the same query reads these lines or a rollup of them ([`Grain`]) and gets the same
/// answer: `lines` (1 per line), `own_orders` (1 for a sell-out line, which is its own order),
/// `sold` (1 when units went out) and `order_key` (a web-shop order, counted distinct).
pub const LINES_SQL: &str = lines_sql!();

/// A rollup of [`LINES_SQL`]: the lines summed per batch, day span, reseller, channel,
/// country, web-shop order and the grain's own columns. Sums of sums are the sums, `sold > 0`
/// keeps exactly the products with a line that sold, and orders stay countable (`own_orders`
/// sums, web-shop orders stay distinct keys), so a query that uses only a grain's columns gets
/// from it exactly what it gets from the lines, in a fraction of the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grain {
    /// Per product: every dashboard query but the store ones and the line list (a sell-out
    /// file's stores collapse).
    Products,
    /// Per store: the store ranking when no product is asked for (products collapse).
    Stores,
}

impl Grain {
    /// The table a session registers the rollup as.
    pub fn table(self) -> &'static str {
        match self {
            Grain::Products => "rollup_products",
            Grain::Stores => "rollup_stores",
        }
    }

    /// The table a session registers the rollup's month layer as.
    pub fn months_table(self) -> &'static str {
        match self {
            Grain::Products => "rollup_products_months",
            Grain::Stores => "rollup_stores_months",
        }
    }

    /// The grain's own key columns, then the other grain's (null in its rows): the order of
    /// the rollup's columns.
    fn keys(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Grain::Products => (&["product_ean", "product"], &["store"]),
            Grain::Stores => (&["store"], &["product_ean", "product"]),
        }
    }

    /// The query that makes the rollup from a registered `lines` ([`LINES_SQL`]), sorted by
    /// batch so that each batch's rows are one run.
    pub fn sql(self) -> String {
        let (keys, absent) = self.keys();
        let absent: Vec<String> = absent
            .iter()
            .map(|c| format!("CAST(NULL AS VARCHAR) AS {c}"))
            .collect();
        let (keys, absent) = (keys.join(", "), absent.join(", "));
        format!(
            "SELECT batch_id, day, day_end, reseller, channel, country, {keys}, {absent}, order_key,
                    sum(quantity) AS quantity, sum(sales_eur) AS sales_eur,
                    sum(lines) AS lines, sum(own_orders) AS own_orders, sum(sold) AS sold
             FROM lines
             GROUP BY batch_id, day, day_end, reseller, channel, country, {keys}, order_key
             ORDER BY batch_id"
        )
    }

    /// The query that makes the month layer from a registered `days` (rows of [`Grain::sql`]),
    /// sorted by batch: the same columns, summed per calendar month of `day`, each row dated on
    /// its month's first day (`day_end` is the latest of its rows'). A window's whole months can
    /// be read from it ([`Window::whole_months_within`]), never parts of a month.
    pub fn months_sql(self) -> String {
        let (own, absent) = self.keys();
        let keys = [own, absent].concat().join(", ");
        format!(
            "SELECT batch_id, CAST(date_trunc('month', day) AS DATE) AS day, max(day_end) AS day_end,
                    reseller, channel, country, {keys}, order_key,
                    sum(quantity) AS quantity, sum(sales_eur) AS sales_eur,
                    sum(lines) AS lines, sum(own_orders) AS own_orders, sum(sold) AS sold
             FROM days
             GROUP BY batch_id, CAST(date_trunc('month', day) AS DATE), reseller, channel, country, {keys}, order_key
             ORDER BY batch_id"
        )
    }
}

/// Orders among the lines of a query: sell-out lines each, web-shop orders once.
const ORDERS: &str = "(coalesce(sum(own_orders), 0) + count(DISTINCT order_key))";

/// Which rows the dashboard's queries read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Every line ([`LINES_SQL`]).
    Lines,
    /// A rollup, registered in the session as [`Grain::table`].
    Rollup(Grain),
}

impl Source {
    /// The smallest source that answers queries under `filters`, for a query that groups by
    /// store or not.
    pub fn for_query(filters: &Filters, by_store: bool) -> Self {
        match (
            by_store || filters.store.is_some(),
            filters.product.is_some(),
        ) {
            (false, _) => Source::Rollup(Grain::Products),
            // Only the store ranking reads the store rollup: the other queries count products.
            (true, false) if by_store => Source::Rollup(Grain::Stores),
            _ => Source::Lines,
        }
    }
}

/// The month layer of a rollup, narrowed as `f` is ([`register_filtered`]).
const MONTHS: &str = "fm";

/// Registers `f`: the tenant's sales narrowed by everything but the dates; for a rollup whose
/// month layer the session has, also that layer narrowed the same way.
pub async fn register_filtered(
    ctx: &SessionContext,
    filters: &Filters,
    from: Source,
) -> Result<()> {
    // The dates are the queries' own; everything else narrows `f`.
    let narrowing = Filters {
        from: None,
        to: None,
        range: None,
        ..filters.clone()
    };
    let narrowing = serde_json::to_string(&narrowing).expect("filters serialize");
    plans::set_scope(ctx, format!("{from:?} {narrowing}"));
    let narrowed = |mut df: datafusion::dataframe::DataFrame| -> Result<_> {
        if let Some(p) = filters.predicate() {
            df = df.filter(p)?;
        }
        Ok(df.into_view())
    };
    match from {
        Source::Lines => ctx.register_table("f", narrowed(ctx.sql(LINES_SQL).await?)?)?,
        Source::Rollup(g) => {
            if ctx.table_exist(g.months_table())? {
                ctx.register_table(MONTHS, narrowed(ctx.table(g.months_table()).await?)?)?;
            }
            ctx.register_table("f", narrowed(ctx.table(g.table()).await?)?)?
        }
    };
    Ok(())
}

/// The rows of `f` dated in `w`, as a FROM item `w`: when `months` and the session has a month
/// layer, the whole months inside the window come from it and only the days around them from
/// `f`. Only for queries that use `day` for nothing but the window: a month row is dated on
/// its month's 1st.
fn within(ctx: &SessionContext, w: Window, months: bool, q: &mut Query) -> String {
    let layer = months && ctx.table_exist(MONTHS).unwrap_or(false);
    let Some(m) = w.whole_months_within().filter(|_| layer) else {
        return format!("(SELECT * FROM f WHERE {}) AS w", w.sql(q));
    };
    let mut edges = vec![];
    if w.from < m.from {
        edges.push(
            Window {
                from: w.from,
                to: m.from - Duration::days(1),
            }
            .sql(q),
        );
    }
    if m.to < w.to {
        edges.push(
            Window {
                from: m.to + Duration::days(1),
                to: w.to,
            }
            .sql(q),
        );
    }
    let whole = format!("SELECT * FROM {MONTHS} WHERE {}", m.sql(q));
    if edges.is_empty() {
        format!("({whole}) AS w")
    } else {
        format!(
            "({whole} UNION ALL SELECT * FROM f WHERE {}) AS w",
            edges.join(" OR ")
        )
    }
}

/// The window to report on: the one asked for, or all the data there is (a monthly file's
/// rows count from the first to the last day of their month).
pub async fn resolve_window(ctx: &SessionContext, asked: Option<Window>) -> Result<Option<Window>> {
    if let Some(w) = asked {
        return Ok(Some(w));
    }
    let span = "SELECT CAST(min(day) AS VARCHAR), CAST(max(day_end) AS VARCHAR) FROM f";
    let batches = run(ctx, &Query::default().with(span.into())).await?;
    let text = |i: usize| {
        let b = batches.iter().find(|b| b.num_rows() > 0)?;
        let utf8 = datafusion::arrow::compute::cast(
            b.column(i),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .ok()?;
        datafusion::arrow::array::as_string_array(&utf8)
            .iter()
            .next()
            .flatten()
            .map(str::to_owned)
    };
    Ok(match (text(0), text(1)) {
        (Some(a), Some(b)) => Some(Window {
            from: a
                .parse()
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?,
            to: b
                .parse()
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?,
        }),
        _ => None,
    })
}

/// Revenue (EUR, exact decimal text), units, orders, average order value, units per
/// transaction, active resellers and products in a window.
pub fn totals_sql(ctx: &SessionContext, w: Window) -> Query {
    let mut q = Query::default();
    let sql = format!(
        "SELECT CAST(coalesce(sum(sales_eur), 0) AS VARCHAR) AS revenue_eur, coalesce(sum(quantity), 0) AS units, {ORDERS} AS orders,
                CAST(round(CAST(sum(sales_eur) AS DOUBLE) / nullif({ORDERS}, 0), 2) AS DOUBLE) AS average_order_value,
                round(CAST(sum(quantity) AS DOUBLE) / nullif({ORDERS}, 0), 3) AS units_per_transaction,
                count(DISTINCT reseller) AS active_resellers, count(DISTINCT product) AS active_products
         FROM {}",
        within(ctx, w, true, &mut q)
    );
    q.with(sql)
}

/// Runs [`totals_sql`].
pub async fn totals(ctx: &SessionContext, w: Window) -> Result<Vec<RecordBatch>> {
    run(ctx, &totals_sql(ctx, w)).await
}

/// Products sold in the last 30 days of the window (fast) and in its last 90 but not its last 30 (slow).
pub fn movers_sql(w: Window) -> Query {
    let recent = Window {
        from: w.to - Duration::days(29),
        to: w.to,
    };
    let quarter = Window {
        from: w.to - Duration::days(89),
        to: w.to,
    };
    let mut q = Query::default();
    let (r, quarter) = (recent.sql(&mut q), quarter.sql(&mut q));
    let sql = format!(
        // One pass per product, not an anti-join of every line against the last 30 days'.
        "SELECT count(*) FILTER (WHERE recent > 0) AS fast_movers, count(*) FILTER (WHERE recent = 0) AS slow_movers
         FROM (SELECT product, sum(CASE WHEN {r} THEN sold ELSE 0 END) AS recent
               FROM f WHERE sold > 0 AND {quarter} AND product IS NOT NULL GROUP BY product)"
    );
    q.with(sql)
}

/// Runs [`movers_sql`].
pub async fn movers(ctx: &SessionContext, w: Window) -> Result<Vec<RecordBatch>> {
    run(ctx, &movers_sql(w)).await
}

/// Revenue and units by channel.
pub fn channel_mix_sql(ctx: &SessionContext, w: Window) -> Query {
    let mut q = Query::default();
    let sql = format!("SELECT channel, CAST(sum(sales_eur) AS VARCHAR) AS revenue_eur, sum(quantity) AS units, sum(lines) AS lines FROM {} GROUP BY channel ORDER BY channel", within(ctx, w, true, &mut q));
    q.with(sql)
}

/// Runs [`channel_mix_sql`].
pub async fn channel_mix(ctx: &SessionContext, w: Window) -> Result<Vec<RecordBatch>> {
    run(ctx, &channel_mix_sql(ctx, w)).await
}

/// Revenue of a window, as decimal text (for growth).
pub fn revenue_sql(ctx: &SessionContext, w: Window) -> Query {
    let mut q = Query::default();
    let sql = format!(
        "SELECT CAST(sum(sales_eur) AS VARCHAR) AS revenue_eur, sum(quantity) AS units FROM {}",
        within(ctx, w, true, &mut q)
    );
    q.with(sql)
}

/// Runs [`revenue_sql`].
pub async fn revenue(ctx: &SessionContext, w: Window) -> Result<Vec<RecordBatch>> {
    run(ctx, &revenue_sql(ctx, w)).await
}

/// Time buckets of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Day,
    Week,
    Month,
}

pub fn timeseries_sql(ctx: &SessionContext, w: Window, bucket: Bucket) -> Query {
    let unit = bucket.unit();
    let mut q = Query::default();
    let sql = format!(
        // Dates become text after grouping, once per bucket instead of once per row.
        "SELECT CAST(period AS VARCHAR) AS period, CAST(revenue AS VARCHAR) AS revenue_eur, units, orders
         FROM (SELECT CAST(date_trunc('{unit}', day) AS DATE) AS period, sum(sales_eur) AS revenue, sum(quantity) AS units, {ORDERS} AS orders
               FROM {} WHERE {} GROUP BY 1)
         ORDER BY 1",
        // A month series buckets whole months as they are.
        within(ctx, w, bucket == Bucket::Month, &mut q), bucket.within()
    );
    q.with(sql)
}

/// Runs [`timeseries_sql`].
pub async fn timeseries(
    ctx: &SessionContext,
    w: Window,
    bucket: Bucket,
) -> Result<Vec<RecordBatch>> {
    run(ctx, &timeseries_sql(ctx, w, bucket)).await
}

/// Revenue and units a day or week series leaves out: lines of reports that cover more than one
/// bucket (a monthly report's lines are dated on its first day, and would make a spike there).
/// A month series keeps every line in the month its period starts.
pub async fn outside_buckets(
    ctx: &SessionContext,
    w: Window,
    bucket: Bucket,
) -> Result<Option<Vec<RecordBatch>>> {
    if bucket == Bucket::Month {
        return Ok(None);
    }
    let unit = bucket.unit();
    let mut q = Query::default();
    let sql = format!(
        "SELECT CAST(coalesce(sum(sales_eur), 0) AS VARCHAR) AS revenue_eur, coalesce(sum(quantity), 0) AS units
         FROM f WHERE {} AND date_trunc('{unit}', day) <> date_trunc('{unit}', day_end)", w.sql(&mut q)
    );
    run(ctx, &q.with(sql)).await.map(Some)
}

impl Bucket {
    fn unit(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }

    /// The condition that keeps a day or week series to lines dated within one bucket.
    fn within(self) -> String {
        match self {
            Bucket::Month => "true".into(),
            b => format!(
                "date_trunc('{0}', day) = date_trunc('{0}', day_end)",
                b.unit()
            ),
        }
    }
}

/// What a ranking groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Product,
    Reseller,
    Market,
    Store,
}

pub fn top_sql(ctx: &SessionContext, w: Window, by: Dimension, limit: usize) -> Query {
    let key = match by {
        Dimension::Product => "product",
        Dimension::Reseller => "reseller",
        Dimension::Market => "country",
        Dimension::Store => "store",
    };
    let extra = if by == Dimension::Store {
        ", min(reseller) AS reseller"
    } else {
        ""
    };
    let mut q = Query::default();
    let sql = format!(
        "SELECT {key} AS name{extra}, CAST(sum(sales_eur) AS VARCHAR) AS revenue_eur, sum(quantity) AS units, {ORDERS} AS orders
         FROM {} WHERE {key} IS NOT NULL GROUP BY {key} ORDER BY sum(sales_eur) DESC NULLS LAST, {key} LIMIT {}", within(ctx, w, true, &mut q), limit.clamp(1, 1000)
    );
    q.with(sql)
}

/// Runs [`top_sql`].
pub async fn top(
    ctx: &SessionContext,
    w: Window,
    by: Dimension,
    limit: usize,
) -> Result<Vec<RecordBatch>> {
    run(ctx, &top_sql(ctx, w, by, limit)).await
}

/// Sale lines, newest first.
pub async fn rows(
    ctx: &SessionContext,
    w: Window,
    limit: usize,
    offset: usize,
) -> Result<Vec<RecordBatch>> {
    let mut q = Query::default();
    let sql = format!(
        "SELECT CAST(day AS VARCHAR) AS day, reseller, store, channel, country, product_ean, product, quantity, CAST(sales_eur AS VARCHAR) AS sales_eur
         FROM f WHERE {} ORDER BY day DESC, reseller, product, batch_id, source_row, order_key LIMIT {} OFFSET {}", w.sql(&mut q), limit.clamp(1, 1000), offset
    );
    run(ctx, &q.with(sql).once()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn named_ranges_follow_the_calendar() {
        let today = d("2025-05-14");
        assert_eq!(
            named_range("last_month", today),
            Some(Window {
                from: d("2025-04-01"),
                to: d("2025-04-30")
            })
        );
        assert_eq!(
            named_range("this_quarter", today),
            Some(Window {
                from: d("2025-04-01"),
                to: today
            })
        );
        assert_eq!(
            named_range("last_quarter", today),
            Some(Window {
                from: d("2025-01-01"),
                to: d("2025-03-31")
            })
        );
        assert_eq!(named_range("last_30_days", today).unwrap().days(), 30);
        assert_eq!(named_range("fortnight", today), None);
    }

    #[test]
    fn comparison_windows_have_the_same_length() {
        let w = Window {
            from: d("2025-03-01"),
            to: d("2025-03-31"),
        };
        let window = |from, to| Window {
            from: d(from),
            to: d(to),
        };
        // Whole months compare with the months before: a 30-day month after a 31-day one
        // keeps the 1st, where monthly files date their rows.
        assert_eq!(w.previous(), window("2025-02-01", "2025-02-28"));
        assert_eq!(
            window("2026-11-01", "2026-11-30").previous(),
            window("2026-10-01", "2026-10-31")
        );
        assert_eq!(
            window("2025-04-01", "2025-06-30").previous(),
            window("2025-01-01", "2025-03-31")
        );
        assert_eq!(
            window("2025-01-01", "2025-12-31").previous(),
            window("2024-01-01", "2024-12-31")
        );
        // Other windows: the same number of days just before.
        assert_eq!(
            window("2025-03-10", "2025-03-16").previous(),
            window("2025-03-03", "2025-03-09")
        );
        assert_eq!(
            window("2025-03-01", "2025-03-30").previous(),
            window("2025-01-30", "2025-02-28")
        );
        assert_eq!(
            w.year_before(),
            Window {
                from: d("2024-03-01"),
                to: d("2024-03-31")
            }
        );
    }

    #[test]
    fn whole_months_within_a_window() {
        let window = |from, to| Window {
            from: d(from),
            to: d(to),
        };
        let whole = |from, to| window(from, to).whole_months_within();
        assert_eq!(
            whole("2025-01-15", "2025-04-10"),
            Some(window("2025-02-01", "2025-03-31"))
        );
        assert_eq!(
            whole("2025-01-01", "2025-01-31"),
            Some(window("2025-01-01", "2025-01-31"))
        );
        assert_eq!(
            whole("2024-02-01", "2024-02-29"),
            Some(window("2024-02-01", "2024-02-29"))
        );
        assert_eq!(whole("2024-02-01", "2024-02-28"), None);
        assert_eq!(whole("2025-01-02", "2025-02-27"), None);
        assert_eq!(
            whole("2024-12-31", "2025-02-01"),
            Some(window("2025-01-01", "2025-01-31"))
        );
    }

    #[test]
    fn dates_outside_the_supported_range_are_refused() {
        let f = Filters {
            from: Some(NaiveDate::from_ymd_opt(-200_000, 1, 1).unwrap()),
            ..Default::default()
        };
        let err = f.window(d("2025-01-01")).unwrap_err();
        assert!(err
            .to_string()
            .contains("dates go from 1900-01-01 to 2999-12-31"));
    }

    #[test]
    fn bad_filters_are_named() {
        let f = Filters {
            range: Some("soon".into()),
            ..Default::default()
        };
        assert!(matches!(
            f.window(d("2025-01-01")),
            Err(FilterError::UnknownRange(_))
        ));
        let f = Filters {
            from: Some(d("2025-02-01")),
            to: Some(d("2025-01-01")),
            ..Default::default()
        };
        assert!(matches!(
            f.window(d("2025-01-01")),
            Err(FilterError::Inverted { .. })
        ));
        let f = Filters {
            channel: Some("mail".into()),
            ..Default::default()
        };
        assert_eq!(
            f.window(d("2025-01-01")),
            Err(FilterError::Channel("mail".into()))
        );
    }
}
