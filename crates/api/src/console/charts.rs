//! Charts as server-rendered SVG (inline in the page, no script): bars per day, a line over days, and
//! horizontal bars per repository. Colours come from the stylesheet (classes, no inline styles: the
//! Content-Security-Policy allows none); every chart has a title and sits beside a table of the same
//! figures, which is what assistive technology reads.

use std::fmt::Write as _;

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 200.0;
/// Room for the axis labels.
const LEFT: f64 = 70.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 10.0;

/// One series of values, drawn with the stylesheet's class `class`.
pub struct Series<'a> {
    pub name: &'a str,
    pub class: &'static str,
    pub values: Vec<u64>,
}

/// Text made safe for SVG (XML) content and attributes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// A round upper bound for the axis (1, 2 or 5 times a power of ten), at least 1.
fn nice_max(max: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            let v = step.saturating_mul(m);
            if v >= max {
                return v.max(1);
            }
        }
        if step > u64::MAX / 10 {
            return u64::MAX;
        }
        step *= 10;
    }
}

fn open(out: &mut String, title: &str, id: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="{id}"><title id="{id}">{}</title>"#,
        escape(title)
    );
}

/// The value axis: the top value and zero, with a gridline at each.
fn axis(out: &mut String, max: u64, format: &dyn Fn(u64) -> String) {
    let plot_bottom = HEIGHT - BOTTOM;
    // The middle gridline only where half the top is a whole value (an axis 0-1-0 reads wrong).
    let middle = max.is_multiple_of(2).then_some((max / 2, (TOP + plot_bottom) / 2.0));
    for (value, y) in [Some((max, TOP)), middle, Some((0, plot_bottom))].into_iter().flatten() {
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" y1="{y}" x2="{WIDTH}" y2="{y}"/><text class="axis" x="{}" y="{}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            y + 4.0,
            escape(&format(value))
        );
    }
}

/// Labels under the first, middle and last positions.
fn x_labels(out: &mut String, labels: &[String], x_of: &dyn Fn(usize) -> f64) {
    if labels.is_empty() {
        return;
    }
    let last = labels.len() - 1;
    let mut shown = vec![0, labels.len() / 2, last];
    shown.dedup();
    for i in shown {
        // The last label ends at its position, so that it stays inside the chart.
        let anchor = if i == last && last > 0 { "end" } else { "middle" };
        let _ = write!(
            out,
            r#"<text class="axis" x="{:.1}" y="{}" text-anchor="{anchor}">{}</text>"#,
            x_of(i),
            HEIGHT - 6.0,
            escape(&labels[i])
        );
    }
}

/// Grouped vertical bars: one group per label, one bar per series.
pub fn bars(title: &str, id: &str, labels: &[String], series: &[Series<'_>], format: &dyn Fn(u64) -> String) -> String {
    let mut out = String::new();
    open(&mut out, title, id);
    let max = nice_max(series.iter().flat_map(|s| s.values.iter().copied()).max().unwrap_or(0));
    axis(&mut out, max, format);
    let slot = (WIDTH - LEFT) / labels.len().max(1) as f64;
    let bar = (slot * 0.8 / series.len().max(1) as f64).max(1.0);
    let plot = HEIGHT - BOTTOM - TOP;
    for (s_i, s) in series.iter().enumerate() {
        for (i, v) in s.values.iter().enumerate() {
            let h = (*v as f64 / max as f64 * plot).max(if *v > 0 { 1.0 } else { 0.0 });
            let x = LEFT + i as f64 * slot + slot * 0.1 + s_i as f64 * bar;
            let _ = write!(
                out,
                r#"<rect class="{}" x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{h:.1}"><title>{} {}: {}</title></rect>"#,
                s.class,
                HEIGHT - BOTTOM - h,
                escape(s.name),
                escape(labels.get(i).map_or("", String::as_str)),
                escape(&format(*v))
            );
        }
    }
    x_labels(&mut out, labels, &|i| LEFT + (i as f64 + 0.5) * slot);
    out.push_str("</svg>");
    out
}

/// A line over the labels; a missing value breaks the line.
pub fn line(
    title: &str,
    id: &str,
    labels: &[String],
    values: &[Option<u64>],
    format: &dyn Fn(u64) -> String,
) -> String {
    let mut out = String::new();
    open(&mut out, title, id);
    let max = nice_max(values.iter().flatten().copied().max().unwrap_or(0));
    axis(&mut out, max, format);
    let step = (WIDTH - LEFT) / labels.len().max(1) as f64;
    let plot = HEIGHT - BOTTOM - TOP;
    let point = |i: usize, v: u64| (LEFT + (i as f64 + 0.5) * step, HEIGHT - BOTTOM - v as f64 / max as f64 * plot);
    let mut path = String::new();
    let mut pen_down = false;
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let (x, y) = point(i, *v);
                let _ = write!(path, "{}{x:.1},{y:.1} ", if pen_down { "L" } else { "M" });
                let _ = write!(
                    out,
                    r#"<circle class="point" cx="{x:.1}" cy="{y:.1}" r="3"><title>{}: {}</title></circle>"#,
                    escape(labels.get(i).map_or("", String::as_str)),
                    escape(&format(*v))
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    if !path.is_empty() {
        let _ = write!(out, r#"<path class="line" d="{}"/>"#, path.trim_end());
    }
    x_labels(&mut out, labels, &|i| LEFT + (i as f64 + 0.5) * step);
    out.push_str("</svg>");
    out
}

/// Horizontal bars, one per label (the repositories of a page).
pub fn hbars(title: &str, id: &str, labels: &[String], values: &[u64], format: &dyn Fn(u64) -> String) -> String {
    let row = 22.0;
    let height = (labels.len() as f64 * row + TOP * 2.0).max(40.0);
    let label_width = 180.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-labelledby="{id}"><title id="{id}">{}</title>"#,
        escape(title)
    );
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    for (i, (label, v)) in labels.iter().zip(values).enumerate() {
        let y = TOP + i as f64 * row;
        let w = (*v as f64 / max as f64 * (WIDTH - label_width - 80.0)).max(if *v > 0 { 1.0 } else { 0.0 });
        let short: String = if label.chars().count() > 26 {
            format!("{}…", label.chars().take(25).collect::<String>())
        } else {
            label.clone()
        };
        let _ = write!(
            out,
            r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect class="stored" x="{label_width}" y="{:.1}" width="{w:.1}" height="{:.1}"><title>{}: {}</title></rect><text class="axis" x="{:.1}" y="{:.1}">{}</text>"#,
            label_width - 6.0,
            y + 15.0,
            escape(&short),
            y + 4.0,
            row - 8.0,
            escape(label),
            escape(&format(*v)),
            label_width + w + 4.0,
            y + 15.0,
            escape(&format(*v))
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_their_labels_and_scale_to_the_largest_value() {
        let labels = vec!["<a>".to_string(), "b".to_string()];
        let svg = bars("t & u", "c1", &labels, &[Series { name: "in", class: "in", values: vec![5, 10] }], &|v| {
            v.to_string()
        });
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("t &amp; u") && svg.contains("&lt;a&gt;") && !svg.contains("<a>"), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 2);
        let svg = line("l", "c2", &labels, &[Some(3), None], &|v| v.to_string());
        assert_eq!(svg.matches("<circle").count(), 1, "a missing value has no point");
        let svg = hbars("h", "c3", &labels, &[1, 2], &|v| v.to_string());
        assert_eq!(svg.matches("<rect").count(), 2);
        assert_eq!((nice_max(0), nice_max(7), nice_max(101), nice_max(2000)), (1, 10, 200, 2000));
    }
}
