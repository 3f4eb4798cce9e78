//! The canonical tables, in one place. The lake, DataFusion and (later) Postgres use these names
//! and types; `vendor-specs/README.md` documents them for people.

use crate::spec::{Field as SpecField, Target};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use std::sync::{Arc, LazyLock};

pub const SELLOUT: &str = "sellout_entries";
pub const ORDERS: &str = "ecommerce_orders";

/// Money in the file's currency: 4 decimals keep ex-VAT conversions exact enough to sum.
pub const LOCAL_SCALE: i8 = 4;
/// EUR amounts: 6 decimals, so `quantity x price x rate` is exact for 2-decimal prices and
/// 4-decimal rates.
pub const EUR_SCALE: i8 = 6;
/// FX rates: EUR per unit of local currency.
pub const RATE_SCALE: i8 = 6;

/// The kind of value a canonical column holds; parsing follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Ean,
    Channel,
    Integer,
    Money,
    Date,
    Month,
}

/// A canonical column: its name, Arrow type, the spec field that fills it (if any) and kind.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: &'static str,
    pub data_type: DataType,
    pub nullable: bool,
    pub field: Option<SpecField>,
    pub kind: Kind,
}

const fn col(
    name: &'static str,
    data_type: DataType,
    nullable: bool,
    field: Option<SpecField>,
    kind: Kind,
) -> Column {
    Column {
        name,
        data_type,
        nullable,
        field,
        kind,
    }
}

fn money(scale: i8) -> DataType {
    DataType::Decimal128(18, scale)
}

fn lineage() -> Vec<Column> {
    vec![
        col("batch_id", DataType::Utf8, false, None, Kind::Text),
        col("source_file", DataType::Utf8, false, None, Kind::Text),
        col("source_sheet", DataType::Utf8, true, None, Kind::Text),
        col("source_row", DataType::UInt32, false, None, Kind::Integer),
        col("spec_name", DataType::Utf8, false, None, Kind::Text),
        col("spec_version", DataType::UInt32, false, None, Kind::Integer),
    ]
}

/// Columns whose value is the same on every row of a lake file: the batch's lineage and period,
/// and the year and month the lake partitions by. The lake records them once per file in its
/// commit log instead of encoding them on every row (they were a third of the Parquet columns).
pub const PER_FILE: [&str; 10] = [
    "batch_id",
    "source_file",
    "source_sheet",
    "spec_name",
    "spec_version",
    "period_start",
    "period_end",
    "period_grain",
    "year",
    "month",
];

/// Columns of `sellout_entries`, in table order.
#[rustfmt::skip]
pub static SELLOUT_COLUMNS: LazyLock<Vec<Column>> = LazyLock::new(|| {
    use SpecField as F;
    let mut v = vec![
        col("reseller", DataType::Utf8, false, Some(F::Reseller), Kind::Text),
        col("store", DataType::Utf8, true, Some(F::Store), Kind::Text),
        col("channel", DataType::Utf8, false, Some(F::Channel), Kind::Channel),
        col("country", DataType::Utf8, true, Some(F::Country), Kind::Text),
        col("product_ean", DataType::Utf8, true, Some(F::ProductEan), Kind::Ean),
        col("functional_name", DataType::Utf8, true, Some(F::FunctionalName), Kind::Text),
        col("vendor_product_code", DataType::Utf8, true, Some(F::VendorProductCode), Kind::Text),
        col("vendor_product_name", DataType::Utf8, true, Some(F::VendorProductName), Kind::Text),
        col("quantity", DataType::Int64, false, Some(F::Quantity), Kind::Integer),
        col("unit_price", money(LOCAL_SCALE), true, Some(F::UnitPrice), Kind::Money),
        col("sales_local", money(LOCAL_SCALE), true, Some(F::SalesLocal), Kind::Money),
        col("currency", DataType::Utf8, false, Some(F::Currency), Kind::Text),
        col("fx_rate", DataType::Decimal128(12, RATE_SCALE), true, None, Kind::Money),
        col("sales_eur", money(EUR_SCALE), true, None, Kind::Money),
        col("sale_date", DataType::Date32, true, Some(F::SaleDate), Kind::Date),
        col("period_start", DataType::Date32, false, None, Kind::Date),
        col("period_end", DataType::Date32, false, None, Kind::Date),
        col("period_grain", DataType::Utf8, false, None, Kind::Text),
        col("year", DataType::Int32, false, Some(F::Year), Kind::Integer),
        col("month", DataType::Int32, false, Some(F::Month), Kind::Month),
    ];
    v.extend(lineage());
    v
});

/// Columns of `ecommerce_orders`, in table order.
#[rustfmt::skip]
pub static ORDER_COLUMNS: LazyLock<Vec<Column>> = LazyLock::new(|| {
    use SpecField as F;
    let mut v = vec![
        col("order_id", DataType::Utf8, false, Some(F::OrderId), Kind::Text),
        col("order_date", DataType::Date32, false, Some(F::OrderDate), Kind::Date),
        col("product_ean", DataType::Utf8, true, Some(F::ProductEan), Kind::Ean),
        col("functional_name", DataType::Utf8, true, Some(F::FunctionalName), Kind::Text),
        col("product_name", DataType::Utf8, true, Some(F::ProductName), Kind::Text),
        col("quantity", DataType::Int64, false, Some(F::Quantity), Kind::Integer),
        col("sales_eur", money(EUR_SCALE), true, Some(F::SalesEur), Kind::Money),
        col("cost_of_goods", money(EUR_SCALE), true, Some(F::CostOfGoods), Kind::Money),
        col("payment_fee", money(EUR_SCALE), true, Some(F::PaymentFee), Kind::Money),
        col("country", DataType::Utf8, true, Some(F::Country), Kind::Text),
        col("city", DataType::Utf8, true, Some(F::City), Kind::Text),
        col("utm_source", DataType::Utf8, true, Some(F::UtmSource), Kind::Text),
        col("utm_medium", DataType::Utf8, true, Some(F::UtmMedium), Kind::Text),
        col("utm_campaign", DataType::Utf8, true, Some(F::UtmCampaign), Kind::Text),
        col("device_type", DataType::Utf8, true, Some(F::DeviceType), Kind::Text),
        col("reseller", DataType::Utf8, false, Some(F::Reseller), Kind::Text),
        col("year", DataType::Int32, false, Some(F::Year), Kind::Integer),
        col("month", DataType::Int32, false, Some(F::Month), Kind::Month),
    ];
    v.extend(lineage());
    v
});

/// Columns of a target table.
pub fn columns(target: Target) -> &'static [Column] {
    match target {
        Target::Sellout => &SELLOUT_COLUMNS,
        Target::Orders => &ORDER_COLUMNS,
    }
}

/// Name of a target table.
pub fn table_name(target: Target) -> &'static str {
    match target {
        Target::Sellout => SELLOUT,
        Target::Orders => ORDERS,
    }
}

/// Arrow schema of a target table.
pub fn schema(target: Target) -> SchemaRef {
    Arc::new(Schema::new(
        columns(target)
            .iter()
            .map(|c| Field::new(c.name, c.data_type.clone(), c.nullable))
            .collect::<Vec<_>>(),
    ))
}

/// The canonical column a spec field writes, if the target has it.
pub fn column_for(target: Target, field: SpecField) -> Option<&'static Column> {
    columns(target).iter().find(|c| c.field == Some(field))
}
