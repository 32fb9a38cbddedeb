//! The clients bench's tables: the samples of each cell over the rounds, one row per metric
//! with the ratios of zk-client to the other two clients and the goals.

use std::collections::HashMap;

use super::support::{fmt_num, percentile_us, Table};
use super::Sample;

/// The samples of one (workload, depth, client) cell, over the rounds.
#[derive(Default)]
pub struct Cell {
    pub samples: Vec<Sample>,
}

impl Cell {
    fn ops_per_sec(&self) -> f64 {
        let ops: u64 = self.samples.iter().map(|s| s.ops).sum();
        let secs: f64 = self.samples.iter().map(|s| s.elapsed.as_secs_f64()).sum();
        ops as f64 / secs
    }

    fn cpu_us_per_op(&self) -> f64 {
        let ops: u64 = self.samples.iter().map(|s| s.ops).sum();
        let ns: u64 = self.samples.iter().map(|s| s.usage.cpu_ns).sum();
        ns as f64 / 1000.0 / ops as f64
    }

    fn percentile_us(&self, p: f64) -> f64 {
        let mut all: Vec<u64> = self
            .samples
            .iter()
            .flat_map(|s| s.latencies.iter().copied())
            .collect();
        all.sort_unstable();
        percentile_us(&all, p)
    }

    fn rounds_ops_per_sec(&self) -> String {
        self.samples
            .iter()
            .map(|s| format!("{:.0}", s.ops as f64 / s.elapsed.as_secs_f64()))
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// The column names of the three clients, in table order.
pub const ZK_CLIENT: &str = "zk-client";
pub const PEER: &str = "zookeeper-client";
pub const JAVA: &str = "Java client";

pub struct Row {
    workload: String,
    metric: &'static str,
    ours: f64,
    peer: Option<f64>,
    java: Option<f64>,
    /// Whether bigger is better (ops/s) or smaller (latency, CPU).
    higher_better: bool,
    /// The goal on ours/other, if any.
    goal: Option<f64>,
    note: String,
}

impl Row {
    fn verdict(&self, other: Option<f64>) -> String {
        let (Some(goal), Some(other)) = (self.goal, other) else {
            return String::new();
        };
        let ratio = self.ours / other;
        let met = if self.higher_better {
            ratio >= goal
        } else {
            ratio <= goal
        };
        (if met { "met" } else { "MISSED" }).to_string()
    }
}

pub fn print_table(server: &str, rows: &[Row]) {
    let mut table = Table::new(&[
        "workload",
        "metric",
        ">zk-client",
        ">zookeeper-client",
        ">Java client 3.8",
        ">ours/peer",
        ">ours/Java",
        "goal: vs peer, vs Java",
        "note",
    ]);
    let ratio =
        |ours: f64, other: Option<f64>| other.map_or(String::new(), |o| format!("{:.2}", ours / o));
    for r in rows {
        let goal = match r.goal {
            Some(g) => format!(
                "{} {g:.2}: {} / {}",
                if r.higher_better { "≥" } else { "≤" },
                r.verdict(r.peer),
                r.verdict(r.java)
            ),
            None => String::new(),
        };
        table.row(vec![
            r.workload.clone(),
            r.metric.to_string(),
            fmt_num(r.ours),
            r.peer.map_or("n/a".into(), fmt_num),
            r.java.map_or("n/a".into(), fmt_num),
            ratio(r.ours, r.peer),
            ratio(r.ours, r.java),
            goal,
            r.note.clone(),
        ]);
    }
    table.print(server);
}

/// The rows of one (workload, depth) from its cells (`zk-client` must be there).
pub fn rows_of(
    workload: &str,
    depth: usize,
    cells: &HashMap<&'static str, Cell>,
    rows: &mut Vec<Row>,
) {
    let Some(o) = cells.get(ZK_CLIENT) else {
        return;
    };
    let p = cells.get(PEER);
    let j = cells.get(JAVA);
    let both = |f: &dyn Fn(&Cell) -> f64| (p.map(f), j.map(f));
    if let Some(kind) = workload.strip_prefix("seq-") {
        let name = format!("sequential {kind}");
        for (metric, pct) in [("p50 µs", 50.0), ("p99 µs", 99.0), ("p999 µs", 99.9)] {
            let (peer, java) = both(&|c| c.percentile_us(pct));
            rows.push(Row {
                workload: name.clone(),
                metric,
                ours: o.percentile_us(pct),
                peer,
                java,
                higher_better: false,
                goal: (pct < 99.5).then_some(1.0),
                note: String::new(),
            });
        }
        let (peer, java) = both(&Cell::cpu_us_per_op);
        rows.push(Row {
            workload: name,
            metric: "CPU µs/op",
            ours: o.cpu_us_per_op(),
            peer,
            java,
            higher_better: false,
            goal: Some(0.5),
            note: String::new(),
        });
    } else {
        let name = format!("pipelined {workload} ×{depth}");
        let (peer, java) = both(&Cell::ops_per_sec);
        let rounds = [Some(o), p, j]
            .iter()
            .map(|c| c.map_or("-".into(), Cell::rounds_ops_per_sec))
            .collect::<Vec<_>>()
            .join(" · ");
        rows.push(Row {
            workload: name.clone(),
            metric: "ops/s",
            ours: o.ops_per_sec(),
            peer,
            java,
            higher_better: true,
            goal: Some(1.5),
            note: format!("rounds: {rounds}"),
        });
        let (peer, java) = both(&Cell::cpu_us_per_op);
        rows.push(Row {
            workload: name,
            metric: "CPU µs/op",
            ours: o.cpu_us_per_op(),
            peer,
            java,
            higher_better: false,
            goal: Some(0.5),
            note: String::new(),
        });
    }
}
