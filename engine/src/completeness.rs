//! Which resellers' files are missing or late. Each reseller's cadence (monthly, weekly, ...)
//! is learned from the periods of the files it has sent; every period from its first file to
//! the last one that should have arrived by now is expected, and a period no live file covers
//! is missing. A dip in the numbers that is really a missing file shows up here.

use crate::period::Grain;
use chrono::{Datelike, Duration, NaiveDate};
use std::collections::BTreeMap;

/// A live file of a reseller: the period it covers and the day it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub vendor: String,
    pub grain: Grain,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub arrived: NaiveDate,
}

/// One reseller's deliveries.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Ledger {
    pub vendor: String,
    /// `month`, `week`, `day` or `year`: the grain most of its files have.
    pub cadence: &'static str,
    pub first_period: NaiveDate,
    /// The end of the latest period it sent.
    pub last_period: NaiveDate,
    /// Periods that should have arrived by now, and how many did.
    pub expected: usize,
    pub received: usize,
    /// The periods no live file covers, oldest first.
    pub missing: Vec<Missing>,
    /// Files that arrived later than the grace days after their period ended.
    pub late_files: usize,
    /// `complete`, `gaps` (missing periods before the latest), `late` (the latest period that
    /// should have arrived has not) or `stopped` (three or more in a row at the end).
    pub status: &'static str,
}

/// A period without a file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Missing {
    /// `2025-03`, `week ending 2025-04-27`, `2025`, or a day.
    pub period: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Ledger {
    /// The missing periods that overlap `from..=to`.
    pub fn missing_within(&self, from: NaiveDate, to: NaiveDate) -> Vec<&Missing> {
        self.missing
            .iter()
            .filter(|m| m.start <= to && m.end >= from)
            .collect()
    }
}

/// Days after a period ends before its file counts as late.
pub fn grace(grain: Grain) -> i64 {
    match grain {
        Grain::Day => 2,
        Grain::Week => 4,
        Grain::Month => 10,
        Grain::Year => 45,
    }
}

/// The periods of `grain` from the one holding `first` on: (start, end) pairs, with weeks
/// ending on `first`'s weekday.
fn periods(grain: Grain, first: NaiveDate) -> impl Iterator<Item = (NaiveDate, NaiveDate)> {
    let mut start = match grain {
        Grain::Day | Grain::Week => first,
        Grain::Month => first.with_day(1).expect("day 1"),
        Grain::Year => NaiveDate::from_ymd_opt(first.year(), 1, 1).expect("January 1"),
    };
    std::iter::from_fn(move || {
        let (s, next) = match grain {
            Grain::Day => (start, start + Duration::days(1)),
            // A week is named by its last day; `first` here is that day.
            Grain::Week => (start - Duration::days(6), start + Duration::days(7)),
            Grain::Month => (start, start.checked_add_months(chrono::Months::new(1))?),
            Grain::Year => (start, NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)?),
        };
        let end = match grain {
            Grain::Week => start,
            _ => next - Duration::days(1),
        };
        start = next;
        Some((s, end))
    })
}

fn label(grain: Grain, start: NaiveDate, end: NaiveDate) -> String {
    match grain {
        Grain::Day => start.to_string(),
        Grain::Week => format!("week ending {end}"),
        Grain::Month => format!("{}-{:02}", start.year(), start.month()),
        Grain::Year => start.year().to_string(),
    }
}

/// The ledger of every reseller in `files`, as of `today`.
pub fn ledgers(files: &[Received], today: NaiveDate) -> Vec<Ledger> {
    let mut by_vendor: BTreeMap<&str, Vec<&Received>> = BTreeMap::new();
    for f in files {
        by_vendor.entry(f.vendor.as_str()).or_default().push(f);
    }
    by_vendor
        .into_iter()
        .map(|(vendor, files)| ledger(vendor, &files, today))
        .collect()
}

fn ledger(vendor: &str, files: &[&Received], today: NaiveDate) -> Ledger {
    let mut counts: BTreeMap<&'static str, (usize, Grain)> = BTreeMap::new();
    for f in files {
        counts.entry(f.grain.as_str()).or_insert((0, f.grain)).0 += 1;
    }
    let grain = counts
        .values()
        .max_by_key(|(n, _)| *n)
        .map(|(_, g)| *g)
        .expect("a vendor has files");
    let of_grain: Vec<&&Received> = files.iter().filter(|f| f.grain == grain).collect();
    let first = match grain {
        Grain::Week => of_grain.iter().map(|f| f.end).min(),
        _ => of_grain.iter().map(|f| f.start).min(),
    }
    .expect("a vendor has files");
    let last_period = files
        .iter()
        .map(|f| f.end)
        .max()
        .expect("a vendor has files");
    let grace_days = grace(grain);
    let mut missing = Vec::new();
    let (mut expected, mut received, mut trailing) = (0, 0, 0);
    for (start, end) in periods(grain, first) {
        if end + Duration::days(grace_days) >= today {
            break;
        }
        expected += 1;
        // Any live file covering the period's last day counts, whatever its own grain.
        if files.iter().any(|f| f.start <= end && f.end >= end) {
            received += 1;
            trailing = 0;
        } else {
            missing.push(Missing {
                period: label(grain, start, end),
                start,
                end,
            });
            trailing += 1;
        }
    }
    let late_files = files
        .iter()
        .filter(|f| f.arrived > f.end + Duration::days(grace(f.grain)))
        .count();
    let status = match trailing {
        0 if missing.is_empty() => "complete",
        0 => "gaps",
        1 | 2 => "late",
        _ => "stopped",
    };
    Ledger {
        vendor: vendor.to_owned(),
        cadence: grain.as_str(),
        first_period: first,
        last_period,
        expected,
        received,
        missing,
        late_files,
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn month(vendor: &str, y: i32, m: u32, arrived: &str) -> Received {
        let start = NaiveDate::from_ymd_opt(y, m, 1).unwrap();
        let end = start.checked_add_months(chrono::Months::new(1)).unwrap() - Duration::days(1);
        Received {
            vendor: vendor.into(),
            grain: Grain::Month,
            start,
            end,
            arrived: d(arrived),
        }
    }

    #[test]
    fn a_reseller_that_stopped_and_one_with_a_gap() {
        let mut files: Vec<Received> = (1..=6)
            .map(|m| month("boxnox", 2025, m, &format!("2025-{:02}-05", m + 1)))
            .collect();
        files.extend(
            [1, 2, 4, 5, 6, 7, 8, 9]
                .map(|m| month("cdlc", 2025, m, &format!("2025-{:02}-03", m + 1))),
        );
        files[2].arrived = d("2025-05-20"); // March's file, six weeks late
        let got = ledgers(&files, d("2025-10-20"));
        let boxnox = &got[0];
        assert_eq!(
            (
                boxnox.cadence,
                boxnox.expected,
                boxnox.received,
                boxnox.status
            ),
            ("month", 9, 6, "stopped")
        );
        let labels = |l: &Ledger| {
            l.missing
                .iter()
                .map(|m| m.period.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(labels(boxnox), vec!["2025-07", "2025-08", "2025-09"]);
        assert_eq!(
            boxnox
                .missing_within(d("2025-08-01"), d("2025-08-31"))
                .len(),
            1
        );
        assert_eq!(boxnox.late_files, 1);
        let cdlc = &got[1];
        assert_eq!(
            (cdlc.status, labels(cdlc)),
            ("gaps", vec!["2025-03".to_owned()])
        );
        // On 5 October, September is not due yet: boxnox is two months behind.
        assert_eq!(ledgers(&files, d("2025-10-05"))[0].status, "late");
    }

    #[test]
    fn weeks_end_on_the_resellers_weekday_and_a_year_file_covers_its_months() {
        let week = |end: &str| Received {
            vendor: "selfridges".into(),
            grain: Grain::Week,
            start: d(end) - Duration::days(6),
            end: d(end),
            arrived: d(end) + Duration::days(1),
        };
        let files = vec![week("2025-04-06"), week("2025-04-13"), week("2025-04-27")];
        let l = &ledgers(&files, d("2025-05-10"))[0];
        let labels: Vec<&str> = l.missing.iter().map(|m| m.period.as_str()).collect();
        assert_eq!(
            labels,
            vec!["week ending 2025-04-20", "week ending 2025-05-04"]
        );
        assert_eq!(l.status, "late");

        let mut files = vec![
            month("galilu", 2025, 1, "2025-02-02"),
            month("galilu", 2025, 2, "2025-03-02"),
        ];
        files.push(Received {
            vendor: "galilu".into(),
            grain: Grain::Year,
            start: d("2025-01-01"),
            end: d("2025-12-31"),
            arrived: d("2025-04-02"),
        });
        let l = &ledgers(&files, d("2025-04-20"))[0];
        assert_eq!((l.cadence, l.status, l.expected), ("month", "complete", 3));
    }
}
