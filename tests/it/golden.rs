//! Every sample file through its spec, compared with a reviewed snapshot of the normalized rows
//! and the issues, plus the totals each sample was built to give.

use datafusion::arrow::util::pretty::pretty_format_batches;
use taskifai_engine::schema::{EUR_SCALE, LOCAL_SCALE};
use taskifai_engine::values::format_scaled;
use taskifai_tests::{normalize_file, reference, repo_path, specs};

fn render(path: &std::path::Path) -> String {
    let (outcome, batches) = normalize_file(&specs(), &reference(), path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let s = &outcome.summary;
    let mut out = format!(
        "vendor {} v{} | period {} | read {} accepted {} rejected {} skipped {} other-period {}\n",
        s.vendor,
        s.spec_version,
        s.period.label(),
        s.rows_read,
        s.rows_accepted,
        s.rows_rejected,
        s.rows_skipped,
        s.rows_other_period
    );
    let projected: Vec<_> = batches
        .iter()
        .map(|b| {
            let keep: Vec<usize> = [
                "source_row",
                "store",
                "channel",
                "country",
                "product_ean",
                "functional_name",
                "vendor_product_code",
                "quantity",
                "sales_local",
                "currency",
                "sales_eur",
                "order_id",
                "order_date",
                "sale_date",
                "period_start",
                "period_end",
                "year",
                "month",
            ]
            .iter()
            .filter_map(|c| b.schema().index_of(c).ok())
            .collect();
            b.project(&keep).expect("projection")
        })
        .collect();
    out.push_str(
        &pretty_format_batches(&projected)
            .expect("renders")
            .to_string(),
    );
    out.push('\n');
    for issue in &outcome.issues {
        out.push_str(&format!("{issue}\n"));
    }
    out
}

macro_rules! golden {
    ($name:ident, $file:expr) => {
        #[test]
        fn $name() {
            let path = repo_path(concat!("sample-data/vendors/", $file));
            insta::assert_snapshot!(render(&path));
        }
    };
}

golden!(
    liberty_counts_size_rows_once_per_channel_ex_vat,
    "liberty/Continuity Supplier Size Report 27-04-2025.xlsx"
);
golden!(
    boxnox_keeps_the_file_month_and_rejects_the_damaged_ean,
    "boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx"
);
golden!(
    cdlc_turns_store_pairs_into_rows,
    "cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx"
);
golden!(
    galilu_takes_the_month_left_of_total_and_prices_it,
    "galilu/BIbbi_sellout_Galilu_2025.xlsx"
);
golden!(
    aromateque_reads_ukrainian_and_date_month_headers,
    "aromateque/bibbi sales march'25.xlsx"
);
golden!(
    skins_sa_keeps_duplicate_orders_of_the_file_month,
    "skins_sa/Skins SA BIBBI CY 2025 February.xlsx"
);
golden!(
    skins_nl_skips_last_year_only_rows,
    "skins_nl/BIBBIPARFU_ReportPeriod02-2025.xlsx"
);
golden!(
    selfridges_maps_codes_and_rejects_unknown_ones,
    "selfridges/Selfridges Weekly Sales WE 27-04-2025.xlsx"
);
golden!(
    online_orders_default_the_reseller,
    "online/BIBBI Online Orders 2025-04.xlsx"
);

#[test]
fn every_sample_gives_the_totals_it_was_built_for() {
    let (specs, reference) = (specs(), reference());
    for (file, accepted, rejected, quantity, local, eur) in taskifai_tests::SAMPLE_TOTALS {
        let (o, _) = normalize_file(
            &specs,
            &reference,
            &repo_path(&format!("sample-data/vendors/{file}")),
        )
        .unwrap();
        let s = o.summary;
        let got = (
            s.rows_accepted,
            s.rows_rejected,
            s.quantity,
            format_scaled(s.sales_local, LOCAL_SCALE as u32),
            format_scaled(s.sales_eur, EUR_SCALE as u32),
        );
        assert_eq!(
            got,
            (
                accepted,
                rejected,
                quantity,
                local.to_owned(),
                eur.to_owned()
            ),
            "{file}"
        );
    }
}

#[test]
fn every_spec_example_passes() {
    let (specs, reference) = (specs(), reference());
    for spec in specs.iter() {
        assert!(
            !spec.spec.examples.is_empty(),
            "{} has no examples",
            spec.spec.vendor
        );
        let failures = taskifai_engine::examples::run_examples(spec, &reference);
        assert!(failures.is_empty(), "{}: {failures:?}", spec.spec.vendor);
    }
}

#[test]
fn the_committed_json_schema_matches_the_spec_types() {
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_path("vendor-specs/spec.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        committed,
        taskifai_engine::spec::json_schema(),
        "regenerate with `taskifai spec schema > vendor-specs/spec.schema.json`"
    );
}
