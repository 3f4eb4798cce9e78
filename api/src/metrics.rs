//! Prometheus metrics in the text exposition format. A handful of counters does not justify
//! a metrics framework and its exporter; atomics and one render function do.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters since start.
#[derive(Default)]
pub struct Metrics {
    requests: [AtomicU64; 5],
    request_micros: AtomicU64,
    jobs_done: AtomicU64,
    jobs_failed: AtomicU64,
    jobs_retried: AtomicU64,
    job_micros: AtomicU64,
    rows_ingested: AtomicU64,
}

impl Metrics {
    pub fn request(&self, status: u16, micros: u64) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.requests[class].fetch_add(1, Relaxed);
        self.request_micros.fetch_add(micros, Relaxed);
    }

    pub fn job(&self, outcome: JobOutcome, micros: u64, rows: u64) {
        match outcome {
            JobOutcome::Done => &self.jobs_done,
            JobOutcome::Failed => &self.jobs_failed,
            JobOutcome::Retried => &self.jobs_retried,
        }
        .fetch_add(1, Relaxed);
        self.job_micros.fetch_add(micros, Relaxed);
        self.rows_ingested.fetch_add(rows, Relaxed);
    }

    /// The exposition text; `queue_depth` is read from the queue at scrape time.
    pub fn render(&self, queue_depth: i64) -> String {
        let mut out = String::new();
        let total: u64 = self.requests.iter().map(|c| c.load(Relaxed)).sum();
        out.push_str("# TYPE taskifai_http_requests_total counter\n");
        for (i, c) in self.requests.iter().enumerate() {
            let _ = writeln!(
                out,
                "taskifai_http_requests_total{{status=\"{}xx\"}} {}",
                i + 1,
                c.load(Relaxed)
            );
        }
        out.push_str("# TYPE taskifai_http_request_duration_seconds summary\n");
        let _ = writeln!(
            out,
            "taskifai_http_request_duration_seconds_sum {:.6}",
            self.request_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "taskifai_http_request_duration_seconds_count {total}");
        out.push_str("# TYPE taskifai_jobs_total counter\n");
        for (name, c) in [
            ("done", &self.jobs_done),
            ("failed", &self.jobs_failed),
            ("retried", &self.jobs_retried),
        ] {
            let _ = writeln!(
                out,
                "taskifai_jobs_total{{outcome=\"{name}\"}} {}",
                c.load(Relaxed)
            );
        }
        let jobs = self.jobs_done.load(Relaxed)
            + self.jobs_failed.load(Relaxed)
            + self.jobs_retried.load(Relaxed);
        out.push_str("# TYPE taskifai_job_duration_seconds summary\n");
        let _ = writeln!(
            out,
            "taskifai_job_duration_seconds_sum {:.6}",
            self.job_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "taskifai_job_duration_seconds_count {jobs}");
        out.push_str("# TYPE taskifai_rows_ingested_total counter\n");
        let _ = writeln!(
            out,
            "taskifai_rows_ingested_total {}",
            self.rows_ingested.load(Relaxed)
        );
        out.push_str("# TYPE taskifai_job_queue_depth gauge\n");
        let _ = writeln!(out, "taskifai_job_queue_depth {queue_depth}");
        out
    }
}

/// How a job attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    Done,
    Failed,
    Retried,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_counts_requests_by_status_class() {
        let m = Metrics::default();
        m.request(200, 1000);
        m.request(404, 500);
        m.request(201, 10);
        let text = m.render(3);
        assert!(
            text.contains("taskifai_http_requests_total{status=\"2xx\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("taskifai_http_requests_total{status=\"4xx\"} 1"),
            "{text}"
        );
        assert!(text.contains("taskifai_job_queue_depth 3"), "{text}");
    }
}
