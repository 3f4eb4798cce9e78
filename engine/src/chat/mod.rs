//! The built-in chat planner: a question in plain English becomes an [`Interpretation`] (what is
//! measured, over which period, for which names, in what shape), then SQL over the tenant's
//! `sales` view ([`plan`]) and, given the rows, a short answer ([`answer`]). No I/O: the caller
//! supplies today's date, the data's range and the tenant's names, and runs the SQL through the
//! guard. What it does not understand it declines, with examples; it never guesses a number.

pub mod answer;
pub mod check;
pub mod dates;
pub mod entities;
pub mod plan;
pub mod words;

use crate::analytics::Window;
use chrono::{Duration, NaiveDate};
use dates::Period;
use entities::{Dimension, Entity, Names, Vocabulary};
use serde::{Deserialize, Serialize};
use words::Words;

/// What is summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// `sales_eur`.
    Revenue,
    /// `quantity`.
    Units,
}

/// The shape of the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Intent {
    Total,
    /// How many distinct resellers, stores, countries or products sold.
    Count {
        of: Dimension,
    },
    Top {
        by: Dimension,
        n: usize,
        lowest: bool,
    },
    /// Every value of a dimension with its share of the total.
    Breakdown {
        by: Dimension,
    },
    /// By month (or ISO week).
    Trend {
        weekly: bool,
    },
    /// The period against another one.
    Compare {
        other: Period,
    },
    /// Online against offline (retail).
    Channels,
    /// The sales lines themselves.
    Lines,
}

/// Online or offline, as a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Online,
    Offline,
}

/// What the planner understood; shown to the user before the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interpretation {
    pub intent: Intent,
    pub measure: Measure,
    /// None: all the data there is.
    pub period: Option<Period>,
    pub entities: Vec<Entity>,
    pub channel: Option<Channel>,
    /// Things the user should know about how the question was read.
    pub notes: Vec<String>,
}

/// What the planner makes of a question.
#[derive(Debug, Clone, PartialEq)]
pub enum Understanding {
    Plan(Interpretation),
    /// A name fits several values: which one?
    Ask {
        message: String,
        options: Vec<String>,
    },
    Decline {
        message: String,
    },
}

/// What the planner knows besides the question.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub today: NaiveDate,
    /// First and last day of the tenant's sales, if it has any.
    pub data: Option<Window>,
    pub vocabulary: &'a Vocabulary,
    /// The conversation's last interpretation, for follow-ups ("and in May?").
    pub previous: Option<&'a Interpretation>,
}

/// Questions the planner answers, shown when it declines.
pub const EXAMPLES: [&str; 8] = [
    "What were total sales last month?",
    "Which reseller sold the most Ghost of Tom in Q1?",
    "Top 5 products by units this year",
    "Show me Liberty's sales by month",
    "How did online compare with offline in March?",
    "Sales by country in 2025",
    "Compare Q2 2025 with Q1 2025",
    "Show the sales lines of Boxnox in April 2025",
];

fn decline(why: &str) -> Understanding {
    Understanding::Decline {
        message: format!(
            "{why} I answer questions about sales that happened: totals, rankings, trends by month, comparisons of periods, online against offline, breakdowns and the sales lines themselves. For example: {}",
            EXAMPLES.iter().map(|e| format!("\u{201c}{e}\u{201d}")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Words that ask for something the data cannot answer honestly.
const OUT_OF_SCOPE: &[&str] = &[
    "forecast",
    "predict",
    "prediction",
    "projection",
    "why",
    "margin",
    "margins",
    "profit",
    "stock",
    "inventory",
    "budget",
    "target",
    "should",
    "recommend",
    "weather",
    "except",
    "excluding",
    "exclude",
    "without",
    "average",
    "avg",
    "median",
];

const MEASURE_WORDS: &[&str] = &[
    "sales",
    "sale",
    "revenue",
    "revenues",
    "sold",
    "sell",
    "sells",
    "selling",
    "turnover",
    "units",
    "unit",
    "total",
    "much",
    "many",
    "sum",
    "eur",
    "euro",
    "euros",
    "money",
    "pieces",
    "quantity",
    "volume",
    "performance",
    "perform",
    "performed",
    "did",
    "do",
    "does",
    "numbers",
];

const UNIT_WORDS: &[&str] = &[
    "units",
    "unit",
    "pieces",
    "pcs",
    "quantity",
    "quantities",
    "volume",
    "bottles",
    "items",
];

fn dimension_noun(word: &str) -> Option<Dimension> {
    Some(match word {
        "reseller" | "resellers" | "retailer" | "retailers" | "customer" | "customers"
        | "account" | "accounts" | "partner" | "partners" | "who" => Dimension::Reseller,
        "product" | "products" | "fragrance" | "fragrances" | "sku" | "skus" | "item" | "items"
        | "scent" | "scents" | "perfume" | "perfumes" | "candle" | "candles" => Dimension::Product,
        "store" | "stores" | "shop" | "shops" | "door" | "doors" | "location" | "locations"
        | "branch" | "branches" => Dimension::Store,
        "country" | "countries" | "market" | "markets" => Dimension::Country,
        _ => return None,
    })
}

/// Reads a question. See the module documentation.
pub fn understand(question: &str, ctx: &Context) -> Understanding {
    let mut words = Words::new(question);
    if words.is_empty() {
        return decline("Ask me a question about your sales.");
    }
    if let Some(w) = OUT_OF_SCOPE.iter().find(|w| words.has(w)) {
        return decline(&format!(
            "I cannot answer questions with \u{201c}{w}\u{201d} from sales data alone."
        ));
    }
    let mut notes = Vec::new();
    let relative = words.has_any(&[
        "last", "this", "current", "past", "previous", "since", "ytd",
    ]) || !words
        .all()
        .iter()
        .any(|w| w.len() == 4 && w.starts_with("20"));
    let anchor = anchor(ctx, &mut notes);
    let periods = dates::periods(&mut words, anchor);
    if !relative || periods.is_empty() {
        notes.clear();
    }
    let names = match entities::resolve(&mut words, ctx.vocabulary) {
        Names::Found(found) => found,
        Names::Ambiguous {
            said,
            dimension,
            candidates,
        } => {
            return Understanding::Ask {
                message: format!(
                    "\u{201c}{said}\u{201d} matches more than one {}: which one do you mean? {}",
                    dimension.noun(),
                    candidates.join(" or ")
                ),
                options: candidates,
            }
        }
    };
    if let Some(unknown) = unknown_name(&words) {
        return decline(&format!(
            "I could not find \u{201c}{unknown}\u{201d} among your resellers, stores, countries or products."
        ));
    }
    let channel = channel_filter(&words);
    let intent = intent(&words, &periods, &names, channel);
    let measure = if words.has_any(UNIT_WORDS)
        || words.has_phrase("how many") && intent != Some(IntentSignal::Count)
    {
        Measure::Units
    } else {
        Measure::Revenue
    };
    let said_something = words.has_any(MEASURE_WORDS)
        || !names.is_empty()
        || !periods.is_empty()
        || channel.is_some();
    let intent = match (intent, ctx.previous) {
        (Some(i), _) => i,
        // "And in May?" / "What about Boxnox?": the last question again, with what changed.
        (None, Some(prev)) if !periods.is_empty() || !names.is_empty() || channel.is_some() => {
            return Understanding::Plan(follow_up(prev, periods, names, channel));
        }
        (None, _) if said_something => IntentSignal::Total,
        (None, _) => return decline("I did not understand the question."),
    };
    let mut periods = periods.into_iter();
    let period = periods.next();
    let intent = match intent {
        IntentSignal::Total => Intent::Total,
        IntentSignal::Count => Intent::Count {
            of: noun(&words).unwrap_or(Dimension::Reseller),
        },
        IntentSignal::Lines => Intent::Lines,
        IntentSignal::Channels => Intent::Channels,
        IntentSignal::Trend => Intent::Trend {
            weekly: words.has_any(&["weekly", "week", "weeks"]),
        },
        IntentSignal::Breakdown(by) => Intent::Breakdown { by },
        IntentSignal::Top => top(&words, &names),
        IntentSignal::Compare => {
            let Some(first) = &period else {
                return decline("Which periods should I compare? Name them, e.g. \u{201c}Q1 2025 vs Q1 2024\u{201d}.");
            };
            let earlier = first.window.year_before();
            let other = match periods.next() {
                // "This year vs last year": the year so far against the same days of last year,
                // not against a whole year.
                Some(o) if first.label.ends_with("so far") && o.window.from == earlier.from => {
                    let label = format!("{} to {}", o.label, earlier.to.format("%-d %B"));
                    notes.push(format!(
                        "{} is compared with the same days of {}.",
                        first.label, o.label
                    ));
                    Period {
                        window: earlier,
                        label,
                    }
                }
                Some(o) => o,
                None => {
                    notes.push("Compared with the same period a year earlier.".into());
                    Period {
                        window: earlier,
                        label: format!("{} a year earlier", first.label),
                    }
                }
            };
            Intent::Compare { other }
        }
    };
    Understanding::Plan(Interpretation {
        intent,
        measure,
        period,
        entities: names,
        channel,
        notes,
    })
}

/// The day relative dates count back from: today, or the day after the data ends when it ends
/// before last month, so "last month" means the last month there is data for.
fn anchor(ctx: &Context, notes: &mut Vec<String>) -> NaiveDate {
    match ctx.data {
        Some(d) if d.to + Duration::days(31) < ctx.today => {
            notes.push(format!(
                "Your data ends on {}, so relative dates (last month, this year) count from then.",
                d.to
            ));
            d.to + Duration::days(1)
        }
        _ => ctx.today,
    }
}

/// The kind of question, before its details are read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum IntentSignal {
    Total,
    Count,
    Top,
    Breakdown(Dimension),
    Trend,
    Compare,
    Channels,
    Lines,
}

fn noun(words: &Words) -> Option<Dimension> {
    (0..words.len())
        .filter(|&i| !words.is_used(i))
        .find_map(|i| dimension_noun(&words.all()[i]))
}

fn intent(
    words: &Words,
    periods: &[Period],
    names: &[Entity],
    channel: Option<Channel>,
) -> Option<IntentSignal> {
    let by = |p: &str| {
        ["by", "per", "each", "for every", "split by", "across"]
            .iter()
            .any(|b| words.has_phrase(&format!("{b} {p}")))
    };
    if words.has_any(&["lines", "rows", "transactions", "raw", "records"])
        || words.has_phrase("line by line")
    {
        return Some(IntentSignal::Lines);
    }
    let both_channels = words.has("online") && words.has_any(&["offline", "retail", "stores"]);
    if both_channels && channel.is_none()
        || by("channel")
        || words.has_phrase("channel mix")
        || words.has_phrase("channel split")
    {
        return Some(IntentSignal::Channels);
    }
    if periods.len() >= 2
        || words.has_any(&[
            "compare",
            "compared",
            "comparison",
            "vs",
            "versus",
            "against",
        ])
    {
        return Some(IntentSignal::Compare);
    }
    if words.has_any(&[
        "trend",
        "trends",
        "monthly",
        "weekly",
        "evolution",
        "development",
    ]) || by("month")
        || by("week")
        || words.has_phrase("over time")
        || words.has_phrase("month by month")
    {
        return Some(IntentSignal::Trend);
    }
    if words.has_phrase("how many") && noun(words).is_some() {
        return Some(IntentSignal::Count);
    }
    let ranking = words.has_any(&[
        "top", "best", "most", "highest", "biggest", "largest", "leading", "least", "worst",
        "lowest", "bottom", "rank", "ranking",
    ]) || words.has_phrase("which reseller")
        || words.has_phrase("which product")
        || words.has_phrase("which store")
        || words.has_phrase("which country")
        || words.has_phrase("who sold");
    let breakdown_noun = [
        "reseller",
        "resellers",
        "retailer",
        "retailers",
        "product",
        "products",
        "store",
        "stores",
        "country",
        "countries",
        "market",
        "markets",
        "sku",
    ]
    .into_iter()
    .find(|p| by(p));
    // "Which month sold the most?" ranks periods: the series answers it, naming its highest and
    // lowest (a word the period already used, as in "top products last month", does not count).
    let ranks_time = (0..words.len()).any(|i| {
        !words.is_used(i)
            && matches!(
                words.all()[i].as_str(),
                "month" | "months" | "week" | "weeks"
            )
    });
    if ranking && ranks_time && noun(words).is_none() {
        return Some(IntentSignal::Trend);
    }
    if ranking {
        return Some(IntentSignal::Top);
    }
    if let Some(n) = breakdown_noun {
        return Some(IntentSignal::Breakdown(
            dimension_noun(n).expect("a dimension noun"),
        ));
    }
    if words.has_any(&[
        "share",
        "mix",
        "split",
        "breakdown",
        "percentage",
        "percent",
    ]) {
        return Some(IntentSignal::Breakdown(
            noun(words).unwrap_or(Dimension::Reseller),
        ));
    }
    let _ = names;
    None
}

fn top(words: &Words, names: &[Entity]) -> Intent {
    let lowest = words.has_any(&["least", "worst", "lowest", "bottom"]);
    let w = words.all();
    let n = w
        .iter()
        .position(|x| x == "top" || x == "bottom")
        .and_then(|i| w.get(i + 1))
        .and_then(|x| x.parse::<usize>().ok())
        .filter(|n| (1..=100).contains(n));
    let plural = w.iter().any(|x| {
        matches!(
            x.as_str(),
            "resellers"
                | "retailers"
                | "products"
                | "stores"
                | "countries"
                | "markets"
                | "skus"
                | "fragrances"
        )
    });
    let n = n.unwrap_or(if plural || words.has("top") { 5 } else { 1 });
    // "Who sold the most Ghost of Tom?" ranks resellers; "the best-selling product at Liberty"
    // ranks products.
    let by = noun(words).unwrap_or_else(|| {
        if names.iter().any(|e| e.dimension == Dimension::Product) {
            Dimension::Reseller
        } else {
            Dimension::Product
        }
    });
    Intent::Top { by, n, lowest }
}

fn channel_filter(words: &Words) -> Option<Channel> {
    let online = words.has_any(&["online", "ecommerce", "web", "webshop", "internet"])
        || words.has_phrase("e commerce");
    let offline = words.has_any(&["offline", "retail", "brick"]) || words.has_phrase("in store");
    match (online, offline) {
        (true, false) => Some(Channel::Online),
        (false, true) => Some(Channel::Offline),
        _ => None,
    }
}

/// A word the user wrote as a name (capitalized mid-sentence, or a product-code-like token) that
/// matched nothing: answering without it would answer another question.
fn unknown_name(words: &Words) -> Option<String> {
    const KNOWN: &[&str] = &[
        "i", "eur", "euro", "euros", "ean", "sku", "online", "offline", "retail", "ytd", "vs",
        "q1", "q2", "q3", "q4", "h1", "h2", "uk", "us", "ok", "tv", "ai", "sql",
    ];
    (1..words.len())
        .filter(|&i| !words.is_used(i))
        .map(|i| words.original(i))
        .find(|w| {
            let lower = w.to_lowercase();
            let capital = w.chars().next().is_some_and(char::is_uppercase);
            let code = w.len() >= 5
                && w.chars().any(|c| c.is_ascii_digit())
                && w.chars().any(char::is_alphabetic)
                && !w.chars().any(char::is_lowercase);
            let ean = w.len() >= 8 && w.chars().all(|c| c.is_ascii_digit());
            (capital || code || ean)
                && !KNOWN.contains(&lower.as_str())
                && !MEASURE_WORDS.contains(&lower.as_str())
                && dimension_noun(&lower).is_none()
        })
        .map(str::to_owned)
}

fn follow_up(
    prev: &Interpretation,
    periods: Vec<Period>,
    names: Vec<Entity>,
    channel: Option<Channel>,
) -> Interpretation {
    let mut next = prev.clone();
    next.notes = vec!["Read as a follow-up to your last question.".into()];
    let mut periods = periods.into_iter();
    if let Some(p) = periods.next() {
        next.period = Some(p);
    }
    if let (Intent::Compare { other }, Some(p)) = (&mut next.intent, periods.next()) {
        *other = p;
    }
    for e in names {
        next.entities.retain(|x| x.dimension != e.dimension);
        next.entities.push(e);
    }
    if channel.is_some() {
        next.channel = channel;
    }
    next
}

impl Interpretation {
    /// One line a person reads to check the question was understood.
    pub fn describe(&self) -> String {
        let measure = match self.measure {
            Measure::Revenue => "revenue (EUR)",
            Measure::Units => "units",
        };
        let what = match &self.intent {
            Intent::Total => format!("Total {measure}"),
            Intent::Count { of } => format!("Number of {}s with sales", of.noun()),
            Intent::Top { by, n, lowest } => format!(
                "{} {n} {}{} by {measure}",
                if *lowest { "Bottom" } else { "Top" },
                by.noun(),
                if *n == 1 { "" } else { "s" }
            ),
            Intent::Breakdown { by } => format!("{} by {} with shares", cap(measure), by.noun()),
            Intent::Trend { weekly } => format!(
                "{} by {}",
                cap(measure),
                if *weekly { "week" } else { "month" }
            ),
            Intent::Compare { other } => format!("{} compared with {}", cap(measure), other.label),
            Intent::Channels => format!("{} online against offline", cap(measure)),
            Intent::Lines => "Sales lines".into(),
        };
        let mut parts = vec![what];
        for e in &self.entities {
            parts.push(format!("{} {}", e.dimension.noun(), e.values.join(" or ")));
        }
        match self.channel {
            Some(Channel::Online) => parts.push("online only".into()),
            Some(Channel::Offline) => parts.push("offline (retail) only".into()),
            None => {}
        }
        parts.push(match &self.period {
            Some(p) => p.label.clone(),
            None => "all data".into(),
        });
        parts.join(", ")
    }
}

fn cap(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
