//! Read back what `benches/micro.rs` (criterion) stored under `target/criterion/<group>/<name>/new/`: the
//! median with its 95 % confidence interval, and the p99 over criterion's samples (time per iteration).

use crate::stats::Summary;
use serde_json::Value;
use std::path::Path;

pub struct Micro {
    pub name: String,
    pub median: f64,
    pub ci: (f64, f64),
    pub samples: Summary,
    pub iterations: f64,
}

fn read(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// `names` under `criterion_dir/group`, in that order; missing ones are skipped.
pub fn load(criterion_dir: &Path, group: &str, names: &[&str]) -> Vec<Micro> {
    names
        .iter()
        .filter_map(|name| {
            let dir = criterion_dir.join(group).join(name).join("new");
            let estimates = read(&dir.join("estimates.json"))?;
            let sample = read(&dir.join("sample.json"))?;
            let median = &estimates["median"];
            let ns = |v: &Value| v.as_f64().unwrap_or(f64::NAN) * 1e-9;
            let iters: Vec<f64> = sample["iters"].as_array()?.iter().filter_map(Value::as_f64).collect();
            let times: Vec<f64> = sample["times"].as_array()?.iter().filter_map(Value::as_f64).collect();
            let per_iter: Vec<f64> = iters.iter().zip(&times).map(|(i, t)| t / i * 1e-9).collect();
            Some(Micro {
                name: format!("{group}/{name}"),
                median: ns(&median["point_estimate"]),
                ci: (
                    ns(&median["confidence_interval"]["lower_bound"]),
                    ns(&median["confidence_interval"]["upper_bound"]),
                ),
                samples: Summary::of(&per_iter),
                iterations: iters.iter().sum(),
            })
        })
        .collect()
}
