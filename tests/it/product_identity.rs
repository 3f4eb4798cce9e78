//! A row the reference data cannot complete (unknown product, no price, no FX rate) is rejected
//! by default; a spec's `unmatched` or the tenant's default keeps it with a warning instead, so
//! a file with a few new products still counts its units.

use taskifai_engine::examples::{run_examples, Failure};
use taskifai_engine::reference::Reference;
use taskifai_engine::spec;

/// Galilu's layout (names mapped to EANs, priced from a list, PLN) with one example: a known
/// product and an unknown one, against the example's own reference rows.
fn galilu(unmatched: &str, expect: &str, reference: &str) -> String {
    format!(
        r#"
vendor: galilu
version: 1
reseller: Galilu
country: PL
currency: PLN
detect:
  filename: {{ pattern: 'galilu', weight: 0.6 }}
  threshold: 0.6
read:
  header: {{ row: 1 }}
reshape:
  drop:
    - {{ column: 'col:A', matches: '^total$' }}
  unpivot:
    columns: '^(?P<month>jan|feb|mar)$'
    value: qty
period:
  grain: month
  from: [{{ header_left_of: Total }}, {{ cell: A1 }}]
  keep_only_period: true
fields:
  vendor_product_name: {{ column: 'col:A' }}
  month: {{ column: month }}
  quantity: {{ column: qty }}
lookup: {{ by: vendor_product_name }}
price_list: galilu_pln
{unmatched}
examples:
  - name: one known product, one new
    file_name: Galilu_2025.xlsx
    rows:
      - [2025, Jan, Feb, Mar, Total]
      - [Ghost of Tom 100 ml, 2, 1, 3, 6]
      - [Nowy zapach 50 ml, ~, ~, 1, 1]
    reference:
{reference}
    expect:
{expect}
"#
    )
}

/// The example's reference rows: both products, Ghost of Tom mapped and priced, PLN's rate for
/// March 2025; `extra` rows are appended to their table, `rate_month` moves the rate.
fn tables(extra_mapping: bool, extra_price: bool, rate_month: u32, unmatched: &str) -> String {
    let mut t = String::from(
        r#"      products:
        - { ean: "7350154320008", functional_name: BBGOT100 }
        - { ean: "7350154320015", functional_name: BBNEW50 }
      vendor_products:
        - { vendor: galilu, match: normalized, key: Ghost of Tom 100 ml, ean: "7350154320008" }
"#,
    );
    if extra_mapping {
        t += "        - { vendor: galilu, match: exact, key: Nowy zapach 50 ml, ean: \"7350154320015\" }\n";
    }
    t += "      prices:\n        - { price_list: galilu_pln, ean: \"7350154320008\", price: 100, currency: PLN }\n";
    if extra_price {
        t += "        - { price_list: galilu_pln, ean: \"7350154320015\", price: 50, currency: PLN }\n";
    }
    t += &format!("      fx_rates:\n        - {{ currency: PLN, year: 2025, month: {rate_month}, rate: 0.25 }}\n");
    if !unmatched.is_empty() {
        t += &format!("      unmatched:\n        - {unmatched}\n");
    }
    t
}

const KNOWN: &str = r#"        - { product_ean: "7350154320008", functional_name: BBGOT100, quantity: 3, sales_local: 300, sales_eur: 75 }"#;

fn run(text: &str, tenant: &Reference) -> Vec<String> {
    let spec = spec::parse("galilu.yaml", text).expect("the spec compiles");
    run_examples(&spec, tenant)
        .into_iter()
        .map(|Failure { message, .. }| message)
        .collect()
}

#[test]
fn an_unknown_product_is_rejected_by_default_and_kept_when_the_spec_says_so() {
    let rejected =
        format!("      rows:\n{KNOWN}\n      rejects: [{{ row: 3, rule: unknown_product }}]");
    assert_eq!(
        run(
            &galilu("", &rejected, &tables(false, true, 3, "")),
            &Reference::default()
        ),
        Vec::<String>::new()
    );

    let kept = format!(
        "      rows:\n{KNOWN}\n        - {{ product_ean: ~, functional_name: ~, vendor_product_name: Nowy zapach 50 ml, quantity: 1, sales_local: ~ }}\n      warnings: [{{ row: 3, rule: unknown_product }}]"
    );
    let keep = "unmatched: { unknown_product: keep }";
    assert_eq!(
        run(
            &galilu(keep, &kept, &tables(false, true, 3, "")),
            &Reference::default()
        ),
        Vec::<String>::new()
    );
    // The same expectation without the policy fails: the row is rejected.
    let failures = run(
        &galilu("", &kept, &tables(false, true, 3, "")),
        &Reference::default(),
    );
    assert!(
        failures
            .iter()
            .any(|f| f.contains("expected 2 rows, got 1")),
        "{failures:?}"
    );
}

#[test]
fn a_missing_price_or_rate_keeps_the_units_without_the_amount() {
    // The new product is mapped but has no price.
    let kept = format!(
        "      rows:\n{KNOWN}\n        - {{ product_ean: \"7350154320015\", functional_name: BBNEW50, quantity: 1, sales_local: ~, sales_eur: ~ }}\n      warnings: [{{ row: 3, rule: missing_price }}]"
    );
    let text = galilu(
        "unmatched: { missing_price: keep }",
        &kept,
        &tables(true, false, 3, ""),
    );
    assert_eq!(run(&text, &Reference::default()), Vec::<String>::new());

    // No PLN rate for March.
    let kept = "      rows:\n        - { product_ean: \"7350154320008\", quantity: 3, sales_local: 300, fx_rate: ~, sales_eur: ~ }\n      rejects: [{ row: 3, rule: unknown_product }]\n      warnings: [{ row: 2, rule: missing_fx_rate }]";
    let text = galilu(
        "unmatched: { missing_fx_rate: keep }",
        kept,
        &tables(false, true, 2, ""),
    );
    assert_eq!(run(&text, &Reference::default()), Vec::<String>::new());
}

#[test]
fn the_tenant_default_applies_where_the_spec_is_silent() {
    let reference = tables(false, true, 3, "{ rule: unknown_product, action: keep }");
    let kept = format!(
        "      rows:\n{KNOWN}\n        - {{ product_ean: ~, quantity: 1 }}\n      warnings: [{{ row: 3, rule: unknown_product }}]"
    );
    assert_eq!(
        run(&galilu("", &kept, &reference), &Reference::default()),
        Vec::<String>::new()
    );

    // The spec's own choice wins over the tenant's.
    let rejected =
        format!("      rows:\n{KNOWN}\n      rejects: [{{ row: 3, rule: unknown_product }}]");
    let text = galilu(
        "unmatched: { unknown_product: reject }",
        &rejected,
        &reference,
    );
    assert_eq!(run(&text, &Reference::default()), Vec::<String>::new());
}

#[test]
fn a_bad_tenant_default_is_named() {
    let mut r = Reference::default();
    let header = vec!["rule".to_string(), "action".to_string()];
    let err = r
        .add_table(
            "unmatched",
            &header,
            &[vec![Some("unknown_product".into()), Some("ignore".into())]],
        )
        .unwrap_err();
    assert_eq!(
        err,
        r#"unmatched row 2: action "ignore": expected reject or keep"#
    );
    let err = r
        .add_table(
            "unmatched",
            &header,
            &[vec![Some("bad_quantity".into()), Some("keep".into())]],
        )
        .unwrap_err();
    assert!(
        err.contains(r#"rule "bad_quantity": expected one of"#),
        "{err}"
    );
}
