use super::entities::{Dimension, Product, Vocabulary};
use super::*;
use chrono::NaiveDate;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn vocab() -> Vocabulary {
    let p = |key: &str, ean: &str, name: &str| Product {
        key: key.into(),
        ean: Some(ean.into()),
        names: vec![name.into()],
    };
    Vocabulary {
        resellers: [
            "Liberty London",
            "Boxnox",
            "Skins Cosmetics",
            "Skins Cosmetics NL",
            "Galilu",
            "Selfridges",
        ]
        .map(String::from)
        .to_vec(),
        stores: ["Rosebank", "Sandton", "Riga Galleria"]
            .map(String::from)
            .to_vec(),
        countries: ["GB", "NL", "ZA", "PL"].map(String::from).to_vec(),
        products: vec![
            p(
                "BBGOT100",
                "7350154320008",
                "Ghost of Tom Eau de Parfum 100 ml",
            ),
            p(
                "BBGOT50",
                "7350154320015",
                "Ghost of Tom Eau de Parfum 50 ml",
            ),
            p(
                "BBSC100",
                "7350154320022",
                "Super Cedar Eau de Parfum 100 ml",
            ),
            p("BBWM3", "7350154320060", "Wild Moss Candle 300 g"),
        ],
    }
}

fn ask(q: &str) -> Understanding {
    let v = vocab();
    let ctx = Context {
        today: d(2025, 7, 10),
        data: Some(crate::analytics::Window {
            from: d(2024, 1, 1),
            to: d(2025, 6, 30),
        }),
        vocabulary: &v,
        previous: None,
    };
    understand(q, &ctx)
}

fn plan(q: &str) -> Interpretation {
    match ask(q) {
        Understanding::Plan(i) => i,
        other => panic!("{q}: {other:?}"),
    }
}

#[test]
fn the_headline_questions_are_understood() {
    let i = plan("Which reseller sold the most Ghost of Tom last month?");
    assert_eq!(
        i.intent,
        Intent::Top {
            by: Dimension::Reseller,
            n: 1,
            lowest: false
        }
    );
    assert_eq!(i.period.as_ref().unwrap().label, "June 2025");
    assert_eq!(i.entities[0].values, vec!["BBGOT100", "BBGOT50"]);

    let i = plan("How did online compare with offline in Q1?");
    assert_eq!(i.intent, Intent::Channels);
    assert_eq!(i.period.as_ref().unwrap().window.from, d(2025, 1, 1));
    assert_eq!(i.period.as_ref().unwrap().window.to, d(2025, 3, 31));

    let i = plan("Show me Liberty's sales by month this year");
    assert_eq!(i.intent, Intent::Trend { weekly: false });
    assert_eq!(i.entities[0].values, vec!["Liberty London"]);
    assert_eq!(i.period.as_ref().unwrap().label, "2025 so far");
}

#[test]
fn names_with_typos_codes_and_eans_resolve() {
    assert_eq!(
        plan("sales of BBSC100 in march").entities[0].values,
        vec!["BBSC100"]
    );
    assert_eq!(
        plan("units of 7350154320060 in 2025").entities[0].values,
        vec!["BBWM3"]
    );
    assert_eq!(
        plan("how much did Selfrides sell in 2024").entities[0].values,
        vec!["Selfridges"]
    );
    assert_eq!(
        plan("revenue in the UK last year").entities[0].values,
        vec!["GB"]
    );
    assert_eq!(
        plan("sales at skins cosmetics nl in may 2025").entities[0].values,
        vec!["Skins Cosmetics NL"]
    );
}

#[test]
fn an_ambiguous_name_is_asked_back() {
    match ask("How much did Skins sell in June?") {
        Understanding::Ask { options, .. } => {
            assert_eq!(options, vec!["Skins Cosmetics", "Skins Cosmetics NL"])
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_names_and_other_questions_are_declined() {
    for q in [
        "How much did Harrods sell last month?",
        "Forecast next quarter",
        "What is the weather?",
        "sales of BBXX999",
        "sales of BBSC101",
        "sales except Boxnox",
    ] {
        assert!(
            matches!(ask(q), Understanding::Decline { .. }),
            "{q}: {:?}",
            ask(q)
        );
    }
}

#[test]
fn periods_read_like_a_person_means_them() {
    let label = |q: &str| plan(q).period.unwrap().label;
    assert_eq!(label("sales in March"), "March 2025");
    assert_eq!(label("sales in december"), "December 2024");
    assert_eq!(label("sales since January"), "since January 2025");
    assert_eq!(label("sales in week 17"), "week 17 of 2025");
    assert_eq!(label("sales in Q4"), "Q4 2024");
    assert_eq!(label("sales in q2 2024"), "Q2 2024");
    assert_eq!(label("sales in may"), "May 2025");
    let i = plan("this year vs last year");
    assert_eq!(i.period.unwrap().label, "2025 so far");
    let Intent::Compare { other } = i.intent else {
        panic!("a comparison")
    };
    assert_eq!(other.label, "2024 to 9 July", "the same days of last year");
    assert_eq!(other.window.from.to_string(), "2024-01-01");
    assert_eq!(other.window.to.to_string(), "2024-07-09");
}

#[test]
fn the_sql_quotes_names_and_passes_the_guard_shape() {
    let mut i = plan("top 3 products at Boxnox in 2025");
    assert_eq!(
        i.intent,
        Intent::Top {
            by: Dimension::Product,
            n: 3,
            lowest: false
        }
    );
    i.entities[0].values = vec!["O'Brien; DROP TABLE x".into()];
    let sql = plan::sql(&i);
    assert!(
        sql.contains("reseller IN ('O''Brien; DROP TABLE x')"),
        "{sql}"
    );
    assert!(sql.contains("LIMIT 3"));
}

#[test]
fn the_planners_own_words_pass_the_number_check() {
    let i = plan("How did online compare with offline in Q1?");
    let rows = vec![
        serde_json::json!({"channel": "online", "revenue_eur": 1200.5}),
        serde_json::json!({"channel": "offline", "revenue_eur": "3601.5"}),
    ];
    let text = answer::words(&i, &rows, None);
    assert!(text.contains("\u{20ac}1,200.50 (25.0%)"), "{text}");
    assert_eq!(
        check::unsupported(&text, &rows, &i.describe()),
        None,
        "{text}"
    );
    assert_eq!(
        check::unsupported("Online made \u{20ac}1,999.00.", &rows, ""),
        Some(1999.0)
    );
    assert_eq!(
        check::unsupported("Online is 25% of \u{20ac}4,802.00.", &rows, ""),
        None
    );
}

#[test]
fn an_empty_answer_says_which_months_the_names_do_have() {
    let i = plan("How much did Liberty sell in March 2025?");
    let sql = plan::months_sql(&i).expect("a name and a period");
    assert!(
        sql.contains("reseller IN ('Liberty London')") && !sql.contains("BETWEEN"),
        "{sql}"
    );
    let m = |s: &str| s.parse::<NaiveDate>().unwrap();
    let months = [
        m("2024-01-01"),
        m("2024-02-01"),
        m("2024-03-01"),
        m("2024-06-01"),
        m("2024-08-01"),
        m("2024-09-01"),
    ];
    assert_eq!(
        answer::months_with_sales(&i, &months),
        "There are sales at Liberty London in January 2024 to March 2024, June 2024 and August 2024 to September 2024."
    );
    assert_eq!(
        answer::months_with_sales(&i, &[]),
        "There are no sales at Liberty London in any period."
    );
    assert!(
        plan::months_sql(&plan("total sales in March 2025")).is_none(),
        "the data's span says it"
    );
    assert!(answer::found_nothing(&answer::words(&i, &[], None)));
}

#[test]
fn a_weekly_trend_counts_only_sales_dated_within_a_week_and_says_so() {
    let i = plan("Liberty sales by week this year");
    assert_eq!(i.intent, Intent::Trend { weekly: true });
    let sql = plan::sql(&i);
    assert!(sql.contains(plan::WITHIN_ONE_WEEK), "{sql}");
    let rows = vec![
        serde_json::json!({ "week": "2025-03-03", "revenue_eur": 100.0 }),
        serde_json::json!({ "week": "2025-03-10", "revenue_eur": 250.0 }),
    ];
    let text = answer::words(&i, &rows, None);
    assert!(text.contains("cannot be split into weeks"), "{text}");
    let none = answer::words(&i, &[], None);
    assert!(none.starts_with("No sales at Liberty"), "{none}");
    assert!(none.contains("Ask by month"), "{none}");
    // By month, nothing is left out.
    let i = plan("Liberty sales by month this year");
    assert!(!plan::sql(&i).contains(plan::WITHIN_ONE_WEEK));
}
