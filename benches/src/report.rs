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
}

impl Cell {
    /// Whether to measure it (again).
    pub fn runnable(&self) -> bool {
        !self.unsupported && self.error.is_none()
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

/// A rate as shown: GB/s for bulk workloads, else operations per second.
fn value(w: &Workload, c: &Cell) -> String {
    if c.unsupported {
        return "n/a".into();
    }
    if c.error.is_some() {
        return "error".into();
    }
    let Some(rate) = c.median() else {
        return "-".into();
    };
    match w.op.bulk_bytes() {
        Some(bytes) => format!("{:.2} GB/s", rate * bytes as f64 / 1e9),
        None => format!("{} ops/s", ops(rate)),
    }
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
pub fn render(workloads: &[Workload], names: &[String], cells: &[Vec<Cell>], md: bool) -> String {
    let mut header = vec!["Workload".to_string()];
    header.extend(names.iter().cloned());
    for other in names.iter().skip(1) {
        header.push(format!("{} / {other}", names[0]));
    }
    let mut rows = vec![header];
    for (w, row) in workloads.iter().zip(cells) {
        let mut r = vec![w.name.clone()];
        r.extend(row.iter().map(|c| value(w, c)));
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
        let w = crate::workloads::all(false);
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
        let md = render(w, &names, &cells, true);
        let lines: Vec<&str> = md.lines().collect();
        assert!(lines[0].contains("a / b"));
        assert!(lines[2].contains("200 ops/s") && lines[2].contains("2.00×"));
        assert!(lines[3].contains("n/a") && lines[3].trim_end().ends_with("- |"));
        assert!(lines[4].contains("error") && lines[4].contains("1.05 GB/s"));
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
