//! Server-side SVG charts for the console's audit view.
//!
//! The console runs under `default-src 'none'; style-src 'self'`, so the SVG
//! uses presentation attributes only (no `style`, no `<style>`, no script) and
//! its tooltips are `<title>` elements. Series names come from audit records
//! and are escaped like any other hostile text.

use std::collections::HashMap;

/// Uses of one series in one hour.
pub(crate) struct Bar {
    /// The hour, as Unix seconds at its start (a multiple of 3600).
    pub hour: i64,
    /// The series: an operation or a principal name.
    pub series: String,
    /// Uses that succeeded.
    pub ok: u64,
    /// Uses that were refused.
    pub refused: u64,
}

/// The most columns a chart draws: 31 days of hours.
const MAX_HOURS: usize = 24 * 31;
/// The most series drawn apart; past this the smallest fold into "other".
const MAX_SERIES: usize = 8;
/// Colours for the series: Okabe–Ito without its vermillion, then grey.
const PALETTE: [&str; MAX_SERIES] = [
    "#0072b2", "#e69f00", "#56b4e9", "#009e73", "#f0e442", "#cc79a7", "#000000", "#999999",
];
/// The colour of refusals.
const RED: &str = "#d62728";

/// Width of the view box.
const WIDTH: f64 = 760.0;
/// Left edge of the plot (room for the counts).
const LEFT: f64 = 52.0;
/// Right margin.
const RIGHT: f64 = 16.0;
/// Top edge of the plot (room for the refusal markers).
const TOP: f64 = 26.0;
/// Height of the plot.
const PLOT_H: f64 = 190.0;
/// Space under the plot for the hour and date labels.
const X_LABELS_H: f64 = 40.0;
/// Height of one legend row.
const LEGEND_ROW: f64 = 18.0;
/// Legend names longer than this are cut (the full name is in a tooltip).
const LEGEND_CHARS: usize = 28;

/// An SVG chart of uses per hour from `from_hour` to `to_hour` (Unix seconds
/// at an hour's start, both included): one stacked column per hour, a segment
/// per series for its successful uses, a red segment for the hour's
/// refusals, and a marker (`class="refusal"`) above each column with
/// refusals. Bars outside the range are ignored; a range longer than 31 days
/// keeps its last 744 hours; past 8 series the 7 largest keep their colour
/// and the rest are summed as "other".
pub(crate) fn uses_per_hour(
    id: &str,
    title: &str,
    bars: &[Bar],
    from_hour: i64,
    to_hour: i64,
) -> String {
    match Grid::collect(bars, from_hour, to_hour) {
        Some(grid) => render(id, title, &grid),
        None => empty(id, title),
    }
}

/// The counts, one row per hour and one column per series group.
struct Grid {
    /// The first hour, in Unix seconds.
    from: i64,
    /// How many hours.
    hours: usize,
    /// Names of the groups, largest total first.
    names: Vec<String>,
    /// How many series each group sums (more than one only for "other").
    members: Vec<usize>,
    /// Successful uses, `hours × names.len()`.
    ok: Vec<u64>,
    /// Refused uses, `hours × names.len()`.
    refused: Vec<u64>,
}

impl Grid {
    /// Sums the bars inside the range; `None` when nothing is left.
    fn collect(bars: &[Bar], from_hour: i64, to_hour: i64) -> Option<Grid> {
        let to = to_hour.checked_sub(to_hour.rem_euclid(3600))?;
        let mut from = from_hour.checked_sub(from_hour.rem_euclid(3600))?;
        if to < from {
            return None;
        }
        let max_span = i64::try_from(MAX_HOURS - 1).ok()? * 3600;
        if to.checked_sub(from).is_none_or(|span| span > max_span) {
            from = to.checked_sub(max_span)?;
        }
        let hours = usize::try_from((to - from) / 3600).ok()? + 1;
        let index = |hour: i64| -> Option<usize> {
            if hour < from {
                return None;
            }
            let i = usize::try_from(hour.checked_sub(from)? / 3600).ok()?;
            (i < hours).then_some(i)
        };

        // Totals per series decide the order and which ones fold.
        let mut totals: HashMap<&str, u64> = HashMap::new();
        for bar in bars {
            if index(bar.hour).is_some() && bar.ok.saturating_add(bar.refused) > 0 {
                let t = totals.entry(bar.series.as_str()).or_insert(0);
                *t = t.saturating_add(bar.ok).saturating_add(bar.refused);
            }
        }
        if totals.is_empty() {
            return None;
        }
        let mut order: Vec<(&str, u64)> = totals.into_iter().collect();
        order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let kept = if order.len() > MAX_SERIES {
            MAX_SERIES - 1
        } else {
            order.len()
        };
        let mut group: HashMap<&str, usize> = HashMap::new();
        let mut names = Vec::new();
        for (i, (name, _)) in order.iter().enumerate() {
            group.insert(name, i.min(kept));
            if i < kept {
                names.push(if name.is_empty() {
                    "(unnamed)".to_owned()
                } else {
                    (*name).to_owned()
                });
            }
        }
        let mut members = vec![1; names.len()];
        if order.len() > kept {
            names.push("other".to_owned());
            members.push(order.len() - kept);
        }

        let width = names.len();
        let mut grid = Grid {
            from,
            hours,
            names,
            members,
            ok: vec![0; hours * width],
            refused: vec![0; hours * width],
        };
        for bar in bars {
            let (Some(h), Some(&g)) = (index(bar.hour), group.get(bar.series.as_str())) else {
                continue;
            };
            let cell = h * width + g;
            grid.ok[cell] = grid.ok[cell].saturating_add(bar.ok);
            grid.refused[cell] = grid.refused[cell].saturating_add(bar.refused);
        }
        Some(grid)
    }

    /// The successful uses of each group in hour `h`.
    fn ok_at(&self, h: usize) -> &[u64] {
        let w = self.names.len();
        &self.ok[h * w..(h + 1) * w]
    }

    /// The refused uses of each group in hour `h`.
    fn refused_at(&self, h: usize) -> &[u64] {
        let w = self.names.len();
        &self.refused[h * w..(h + 1) * w]
    }

    /// The Unix seconds at the start of hour `h`.
    fn hour(&self, h: usize) -> i64 {
        self.from + i64::try_from(h).unwrap_or(0) * 3600
    }
}

/// The opening `<svg>` tag and its `<title>`.
fn open(out: &mut String, id: &str, title: &str, height: f64) {
    out.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"{}\" role=\"img\" aria-label=\"{}\" \
         viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" font-family=\"sans-serif\" font-size=\"11\">\
         <title>{}</title>",
        escape(id),
        escape(title),
        escape(title),
    ));
}

/// The small chart shown when the period has no uses.
fn empty(id: &str, title: &str) -> String {
    let mut out = String::new();
    open(&mut out, id, title, 60.0);
    out.push_str(&format!(
        "<text x=\"{}\" y=\"34\" text-anchor=\"middle\" fill=\"#555555\">No uses in this period.</text></svg>",
        WIDTH / 2.0
    ));
    out
}

/// The full chart.
fn render(id: &str, title: &str, grid: &Grid) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let col_w = plot_w / grid.hours as f64;
    let bar_w = if col_w >= 3.0 { col_w * 0.8 } else { col_w };
    let bottom = TOP + PLOT_H;

    let column_total = |h: usize| -> u64 {
        grid.ok_at(h)
            .iter()
            .chain(grid.refused_at(h))
            .fold(0u64, |a, b| a.saturating_add(*b))
    };
    let max = (0..grid.hours).map(column_total).max().unwrap_or(0).max(1);
    let step = count_step(max);
    let top = max.div_ceil(step).saturating_mul(step);
    let y_of = |count: u64| bottom - PLOT_H * (count as f64 / top as f64);

    let any_refused = grid.refused.iter().any(|n| *n > 0);
    let (legend, rows) = legend(grid, any_refused);
    let legend_top = bottom + X_LABELS_H;
    let height = legend_top + LEGEND_ROW * rows as f64 + 4.0;

    let mut out = String::new();
    open(&mut out, id, title, height);

    // Y axis: gridlines and counts.
    out.push_str(
        "<text x=\"4\" y=\"12\" font-size=\"10\" fill=\"#555555\">uses per hour (UTC)</text>",
    );
    out.push_str("<g stroke=\"#dddddd\" stroke-width=\"1\">");
    let mut ticks = Vec::new();
    let mut v = step;
    while v <= top {
        ticks.push(v);
        v = v.saturating_add(step);
        if v == u64::MAX {
            break;
        }
    }
    for &t in &ticks {
        let y = y_of(t);
        out.push_str(&format!(
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>",
            WIDTH - RIGHT
        ));
    }
    out.push_str("</g><g text-anchor=\"end\" font-size=\"10\" fill=\"#555555\">");
    for &t in std::iter::once(&0).chain(&ticks) {
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            LEFT - 6.0,
            y_of(t) + 3.5,
            count_label(t)
        ));
    }
    out.push_str("</g>");

    // Columns: one segment per group, then the refusals on top.
    for h in 0..grid.hours {
        let x = LEFT + col_w * h as f64 + (col_w - bar_w) / 2.0;
        let span = hour_span(grid.hour(h));
        let mut base = 0u64;
        out.push_str("<g>");
        for (g, &n) in grid.ok_at(h).iter().enumerate() {
            if n == 0 {
                continue;
            }
            segment(
                &mut out,
                x,
                bar_w,
                y_of(base.saturating_add(n)),
                y_of(base),
                PALETTE[g],
            );
            out.push_str(&format!(
                "<title>{}, {span}: {}</title></rect>",
                escape(&grid.names[g]),
                uses(n)
            ));
            base = base.saturating_add(n);
        }
        let refused: u64 = grid
            .refused_at(h)
            .iter()
            .fold(0, |a, b| a.saturating_add(*b));
        if refused > 0 {
            segment(
                &mut out,
                x,
                bar_w,
                y_of(base.saturating_add(refused)),
                y_of(base),
                RED,
            );
            out.push_str(&format!(
                "<title>refused, {span}: {}</title></rect>",
                uses(refused)
            ));
            let mut who: Vec<(usize, u64)> = grid
                .refused_at(h)
                .iter()
                .copied()
                .enumerate()
                .filter(|(_, n)| *n > 0)
                .collect();
            who.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let who: Vec<String> = who
                .iter()
                .map(|(g, n)| format!("{} ({n})", escape(&grid.names[*g])))
                .collect();
            let cx = x + bar_w / 2.0;
            let s = (col_w / 2.0).clamp(2.5, 5.0);
            let tip = y_of(base.saturating_add(refused)) - 3.0;
            out.push_str(&format!(
                "<path class=\"refusal\" d=\"M{:.1} {:.1}L{:.1} {:.1}L{cx:.1} {tip:.1}Z\" fill=\"{RED}\">\
                 <title>{refused} refused: {}\n{span}</title></path>",
                cx - s,
                tip - s * 1.6,
                cx + s,
                tip - s * 1.6,
                who.join(", "),
            ));
        }
        out.push_str("</g>");
    }

    // X axis: the baseline, ticks and labels.
    out.push_str(&format!(
        "<line x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{:.1}\" y2=\"{bottom}\" stroke=\"#888888\"/>",
        WIDTH - RIGHT
    ));
    let every = label_step(grid.hours, plot_w);
    out.push_str("<g text-anchor=\"middle\" font-size=\"10\" fill=\"#333333\">");
    let mut first = true;
    for h in 0..grid.hours {
        let t = grid.hour(h);
        let (day, hour) = (t.div_euclid(86_400), t.rem_euclid(86_400) / 3600);
        let labelled = if every < 24 {
            hour % every == 0
        } else {
            hour == 0 && day.rem_euclid(every / 24) == 0
        };
        if !labelled {
            continue;
        }
        let cx = LEFT + col_w * (h as f64 + 0.5);
        out.push_str(&format!(
            "<line x1=\"{cx:.1}\" y1=\"{bottom}\" x2=\"{cx:.1}\" y2=\"{}\" stroke=\"#888888\"/>",
            bottom + 4.0
        ));
        out.push_str(&format!(
            "<text x=\"{cx:.1}\" y=\"{}\">{hour:02}:00</text>",
            bottom + 15.0
        ));
        if hour == 0 || first {
            out.push_str(&format!(
                "<text x=\"{cx:.1}\" y=\"{}\">{}</text>",
                bottom + 28.0,
                date(day)
            ));
        }
        first = false;
    }
    out.push_str("</g>");

    // Legend: a swatch and a name per group, then the refusals.
    out.push_str("<g font-size=\"11\" fill=\"#333333\">");
    for item in &legend {
        let (x, y) = (item.x, legend_top + LEGEND_ROW * item.row as f64);
        out.push_str(&format!(
            "<g><title>{}</title><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            escape(&item.full),
            item.colour,
            x + 14.0,
            y + 9.0,
            escape(&item.label),
        ));
    }
    out.push_str("</g></svg>");
    out
}

/// Opens a `<rect>` from `y_top` to `y_bottom`; the caller adds its title
/// and closes it.
fn segment(out: &mut String, x: f64, w: f64, y_top: f64, y_bottom: f64, fill: &str) {
    out.push_str(&format!(
        "<rect x=\"{x:.2}\" y=\"{y_top:.2}\" width=\"{w:.2}\" height=\"{:.2}\" fill=\"{fill}\">",
        y_bottom - y_top
    ));
}

/// One entry of the legend.
struct LegendItem {
    /// The swatch colour.
    colour: &'static str,
    /// The text shown, cut to [`LEGEND_CHARS`].
    label: String,
    /// The full name, for the tooltip.
    full: String,
    /// Where the swatch starts.
    x: f64,
    /// The row, from 0.
    row: usize,
}

/// The legend: a swatch and a name per group, then "refused" if any, in
/// rows under the plot. Also returns the number of rows.
fn legend(grid: &Grid, refused: bool) -> (Vec<LegendItem>, usize) {
    let mut items = Vec::new();
    let (mut x, mut row) = (LEFT, 0);
    let entries = grid
        .names
        .iter()
        .zip(&grid.members)
        .enumerate()
        .map(|(i, (name, &members))| {
            let label = if members > 1 {
                format!("{} ({members} series)", shorten(name))
            } else {
                shorten(name)
            };
            (PALETTE[i], label, name.clone())
        })
        .chain(refused.then(|| (RED, "refused".to_owned(), "refused".to_owned())));
    for (colour, label, full) in entries {
        // About 6.5 units a character at font-size 11, plus swatch and gap.
        let w = 14.0 + 6.5 * label.chars().count() as f64 + 18.0;
        if x + w > WIDTH - RIGHT && x > LEFT {
            x = LEFT;
            row += 1;
        }
        items.push(LegendItem {
            colour,
            label,
            full,
            x,
            row,
        });
        x += w;
    }
    (items, row + 1)
}

/// A legend name, cut to [`LEGEND_CHARS`].
fn shorten(name: &str) -> String {
    if name.chars().count() <= LEGEND_CHARS {
        return name.to_owned();
    }
    let mut s: String = name.chars().take(LEGEND_CHARS - 1).collect();
    s.push('…');
    s
}

/// "1 use", "5 uses".
fn uses(n: u64) -> String {
    if n == 1 {
        "1 use".to_owned()
    } else {
        format!("{n} uses")
    }
}

/// The gap between gridlines: 1, 2 or 5 times a power of ten, at most five
/// gaps up to `max`.
fn count_step(max: u64) -> u64 {
    let mut unit = 1u64;
    loop {
        for m in [1, 2, 5] {
            let step = unit.saturating_mul(m);
            if max.div_ceil(step) <= 5 || step == u64::MAX {
                return step;
            }
        }
        unit = unit.saturating_mul(10);
    }
}

/// A count for the y axis: "950", "12k", "1.5M".
fn count_label(v: u64) -> String {
    let short = |unit: u64, suffix: &str| {
        let (whole, tenth) = (v / unit, v % unit / (unit / 10));
        if tenth == 0 {
            format!("{whole}{suffix}")
        } else {
            format!("{whole}.{tenth}{suffix}")
        }
    };
    if v >= 1_000_000 && v.is_multiple_of(100_000) {
        short(1_000_000, "M")
    } else if v >= 10_000 && v.is_multiple_of(100) {
        short(1_000, "k")
    } else {
        v.to_string()
    }
}

/// How many hours between x labels, so that they are at least 64 units apart.
fn label_step(hours: usize, plot_w: f64) -> i64 {
    let room = (plot_w / 64.0).floor().max(1.0);
    for step in [1, 2, 3, 4, 6, 12, 24, 48, 72, 168] {
        if (hours as f64 / step as f64) <= room {
            return step;
        }
    }
    168
}

/// "14:00–14:59 UTC 2026-12-07" for the hour starting at `t`.
fn hour_span(t: i64) -> String {
    let h = t.rem_euclid(86_400) / 3600;
    format!("{h:02}:00–{h:02}:59 UTC {}", date(t.div_euclid(86_400)))
}

/// The date `days` after 1970-01-01, as "YYYY-MM-DD".
fn date(days: i64) -> String {
    let t = crate::clock::rfc3339(days.saturating_mul(86_400));
    t.get(..10).unwrap_or(&t).to_string()
}

/// Escapes text for an XML attribute or element.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline are not XML.
            c if c.is_control() && c != '\t' && c != '\n' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07 00:00 UTC.
    const DAY: i64 = 1_796_601_600;

    fn bar(hour: i64, series: &str, ok: u64, refused: u64) -> Bar {
        Bar {
            hour,
            series: series.to_owned(),
            ok,
            refused,
        }
    }

    /// Checks that `svg` is well-formed: tags balance, attribute values are
    /// quoted, `&` starts a known entity and `<` only starts a tag.
    fn well_formed(svg: &str) {
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = svg;
        while let Some(lt) = rest.find('<') {
            check_text(&rest[..lt]);
            let gt = rest[lt..].find('>').expect("tag closed") + lt;
            let tag = &rest[lt + 1..gt];
            assert!(!tag.contains('<'), "< inside tag: {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name), "close tag {name}");
            } else {
                let self_closing = tag.ends_with('/');
                let body = tag.trim_end_matches('/');
                let name = body.split_whitespace().next().expect("tag name");
                assert!(name.chars().all(|c| c.is_ascii_alphanumeric()), "{name}");
                check_attributes(&body[name.len()..]);
                if !self_closing {
                    stack.push(name);
                }
            }
            rest = &rest[gt + 1..];
            if stack.is_empty() {
                break;
            }
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        assert_eq!(rest, "", "text after the root");
        assert!(svg.starts_with("<svg "));
    }

    fn check_attributes(mut s: &str) {
        loop {
            s = s.trim_start();
            if s.is_empty() {
                return;
            }
            let eq = s.find("=\"").expect("attribute=\"value\"");
            let name = &s[..eq];
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':'),
                "{name}"
            );
            let end = s[eq + 2..].find('"').expect("closing quote") + eq + 2;
            check_text(&s[eq + 2..end]);
            s = &s[end + 1..];
        }
    }

    fn check_text(s: &str) {
        assert!(!s.contains('>') && !s.contains('<'), "raw bracket in {s:?}");
        for (i, _) in s.match_indices('&') {
            let ok = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                .iter()
                .any(|e| s[i..].starts_with(e));
            assert!(ok, "bare & in {s:?}");
        }
    }

    fn csp_safe(svg: &str) {
        assert!(!svg.contains("style="));
        assert!(!svg.contains("<style"));
        assert!(!svg.contains("<script"));
    }

    fn sample() -> Vec<Bar> {
        let mut bars = Vec::new();
        for h in 0..24 {
            let t = DAY + h * 3600;
            let h = u64::try_from(h).expect("small");
            bars.push(bar(t, "Encrypt", 5 + h % 7, 0));
            bars.push(bar(t, "Decrypt", 3 + h % 5, if h % 6 == 2 { 2 } else { 0 }));
            bars.push(bar(t, "alice", h % 4, if h == 13 { 1 } else { 0 }));
        }
        bars
    }

    #[test]
    fn sample_is_well_formed_and_csp_safe() {
        let svg = uses_per_hour("uses", "Uses per hour", &sample(), DAY, DAY + 23 * 3600);
        well_formed(&svg);
        csp_safe(&svg);
        assert!(svg.contains("id=\"uses\" role=\"img\" aria-label=\"Uses per hour\""));
        assert!(svg.contains("><title>Uses per hour</title>"));
        assert!(svg.contains("<title>Encrypt, 00:00–00:59 UTC 2026-12-07: 5 uses</title>"));
        assert!(svg.contains(">2026-12-07</text>"));
    }

    #[test]
    fn hostile_names_are_escaped() {
        let evil = "<script>alert('x')</script>&\"";
        let bars = [bar(DAY, evil, 2, 1)];
        let svg = uses_per_hour("a\"b", "<t>", &bars, DAY, DAY + 3600);
        well_formed(&svg);
        csp_safe(&svg);
        assert!(svg.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"));
        assert!(!svg.contains("<t>"));
        assert!(svg.contains("id=\"a&quot;b\""));
    }

    #[test]
    fn refusal_markers_match_hours_with_refusals() {
        let bars = sample();
        let svg = uses_per_hour("u", "t", &bars, DAY, DAY + 23 * 3600);
        let mut hours: Vec<i64> = bars
            .iter()
            .filter(|b| b.refused > 0)
            .map(|b| b.hour)
            .collect();
        hours.dedup();
        assert_eq!(hours.len(), 5); // 02, 08, 13, 14, 20
        assert_eq!(svg.matches("class=\"refusal\"").count(), hours.len());
        assert!(svg.contains("<title>1 refused: alice (1)\n13:00–13:59 UTC 2026-12-07</title>"));
        let none = [bar(DAY, "Sign", 4, 0)];
        assert_eq!(
            uses_per_hour("u", "t", &none, DAY, DAY)
                .matches("class=\"refusal\"")
                .count(),
            0
        );
    }

    #[test]
    fn refusal_title_lists_each_series() {
        let bars = [
            bar(DAY, "a", 1, 2),
            bar(DAY, "b", 0, 3),
            bar(DAY, "c", 5, 0),
        ];
        let svg = uses_per_hour("u", "t", &bars, DAY, DAY);
        assert!(svg.contains("<title>5 refused: b (3), a (2)\n"));
        assert!(svg.contains("<title>refused, 00:00–00:59 UTC 2026-12-07: 5 uses</title>"));
    }

    #[test]
    fn empty_data_says_so() {
        for bars in [
            vec![],
            vec![bar(DAY, "a", 0, 0)],
            vec![bar(DAY - 3600, "a", 3, 0)],
        ] {
            let svg = uses_per_hour("u", "t", &bars, DAY, DAY + 3600);
            well_formed(&svg);
            assert!(svg.contains("No uses in this period."));
            assert!(!svg.contains("<rect"));
        }
        // A reversed range has no hours.
        let svg = uses_per_hour("u", "t", &[bar(DAY, "a", 1, 0)], DAY + 3600, DAY);
        assert!(svg.contains("No uses in this period."));
        // Extreme hours neither panic nor draw.
        let edge = [
            bar(i64::MAX, "a", u64::MAX, u64::MAX),
            bar(i64::MIN, "b", 1, 0),
        ];
        let svg = uses_per_hour("u", "t", &edge, i64::MIN, i64::MIN + 7200);
        well_formed(&svg);
        let svg = uses_per_hour("u", "t", &edge, i64::MIN, i64::MAX);
        well_formed(&svg);
    }

    #[test]
    fn many_series_fold_into_other() {
        let bars: Vec<Bar> = (0..12u64)
            .map(|i| bar(DAY, &format!("s{i:02}"), 100 - i, 0))
            .collect();
        let svg = uses_per_hour("u", "t", &bars, DAY, DAY + 3600);
        well_formed(&svg);
        for i in 0..7 {
            assert!(svg.contains(&format!("<title>s{i:02}, ")), "s{i:02} kept");
        }
        for i in 7..12 {
            assert!(!svg.contains(&format!("s{i:02}")), "s{i:02} folded");
        }
        // 93 + 92 + 91 + 90 + 89
        assert!(svg.contains("<title>other, 00:00–00:59 UTC 2026-12-07: 455 uses</title>"));
        assert!(svg.contains(">other (5 series)</text>"));
        // Eight series exactly: no folding.
        let svg = uses_per_hour("u", "t", &bars[..8], DAY, DAY);
        assert!(!svg.contains("other"));
        assert!(svg.contains("<title>s07, "));
    }

    #[test]
    fn bars_outside_the_range_are_ignored() {
        let bars = [
            bar(DAY - 3600, "early", 50, 5),
            bar(DAY, "inside", 2, 0),
            bar(DAY + 3 * 3600, "late", 50, 5),
        ];
        let svg = uses_per_hour("u", "t", &bars, DAY, DAY + 2 * 3600);
        well_formed(&svg);
        assert!(svg.contains("inside"));
        assert!(!svg.contains("early") && !svg.contains("late"));
        assert_eq!(svg.matches("class=\"refusal\"").count(), 0);
        assert_eq!(svg.matches("<rect").count(), 2); // the segment and its swatch
    }

    #[test]
    fn long_ranges_keep_their_last_744_hours() {
        let to = DAY + 100 * 24 * 3600;
        let first_kept = to - 743 * 3600;
        let bars = [
            bar(first_kept - 3600, "dropped", 1, 1),
            bar(first_kept, "first", 1, 1),
            bar(to, "last", 1, 1),
        ];
        let svg = uses_per_hour("u", "t", &bars, DAY, to);
        well_formed(&svg);
        assert!(!svg.contains("dropped"));
        assert!(svg.contains("first") && svg.contains("last"));
        assert_eq!(svg.matches("class=\"refusal\"").count(), 2);
        // One group per hour of the range.
        assert_eq!(svg.matches("<g>").count(), 744 + 3);
    }

    #[test]
    fn dates_and_steps() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(-1), "1969-12-31");
        assert_eq!(date(DAY / 86_400), "2026-12-07");
        assert_eq!(date(11_016), "2000-02-29");
        assert_eq!(hour_span(DAY + 14 * 3600), "14:00–14:59 UTC 2026-12-07");
        assert_eq!(count_step(1), 1);
        assert_eq!(count_step(7), 2);
        assert_eq!(count_step(23), 5);
        assert_eq!(count_step(130), 50);
        assert_eq!(count_label(950), "950");
        assert_eq!(count_label(20_000), "20k");
        assert_eq!(count_label(1_500_000), "1.5M");
    }
}
