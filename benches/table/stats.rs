//! Order statistics over samples, and how they are written in the table.

use std::time::Duration;

/// min / p50 / p99 / max of a sample (nearest-rank percentiles), in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(samples: &[f64]) -> Summary {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| -> f64 {
            if v.is_empty() {
                return f64::NAN;
            }
            let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            v[i]
        };
        Summary { n: v.len(), min: rank(0.0), p50: rank(0.5), p99: rank(0.99), max: rank(1.0) }
    }

    pub fn of_durations(samples: &[Duration]) -> Summary {
        Summary::of(&samples.iter().map(Duration::as_secs_f64).collect::<Vec<_>>())
    }

    /// "median 3.10 ms, p99 4.02 ms".
    pub fn p50_p99(&self) -> String {
        format!("median {}, p99 {}", secs(self.p50), secs(self.p99))
    }

    /// "min 2.71 / median 3.10 / max 5.20 ms" (process-level figures).
    pub fn min_med_max(&self) -> String {
        format!("min {} / median {} / max {}", secs(self.min), secs(self.p50), secs(self.max))
    }
}

/// A duration in seconds, written with a unit that keeps 3 significant digits.
pub fn secs(s: f64) -> String {
    if !s.is_finite() {
        "n/a".to_string()
    } else if s.abs() < 1e-6 {
        format!("{:.1} ns", s * 1e9)
    } else if s.abs() < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else if s.abs() < 1.0 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// Bytes as MiB with two decimals.
pub fn mib(bytes: f64) -> String {
    format!("{:.2} MiB", bytes / (1024.0 * 1024.0))
}

/// "min 9.1 / median 9.4 / max 9.9 MiB".
pub fn mib_min_med_max(s: &Summary) -> String {
    let m = |b: f64| b / (1024.0 * 1024.0);
    format!("min {:.2} / median {:.2} / max {:.2} MiB", m(s.min), m(s.p50), m(s.max))
}
