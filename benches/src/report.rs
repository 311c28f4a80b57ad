//! Results: one cell per workload and module, rendered as a text or Markdown table.

use crate::workloads::Workload;

/// The measurements of one workload on one module.
#[derive(Debug, Default)]
pub struct Cell {
    /// Operations per second, one per round.
    pub rates: Vec<f64>,
    /// The token does not list a mechanism the workload needs.
    pub unsupported: bool,
    /// The workload failed on this module (it is not run again).
    pub error: Option<String>,
    /// Not measured, for the reason shown in the cell (`-` when it does not apply).
    pub note: Option<String>,
}

impl Cell {
    /// Whether to measure it (again).
    pub fn runnable(&self) -> bool {
        !self.unsupported && self.error.is_none() && self.note.is_none()
    }

    /// Leaves the cell unmeasured, showing `text`.
    pub fn skip(&mut self, text: &str) {
        if self.note.is_none() {
            self.note = Some(text.into());
        }
    }

    /// Records a failure; the first one is kept.
    pub fn fail(&mut self, e: String) {
        if self.error.is_none() {
            eprintln!("error: {e}");
            self.error = Some(e);
        }
    }

    /// The median rate, if measured.
    pub fn median(&self) -> Option<f64> {
        if !self.runnable() || self.rates.is_empty() {
            return None;
        }
        Some(median(&self.rates))
    }
}

/// The median (the mean of the two middle values for an even count).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => s[n / 2],
        _ => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// A rate as shown: GB/s for bulk workloads, else operations per second; with
/// `per_op`, every rate that is not a bulk one also with the time of one operation.
fn value(w: &Workload, c: &Cell, per_op: bool) -> String {
    if c.unsupported {
        return "n/a".into();
    }
    if c.error.is_some() {
        return "error".into();
    }
    if let Some(note) = &c.note {
        return note.clone();
    }
    let Some(rate) = c.median() else {
        return "-".into();
    };
    match (w.op.bulk_bytes(), per_op, w.op.latency()) {
        (Some(bytes), _, _) => format!("{:.2} GB/s", rate * bytes as f64 / 1e9),
        (None, true, _) => format!("{} ops/s, {}", ops(rate), duration(1.0 / rate)),
        (None, false, true) => duration(1.0 / rate),
        (None, false, false) => format!("{} ops/s", ops(rate)),
    }
}

/// A time in s, ms or µs with three significant figures.
pub fn duration(seconds: f64) -> String {
    let (v, unit) = if seconds >= 1.0 {
        (seconds, "s")
    } else if seconds >= 1e-3 {
        (seconds * 1e3, "ms")
    } else {
        (seconds * 1e6, "µs")
    };
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {unit}")
}

/// Three significant figures (two decimals below 10), with thousands separators.
fn ops(rate: f64) -> String {
    if rate < 10.0 {
        return format!("{rate:.2}");
    }
    if rate < 100.0 {
        return format!("{rate:.1}");
    }
    let digits = i32::try_from(format!("{rate:.0}").len()).unwrap_or(3);
    let unit = 10f64.powi((digits - 3).max(0));
    let s = format!("{:.0}", (rate / unit).round() * unit);
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The table: one row per workload, one column per module, then the first module
/// over each other one.
/// `per_op` shows the time of one operation beside each rate.
pub fn render(
    workloads: &[Workload],
    names: &[String],
    cells: &[Vec<Cell>],
    md: bool,
    per_op: bool,
) -> String {
    let mut header = vec!["Workload".to_string()];
    header.extend(names.iter().cloned());
    for other in names.iter().skip(1) {
        header.push(format!("{} / {other}", names[0]));
    }
    let mut rows = vec![header];
    for (w, row) in workloads.iter().zip(cells) {
        let mut r = vec![w.name.clone()];
        r.extend(row.iter().map(|c| value(w, c, per_op)));
        let first = row.first().and_then(Cell::median);
        for c in row.iter().skip(1) {
            r.push(match (first, c.median()) {
                (Some(a), Some(b)) if b > 0.0 => format!("{}×", ops(a / b)),
                _ => "-".into(),
            });
        }
        rows.push(r);
    }
    let cols = rows[0].len();
    let width: Vec<usize> = (0..cols)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let pad = |s: &str, i: usize| {
        let n = width[i].saturating_sub(s.chars().count());
        if i == 0 {
            format!("{s}{}", " ".repeat(n))
        } else {
            format!("{}{s}", " ".repeat(n))
        }
    };
    let mut out = String::new();
    for (k, r) in rows.iter().enumerate() {
        let cells: Vec<String> = r.iter().enumerate().map(|(i, s)| pad(s, i)).collect();
        if md {
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
            if k == 0 {
                let rule: Vec<String> = (0..cols)
                    .map(|i| {
                        let dashes = "-".repeat(width[i].max(3));
                        if i == 0 {
                            dashes
                        } else {
                            format!("{}:", &dashes[1..])
                        }
                    })
                    .collect();
                out.push_str(&format!("| {} |\n", rule.join(" | ")));
            }
        } else {
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
    }
    out
}

/// What a target asks of one workload on the first module.
enum Goal {
    /// At least this many operations per second.
    Ops(f64),
    /// At least this many GB/s (bulk workloads).
    Gbps(f64),
    /// At most this many seconds per operation.
    Time(f64),
    /// At least this many times the rate of the named workload.
    Times(&'static str, f64),
}

/// Issue 7's targets: text, workload name, goal.
const TARGETS: &[(&str, &str, Goal)] = &[
    (
        "AES-GCM 64 B ≥ 2M ops/s",
        "AES-256-GCM encrypt 64 B",
        Goal::Ops(2e6),
    ),
    (
        "AES-GCM 4 KiB ≥ 1M ops/s",
        "AES-256-GCM encrypt 4 KiB",
        Goal::Ops(1e6),
    ),
    (
        "AES-GCM 1 MiB ≥ 12 GB/s",
        "AES-256-GCM encrypt 1 MiB",
        Goal::Gbps(12.0),
    ),
    (
        "RSA-2048 sign ≥ 3,300/s",
        "RSA-2048 PKCS#1 v1.5 sign",
        Goal::Ops(3300.0),
    ),
    (
        "ECDSA P-256 sign ≥ 55,000/s",
        "ECDSA P-256 sign",
        Goal::Ops(55_000.0),
    ),
    (
        "ECDSA P-256 verify ≥ 18,000/s",
        "ECDSA P-256 verify",
        Goal::Ops(18_000.0),
    ),
    (
        "find 1 label among 100,000 token objects < 50 µs",
        "Find 1 label among 100,000 objects",
        Goal::Time(50e-6),
    ),
    (
        "create ≥ 1,000 token keys/s",
        "Create AES token key",
        Goal::Ops(1000.0),
    ),
    (
        "open a token with 10,000 objects ≤ KDF + 20 ms (the bench's token has the fast KDF)",
        "Open token with 10,000 objects, new process",
        Goal::Time(20e-3),
    ),
    (
        "ECDSA sign, 2 threads ≥ 1.8× one thread",
        "ECDSA P-256 sign, 2 threads",
        Goal::Times("ECDSA P-256 sign", 1.8),
    ),
    (
        "AES-GCM 4 KiB, 2 threads ≥ 1.8× one thread",
        "AES-256-GCM encrypt 4 KiB, 2 threads",
        Goal::Times("AES-256-GCM encrypt 4 KiB", 1.8),
    ),
];

/// Issue 7's targets against the first column, as a Markdown table: measured, met or not.
pub fn targets(workloads: &[Workload], name: &str, cells: &[Vec<Cell>]) -> String {
    let rate = |wname: &str| -> Option<(&Workload, f64)> {
        let i = workloads.iter().position(|w| w.name == wname)?;
        let r = cells.get(i)?.first()?.median()?;
        Some((&workloads[i], r))
    };
    let mut out = format!("| target | {name} | met |\n| --- | ---: | --- |\n");
    for (text, wname, goal) in TARGETS {
        let (shown, met) = match (rate(wname), goal) {
            (None, _) => ("not measured".to_string(), "-"),
            (Some((_, r)), Goal::Ops(min)) => (format!("{} ops/s", ops(r)), yes(r >= *min)),
            (Some((w, r)), Goal::Gbps(min)) => {
                let gbps = r * w.op.bulk_bytes().unwrap_or(0) as f64 / 1e9;
                (format!("{gbps:.2} GB/s"), yes(gbps >= *min))
            }
            (Some((_, r)), Goal::Time(max)) => (duration(1.0 / r), yes(1.0 / r <= *max)),
            (Some((_, r)), Goal::Times(base, min)) => match rate(base) {
                Some((_, b)) if b > 0.0 => (format!("{:.2}×", r / b), yes(r / b >= *min)),
                _ => ("not measured".to_string(), "-"),
            },
        };
        out.push_str(&format!("| {text} | {shown} | {met} |\n"));
    }
    out
}

fn yes(b: bool) -> &'static str {
    if b {
        "met"
    } else {
        "**not met**"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn table_shows_na_error_and_ratio() {
        let w = crate::workloads::all(1000);
        let w = &w[..3];
        let cell = |rates: &[f64]| Cell {
            rates: rates.to_vec(),
            ..Cell::default()
        };
        let unsupported = Cell {
            unsupported: true,
            ..Cell::default()
        };
        let failed = Cell {
            error: Some("boom".into()),
            ..Cell::default()
        };
        let cells = vec![
            vec![cell(&[200.0, 100.0, 300.0]), cell(&[100.0])],
            vec![cell(&[1.0]), unsupported],
            vec![failed, cell(&[1000.0])],
        ];
        let names = ["a".to_string(), "b".to_string()];
        let md = render(w, &names, &cells, true, false);
        let lines: Vec<&str> = md.lines().collect();
        assert!(lines[0].contains("a / b"));
        assert!(lines[2].contains("200 ops/s |") && lines[2].contains("2.00×"));
        let md = render(w, &names, &cells, true, true);
        assert!(md.lines().nth(2).unwrap().contains("200 ops/s, 5.00 ms |"));
        assert!(lines[3].contains("n/a") && lines[3].trim_end().ends_with("- |"));
        assert!(lines[4].contains("error") && lines[4].contains("1.05 GB/s"));
    }

    #[test]
    fn durations() {
        assert_eq!(duration(0.0000123), "12.3 µs");
        assert_eq!(duration(0.495), "495 ms");
        assert_eq!(duration(1.54), "1.54 s");
    }

    #[test]
    fn targets_met_and_not() {
        let w = crate::workloads::all(100_000);
        let mut cells: Vec<Vec<Cell>> = w.iter().map(|_| vec![Cell::default()]).collect();
        let set = |cells: &mut Vec<Vec<Cell>>, name: &str, rate: f64| {
            let i = w.iter().position(|x| x.name == name).unwrap();
            cells[i][0].rates = vec![rate];
        };
        set(&mut cells, "AES-256-GCM encrypt 64 B", 3e6);
        set(&mut cells, "ECDSA P-256 sign", 1000.0);
        set(&mut cells, "ECDSA P-256 sign, 2 threads", 1900.0);
        set(&mut cells, "Find 1 label among 100,000 objects", 1e5);
        let t = targets(&w, "m", &cells);
        let line = |k: &str| {
            t.lines()
                .find(|l| l.starts_with(&format!("| {k}")))
                .unwrap()
                .to_string()
        };
        assert!(line("AES-GCM 64 B").ends_with("| met |"));
        assert!(line("ECDSA P-256 sign ≥").contains("**not met**"));
        assert!(
            line("ECDSA sign, 2 threads").contains("1.90×")
                && line("ECDSA sign, 2").ends_with("| met |")
        );
        assert!(
            line("find 1 label").contains("10.0 µs") && line("find 1 label").ends_with("| met |")
        );
        assert!(line("AES-GCM 4 KiB ≥").contains("not measured"));
    }

    #[test]
    fn op_rates() {
        assert_eq!(ops(1.234), "1.23");
        assert_eq!(ops(42.42), "42.4");
        assert_eq!(ops(123.4), "123");
        assert_eq!(ops(12_345.6), "12,300");
        assert_eq!(ops(1_234_567.0), "1,230,000");
        assert_eq!(ops(4657.86), "4,660");
    }
}
