//! The vendor-spec language as Rust types. Field doc comments are the reference that the JSON
//! Schema (`taskifai spec schema`) carries into editors.

use crate::issues::Severity;
use crate::period::Grain;
use crate::values::DecimalSep;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One reseller's file layout, from `vendor-specs/<vendor>.yaml`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VendorSpec {
    /// Stable id, equal to the file stem, e.g. `boxnox`.
    pub vendor: String,
    /// Version of this spec; recorded on every row it produces.
    pub version: u32,
    /// What this spec reads, for people.
    #[serde(default)]
    pub description: Option<String>,
    /// Which canonical table the rows go to.
    #[serde(default)]
    pub target: Target,
    /// The reseller's canonical name, written on every row unless a field says otherwise.
    pub reseller: String,
    /// ISO country code of the reseller's stores, unless a field says otherwise.
    #[serde(default)]
    pub country: Option<String>,
    /// ISO currency of the amounts in the file.
    pub currency: String,
    /// VAT rate included in the file's amounts (0.20 for 20%); amounts are stored ex-VAT.
    #[serde(default)]
    pub vat_included: Option<f64>,
    /// How to recognise this vendor's files.
    pub detect: Detect,
    /// Which sheet and header rows to read.
    #[serde(default)]
    pub read: Read,
    /// Row filters, forward fill and unpivot, applied before fields are parsed.
    #[serde(default)]
    pub reshape: Reshape,
    /// Where the reporting period comes from. Never defaulted: no period is a file error.
    pub period: PeriodRule,
    /// Canonical field name to the rule that fills it. Fields are parsed in the order written,
    /// so a row's one reject reason is the first failing field in this order.
    pub fields: indexmap::IndexMap<Field, FieldRule>,
    /// Vendor product names or codes to EANs through the tenant's mapping tables.
    #[serde(default)]
    pub lookup: Option<Lookup>,
    /// Sales value from a price list (price x quantity) when the file has no amounts.
    #[serde(default)]
    pub price_list: Option<String>,
    /// Whether a row the reference data cannot complete (unknown product, no price, no FX
    /// rate) is rejected or kept with a warning; rules left out follow the tenant's default.
    #[serde(default)]
    pub unmatched: Unmatched,
    /// Extra columns computed with SQL expressions over the canonical row.
    #[serde(default)]
    pub derive: Vec<Derive>,
    /// Row checks written as SQL boolean expressions.
    #[serde(default)]
    pub validate: Vec<Validation>,
    /// Largest share of rejected rows before the whole file fails (0.0 to 1.0). Default 0.5.
    #[serde(default)]
    pub max_reject_ratio: Option<f64>,
    /// Rhai scripts for what the declarations cannot say.
    #[serde(default)]
    pub hooks: Hooks,
    /// Input rows with the output and rejects they must give; run by `taskifai spec test`.
    #[serde(default)]
    pub examples: Vec<Example>,
}

/// The canonical table a spec writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Offline sell-out: `sellout_entries`.
    #[default]
    Sellout,
    /// Online orders: `ecommerce_orders`.
    Orders,
}

/// Detection signals; each matching signal adds its weight, the best total above the threshold wins.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Detect {
    /// Regex over the file name (without folders).
    #[serde(default)]
    pub filename: Option<Signal>,
    /// Regex over sheet names; matches if any sheet matches.
    #[serde(default)]
    pub sheet: Option<Signal>,
    /// Labels that must all appear within the first rows of the chosen sheet.
    #[serde(default)]
    pub header: Option<HeaderSignal>,
    /// Minimum score to claim a file. Default 0.5.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
}

fn default_threshold() -> f64 {
    0.5
}

/// A regex with a weight.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signal {
    pub pattern: String,
    pub weight: f64,
}

/// Header labels expected near the top of the sheet.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderSignal {
    /// Labels compared case- and whitespace-insensitively.
    pub labels: Vec<String>,
    /// How many rows from the top to search. Default 20.
    #[serde(default = "default_within")]
    pub within: u32,
    pub weight: f64,
}

fn default_within() -> u32 {
    20
}

/// Which sheet and which header rows.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Read {
    /// Sheet choices tried in order; the first that exists is read. Default: the first sheet.
    #[serde(default)]
    pub sheet: Vec<SheetChoice>,
    #[serde(default)]
    pub header: HeaderRule,
    /// Rows between the header and the first data row to skip.
    #[serde(default)]
    pub skip_after_header: u32,
    /// Number format when a number has one separator.
    #[serde(default)]
    pub decimal: DecimalSep,
}

/// A sheet by exact name (case-insensitive), regex, or 1-based position.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SheetChoice {
    Name(String),
    Pattern(String),
    Index(u32),
}

/// The header: a fixed row, or the first row containing all the given labels.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderRule {
    /// 1-based row of the (last) header row.
    #[serde(default)]
    pub row: Option<u32>,
    /// Labels the header row must contain; the first such row in `within` rows is the header.
    #[serde(default)]
    pub contains: Vec<String>,
    #[serde(default = "default_header_within")]
    pub within: u32,
    /// How many rows the header spans, ending at the header row. Labels of upper rows carry
    /// across empty (merged) cells and are joined with ` / `: `Flagship / Actual / Sales Qty Un`.
    #[serde(default = "one")]
    pub rows: u32,
}

impl Default for HeaderRule {
    fn default() -> Self {
        Self {
            row: None,
            contains: Vec::new(),
            within: default_header_within(),
            rows: 1,
        }
    }
}

fn default_header_within() -> u32 {
    30
}

fn one() -> u32 {
    1
}

/// Reshaping before parsing. Labels are matched case- and whitespace-insensitively; a label
/// starting with `re:` is a regex over normalized labels.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reshape {
    /// Columns whose empty cells take the value above (key columns of grouped layouts).
    #[serde(default)]
    pub fill_down: Vec<String>,
    /// Rows to drop; a row matching any rule is dropped and counted as skipped.
    #[serde(default)]
    pub drop: Vec<RowRule>,
    /// Reading stops before the first row matching this rule (a `Total` line, a second table).
    #[serde(default)]
    pub stop: Option<RowRule>,
    /// Wide to long: column groups become rows.
    #[serde(default)]
    pub unpivot: Option<Unpivot>,
    /// Checks that a total column equals the sum of its parts on every data row, before
    /// unpivot (e.g. `All Sales Channels` = Flagship + Internet). Mismatches are warnings.
    #[serde(default)]
    pub reconcile: Vec<Reconcile>,
    /// The file's own grand total row: never data, and the rows read must add up to it.
    #[serde(default)]
    pub totals: Option<FileTotals>,
}

/// A file's grand total (or control) row, checked against the sum of the rows read.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileTotals {
    /// Which row holds the totals; the last row matching wins. It is skipped as data.
    pub row: RowRule,
    /// Columns (labels or `re:` patterns; every match counts) whose data rows must add up to
    /// the total row's value in the same column.
    pub columns: Vec<String>,
    /// Largest difference accepted, in the file's units. Default 0.01.
    #[serde(default)]
    pub tolerance: Option<f64>,
    /// `error` (the default) fails the file on a mismatch; `warn` loads it with a warning.
    #[serde(default)]
    pub severity: Severity,
}

/// A row-level sum check between source columns.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reconcile {
    /// The column holding the total (label or `re:` pattern; the first match).
    pub total: String,
    /// The columns that must add up to it (labels or `re:` patterns; every match counts).
    pub parts: Vec<String>,
    /// Largest difference tolerated (rounding in the reseller's export). Default 0.01.
    #[serde(default)]
    pub tolerance: Option<f64>,
}

/// Matches rows: a regex over the text of one column or of any of several, or all of some
/// columns blank. When both are given, both must hold.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RowRule {
    /// Column whose text `matches` is tested on: a label, a list (any of them may match), or
    /// `'*'` for any column of the row.
    #[serde(default)]
    pub column: Option<Labels>,
    /// Regex over the trimmed cell text.
    #[serde(default)]
    pub matches: Option<String>,
    /// Columns (or `re:` patterns) that must all be blank.
    #[serde(default)]
    pub blank: Vec<String>,
    /// Why, for people reading the spec.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Turns column groups into rows. Each header matching `columns` belongs to a group named by its
/// captures other than `measure`; the `measure` capture (mapped by `measures`) names the value.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Unpivot {
    /// Regex over normalized header labels with named captures, e.g.
    /// `^(?P<store>.+) / (?P<measure>qty|sum eur)$`.
    pub columns: String,
    /// Measure capture text (case-insensitive) to the column name it becomes.
    #[serde(default)]
    pub measures: BTreeMap<String, String>,
    /// Column name of the value when the pattern has no `measure` capture.
    #[serde(default)]
    pub value: Option<String>,
    /// Keep groups whose measures are all blank. Default false.
    #[serde(default)]
    pub keep_empty: bool,
}

/// The reporting period.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodRule {
    pub grain: Grain,
    /// Sources tried in order; each may give a date, a month or only a year or month, which
    /// later sources complete.
    pub from: Vec<PeriodSource>,
    /// Whole periods to shift by, e.g. -1 for files dated the week after they report.
    #[serde(default)]
    pub offset: i32,
    /// Living documents: keep only rows whose own date or year/month fall in the file's period.
    #[serde(default)]
    pub keep_only_period: bool,
}

/// One place the period can be read from.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeriodSource {
    /// Date tokens in the file name.
    Filename,
    /// The chosen sheet's name.
    SheetName,
    /// A cell such as `B2`.
    Cell(String),
    /// The header label just left of the column with this label (e.g. `Total`).
    HeaderLeftOf(String),
    /// The first value of a data column, for files that repeat their period on every row
    /// (`Week Ending`).
    Column(String),
    /// A document property of an XLSX file: when it was `created` or `modified` (with
    /// `offset: -1` for a report saved the month after), or its `title` or `subject`.
    Document(DocumentProperty),
}

/// The XLSX document properties a period can be read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentProperty {
    Created,
    Modified,
    Title,
    Subject,
}

/// Declares `Field` and `Field::ALL` from one list, so the two cannot drift apart.
macro_rules! fields {
    ($($(#[$doc:meta])* $variant:ident,)*) => {
        /// The canonical fields a spec can fill. Lineage, money conversion and periods are added by the
        /// engine.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize,
            JsonSchema,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum Field {
            $($(#[$doc])* $variant,)*
        }

        impl Field {
            /// Every canonical field, in declaration order.
            pub const ALL: &'static [Field] = &[$(Field::$variant,)*];
        }
    };
}

fields! {
    Reseller,
    Store,
    Channel,
    Country,
    ProductEan,
    FunctionalName,
    VendorProductCode,
    VendorProductName,
    Quantity,
    SalesLocal,
    /// Price per unit in the file's currency; sales = quantity x unit price when the file has no amount.
    UnitPrice,
    Currency,
    /// Row date (day grain); used by `keep_only_period`.
    SaleDate,
    /// Row year and month, for living documents keyed by them.
    Year,
    Month,
    OrderId,
    OrderDate,
    ProductName,
    SalesEur,
    CostOfGoods,
    PaymentFee,
    City,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    DeviceType,
}

/// How one canonical field is filled.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldRule {
    /// Source column label, or several aliases (first present wins).
    #[serde(default)]
    pub column: Option<Labels>,
    /// A constant.
    #[serde(default)]
    pub value: Option<String>,
    /// Regex whose first capture group is kept, e.g. `^([A-Z0-9]+)` for `BBWM3(NO COLOUR`.
    #[serde(default)]
    pub extract: Option<String>,
    /// Value translation, case-insensitive; `"*"` is the fallback.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    /// Used when the cell is empty; without it an empty required field rejects the row.
    #[serde(default)]
    pub default: Option<String>,
    /// Date formats in chrono syntax (`%d/%m/%Y`); ISO and Excel serials also work unless
    /// `matches` says otherwise.
    #[serde(default)]
    pub formats: Vec<String>,
    /// Regex the trimmed cell must match before it is parsed (strict formats).
    #[serde(default)]
    pub matches: Option<String>,
    /// An empty cell rejects the row (after `default`).
    #[serde(default)]
    pub required: bool,
    /// Rule id when the value does not parse or match. Default `bad_<column>`; for `currency`,
    /// the reject when the FX table has no rate for it (default `missing_fx_rate`).
    #[serde(default)]
    pub rule: Option<String>,
    /// Rule id when a required value is empty. Default `missing_<column>`.
    #[serde(default)]
    pub missing_rule: Option<String>,
    /// EANs: verify the check digit (default true); false accepts any 8-14 digits.
    #[serde(default)]
    pub check_digit: Option<bool>,
    /// `product_ean` only: where a value with letters (a reseller's own code such as `PRDT35`,
    /// in a column that holds EANs in other files) goes instead of being rejected:
    /// `vendor_product_code`, `vendor_product_name` or `functional_name`, so `lookup` or the
    /// products table can identify the product.
    #[serde(default)]
    pub otherwise: Option<Field>,
}

/// One label or a list of aliases.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Labels {
    One(String),
    Many(Vec<String>),
}

impl Labels {
    pub fn all(&self) -> Vec<&str> {
        match self {
            Self::One(s) => vec![s.as_str()],
            Self::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// Product lookup through the tenant's `vendor_products` mapping table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    /// The field holding the vendor's product name or code.
    pub by: Field,
    /// Unmatched rows: `error` rejects them (the default), `warn` keeps them without an EAN.
    #[serde(default)]
    pub unmatched: Severity,
}

/// What becomes of a row whose product, price or FX rate the reference data lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnMiss {
    /// The row goes to the error report (the default).
    Reject,
    /// The row is loaded with what is known (no EAN, or no amount) and a warning, so the
    /// units are counted and the miss can be fixed in the reference data.
    Keep,
}

/// Per reference rule, reject or keep. A rule left out follows the tenant's default, and
/// rejects when the tenant has none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Unmatched {
    /// A product the products or vendor_products tables do not know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_product: Option<OnMiss>,
    /// A product the spec's `price_list` has no price for: kept without an amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_price: Option<OnMiss>,
    /// A currency and month the fx_rates table has no rate for: kept without EUR amounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_fx_rate: Option<OnMiss>,
}

impl Unmatched {
    /// The rules a policy can name, as written in specs and error reports.
    pub const RULES: [&'static str; 3] = ["unknown_product", "missing_price", "missing_fx_rate"];

    pub fn get(&self, rule: &str) -> Option<OnMiss> {
        match rule {
            "unknown_product" => self.unknown_product,
            "missing_price" => self.missing_price,
            "missing_fx_rate" => self.missing_fx_rate,
            _ => None,
        }
    }

    /// Sets one rule; `false` when the rule is not one of [`Self::RULES`].
    pub fn set(&mut self, rule: &str, action: OnMiss) -> bool {
        let slot = match rule {
            "unknown_product" => &mut self.unknown_product,
            "missing_price" => &mut self.missing_price,
            "missing_fx_rate" => &mut self.missing_fx_rate,
            _ => return false,
        };
        *slot = Some(action);
        true
    }
}

/// A computed column.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Derive {
    /// Canonical field to (over)write.
    pub field: Field,
    /// SQL expression over canonical columns, e.g. `upper(country)`.
    pub expr: String,
}

/// A row check.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    /// Rule id, shown in error reports.
    pub rule: String,
    /// SQL boolean expression that must hold, e.g. `abs(quantity) < 10000`. NULL counts as holding.
    pub check: String,
    #[serde(default)]
    pub severity: Severity,
    /// The sentence shown when the check fails.
    pub message: String,
}

/// Rhai scripts. They run sandboxed: no I/O, bounded operations and memory.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    /// Runs once per parsed row with `row` (a map of canonical fields); may change fields, or
    /// call `reject("why")`.
    #[serde(default)]
    pub row: Option<String>,
    /// Runs once per source batch, after the row hook, with `rows` (an array of those maps) for
    /// rules that span rows; may change fields, or reject a row by setting its `_reject` field
    /// to the reason. Rows cannot be added or removed.
    #[serde(default)]
    pub batch: Option<String>,
}

/// An embedded test: raw cells in, expected rows and rejects out.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub name: String,
    /// File name the rows pretend to come from (period and detection read it).
    pub file_name: String,
    #[serde(default)]
    pub sheet: Option<String>,
    /// The sheet's cells from row 1; `~` is an empty cell.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Reference rows the example runs against instead of the tenant's tables, by table
    /// (`products`, `vendor_products`, `prices`, `fx_rates`), each row a map of its columns.
    /// With it, `spec test` gives the same answer for every tenant.
    #[serde(default)]
    pub reference: Option<BTreeMap<String, Vec<BTreeMap<String, serde_json::Value>>>>,
    #[serde(default)]
    pub expect: Expect,
}

/// What an example must produce. Only the listed fields are compared.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub rows: Vec<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    pub rejects: Vec<ExpectedReject>,
    /// Warnings (rows kept) as row and rule; compared only when given.
    #[serde(default)]
    pub warnings: Option<Vec<ExpectedReject>>,
    /// A file-level error whose message contains this text.
    #[serde(default)]
    pub error: Option<String>,
}

/// A rejected source row and the rule that rejected it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedReject {
    pub row: u32,
    pub rule: String,
}
