//! SQL for an [`Interpretation`], over the `sales` view of both canonical tables. Names come
//! from the tenant's data, so they are quoted as SQL string literals, never trusted as SQL.

use super::{Channel, Intent, Interpretation, Measure};
use crate::analytics::{Window, SALES_SQL};

/// A SQL string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn between(w: &Window) -> String {
    format!("day BETWEEN DATE '{}' AND DATE '{}'", w.from, w.to)
}

fn measure_expr(m: Measure) -> &'static str {
    match m {
        Measure::Revenue => "sales_eur",
        Measure::Units => "quantity",
    }
}

fn measure_name(m: Measure) -> &'static str {
    match m {
        Measure::Revenue => "revenue_eur",
        Measure::Units => "units",
    }
}

/// The conditions every shape shares: names, channel and (unless a comparison spans two
/// periods) the period.
fn conditions(i: &Interpretation) -> Vec<String> {
    let mut c = Vec::new();
    match (&i.intent, &i.period) {
        (Intent::Compare { other }, Some(p)) => c.push(format!(
            "({} OR {})",
            between(&p.window),
            between(&other.window)
        )),
        (_, Some(p)) => c.push(between(&p.window)),
        (_, None) => {}
    }
    for e in &i.entities {
        let values: Vec<String> = e.values.iter().map(|v| literal(v)).collect();
        c.push(format!(
            "{} IN ({})",
            e.dimension.column(),
            values.join(", ")
        ));
    }
    match i.channel {
        Some(Channel::Online) => c.push("channel = 'online'".into()),
        Some(Channel::Offline) => c.push("channel <> 'online'".into()),
        None => {}
    }
    c
}

fn where_clause(c: &[String]) -> String {
    if c.is_empty() {
        String::new()
    } else {
        format!("\nWHERE {}", c.join("\n  AND "))
    }
}

/// Sales whose dates fall in one ISO week (a day's sale, a weekly report's lines).
pub const WITHIN_ONE_WEEK: &str = "date_trunc('week', day) = date_trunc('week', day_end)";

/// Rows the lines shape returns at most.
pub const LINES_LIMIT: usize = 200;

/// The statement that answers `i`.
pub fn sql(i: &Interpretation) -> String {
    let m = measure_expr(i.measure);
    let name = measure_name(i.measure);
    let mut c = conditions(i);
    let body = match &i.intent {
        Intent::Total => format!(
            "SELECT sum(sales_eur) AS revenue_eur, sum(quantity) AS units, count(*) AS lines\nFROM sales{}",
            where_clause(&c)
        ),
        Intent::Count { of } => {
            let col = of.column();
            format!("SELECT count(DISTINCT {col}) AS {col}s\nFROM sales{}", where_clause(&c))
        }
        Intent::Top { by, n, lowest } => {
            let col = by.column();
            c.push(format!("{col} IS NOT NULL"));
            format!(
                "SELECT {col}, sum({m}) AS {name}\nFROM sales{}\nGROUP BY {col}\nORDER BY {name} {}, {col}\nLIMIT {n}",
                where_clause(&c),
                if *lowest { "ASC" } else { "DESC" }
            )
        }
        Intent::Breakdown { by } => {
            let col = by.column();
            format!(
                "SELECT coalesce({col}, '(none)') AS {col}, sum({m}) AS {name},\n       round(100 * CAST(sum({m}) AS DOUBLE) / sum(CAST(sum({m}) AS DOUBLE)) OVER (), 1) AS share_pct\nFROM sales{}\nGROUP BY 1\nORDER BY {name} DESC, 1\nLIMIT 100",
                where_clause(&c)
            )
        }
        Intent::Trend { weekly } => {
            let grain = if *weekly { "week" } else { "month" };
            if *weekly {
                // A monthly report's lines are dated on its first day: put in that day's week
                // they would make a spike that never happened. Only sales dated within one
                // week are counted, and the answer says so.
                c.push(WITHIN_ONE_WEEK.into());
            }
            format!(
                "SELECT CAST(date_trunc('{grain}', day) AS DATE) AS {grain}, sum({m}) AS {name}\nFROM sales{}\nGROUP BY 1\nORDER BY 1",
                where_clause(&c)
            )
        }
        Intent::Compare { other } => {
            let p = i.period.as_ref().expect("a comparison has a first period");
            format!(
                "SELECT sum(CASE WHEN {} THEN {m} END) AS \"{}\",\n       sum(CASE WHEN {} THEN {m} END) AS \"{}\"\nFROM sales{}",
                between(&p.window),
                p.label.replace('"', ""),
                between(&other.window),
                other.label.replace('"', ""),
                where_clause(&c)
            )
        }
        Intent::Channels => format!(
            "SELECT CASE WHEN channel = 'online' THEN 'online' ELSE 'offline' END AS channel, sum({m}) AS {name}\nFROM sales{}\nGROUP BY 1\nORDER BY 1 DESC",
            where_clause(&c)
        ),
        Intent::Lines => format!(
            "SELECT day, reseller, store, country, product, product_ean, channel, quantity, sales_eur\nFROM sales{}\nORDER BY day, reseller, product\nLIMIT {LINES_LIMIT}",
            where_clause(&c)
        ),
    };
    format!("WITH sales AS ({})\n{body}", SALES_SQL.trim())
}

/// The months that hold sales for `i`'s names and channel in any period, to say what there is
/// when `i`'s own period holds none. `None` when `i` names no period or nothing to narrow by
/// (the data's span says it then).
pub fn months_sql(i: &Interpretation) -> Option<String> {
    if i.period.is_none() || (i.entities.is_empty() && i.channel.is_none()) {
        return None;
    }
    let all_time = Interpretation {
        period: None,
        ..i.clone()
    };
    Some(format!(
        "WITH sales AS ({})\nSELECT DISTINCT CAST(date_trunc('month', day) AS DATE) AS month\nFROM sales{}\nORDER BY 1",
        SALES_SQL.trim(),
        where_clause(&conditions(&all_time))
    ))
}
