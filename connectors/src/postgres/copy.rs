//! PostgreSQL binary COPY encoding of Arrow batches, so rows stream into a table without
//! row-by-row INSERTs or text parsing on the server.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Int32Type, Int64Type, UInt32Type,
};
use datafusion::arrow::record_batch::RecordBatch;

/// The binary COPY header: signature, flags, header extension length.
pub fn header() -> Vec<u8> {
    let mut b = b"PGCOPY\n\xff\r\n\0".to_vec();
    b.extend_from_slice(&0i32.to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes());
    b
}

/// The binary COPY trailer.
pub fn trailer() -> Vec<u8> {
    (-1i16).to_be_bytes().to_vec()
}

/// Days between 1970-01-01 (Arrow) and 2000-01-01 (PostgreSQL).
const PG_EPOCH_DAYS: i32 = 10_957;

/// Encodes every row of a batch. Supported column types: Utf8, Int32, Int64, UInt32 (as int8),
/// Date32 and Decimal128 (as numeric).
pub fn encode(batch: &RecordBatch, out: &mut Vec<u8>) -> Result<(), String> {
    let cols = batch.columns();
    for row in 0..batch.num_rows() {
        out.extend_from_slice(&(cols.len() as i16).to_be_bytes());
        for col in cols {
            if col.is_null(row) {
                out.extend_from_slice(&(-1i32).to_be_bytes());
                continue;
            }
            let field = |out: &mut Vec<u8>, bytes: &[u8]| {
                out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                out.extend_from_slice(bytes);
            };
            match col.data_type() {
                DataType::Utf8 => field(out, col.as_string::<i32>().value(row).as_bytes()),
                DataType::Int64 => field(
                    out,
                    &col.as_primitive::<Int64Type>().value(row).to_be_bytes(),
                ),
                DataType::Int32 => field(
                    out,
                    &col.as_primitive::<Int32Type>().value(row).to_be_bytes(),
                ),
                DataType::UInt32 => field(
                    out,
                    &(col.as_primitive::<UInt32Type>().value(row) as i64).to_be_bytes(),
                ),
                DataType::Date32 => field(
                    out,
                    &(col.as_primitive::<Date32Type>().value(row) - PG_EPOCH_DAYS).to_be_bytes(),
                ),
                DataType::Decimal128(_, s) => field(
                    out,
                    &numeric(col.as_primitive::<Decimal128Type>().value(row), *s as u32),
                ),
                other => return Err(format!("no binary COPY encoding for {other}")),
            }
        }
    }
    Ok(())
}

/// PostgreSQL's binary `numeric`: base-10000 digits with a weight, a sign and a display scale.
pub fn numeric(v: i128, scale: u32) -> Vec<u8> {
    let p = 10u128.pow(scale);
    let (int, frac) = (v.unsigned_abs() / p, v.unsigned_abs() % p);
    let mut int_groups = Vec::new();
    let mut i = int;
    while i > 0 {
        int_groups.push((i % 10_000) as i16);
        i /= 10_000;
    }
    int_groups.reverse();
    let frac_text = format!("{frac:0width$}", width = scale as usize);
    let padded = format!(
        "{frac_text:0<width$}",
        width = frac_text.len().div_ceil(4) * 4
    );
    let frac_groups: Vec<i16> = padded
        .as_bytes()
        .chunks(4)
        .map(|c| {
            std::str::from_utf8(c)
                .expect("digits")
                .parse()
                .expect("digits")
        })
        .collect();
    let mut weight = int_groups.len() as i16 - 1;
    let mut digits: Vec<i16> = int_groups.into_iter().chain(frac_groups).collect();
    while digits.first() == Some(&0) {
        digits.remove(0);
        weight -= 1;
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        weight = 0;
    }
    let sign: u16 = if v < 0 && !digits.is_empty() {
        0x4000
    } else {
        0
    };
    let mut b = Vec::with_capacity(8 + 2 * digits.len());
    b.extend_from_slice(&(digits.len() as i16).to_be_bytes());
    b.extend_from_slice(&weight.to_be_bytes());
    b.extend_from_slice(&sign.to_be_bytes());
    b.extend_from_slice(&(scale as u16).to_be_bytes());
    for d in digits {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::numeric;

    fn words(b: &[u8]) -> Vec<i16> {
        b.chunks(2)
            .map(|c| i16::from_be_bytes([c[0], c[1]]))
            .collect()
    }

    #[test]
    fn numerics_encode_as_postgres_does() {
        // 1234.5600 -> digits [1234, 5600], weight 0, dscale 4
        assert_eq!(words(&numeric(12_345_600, 4)), vec![2, 0, 0, 4, 1234, 5600]);
        // -0.05 -> digits [500], weight -1, negative
        assert_eq!(words(&numeric(-500, 4)), vec![1, -1, 0x4000, 4, 500]);
        // 123456789.000001 at scale 6 -> [1, 2345, 6789, 0, 100], weight 2
        assert_eq!(
            words(&numeric(123_456_789_000_001, 6)),
            vec![5, 2, 0, 6, 1, 2345, 6789, 0, 100]
        );
        assert_eq!(words(&numeric(0, 2)), vec![0, 0, 0, 2]);
        assert_eq!(words(&numeric(100_000_000, 4)), vec![1, 1, 0, 4, 1]);
    }
}
