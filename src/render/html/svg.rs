//! Hand-written SVG charts: the shared parts (palette, axes, legend) and a daily time chart
//! (stacked panels, one y axis each); bar charts are in [`super::bars`]. Every chart has a
//! visible title, labelled axes with units, a legend, `role="img"` with `<title>`/`<desc>` for screen readers, a
//! tooltip (`<title>`) and `data-value` (full precision) on every mark, and colours from the
//! Okabe–Ito palette, which stays distinguishable with the common colour-vision deficiencies.

use std::fmt::Write;

use super::escape::{data_num, esc};
use crate::render::human;

/// Okabe–Ito colours, named by hue.
pub mod color {
    /// Blue.
    pub const BLUE: &str = "#0072B2";
    /// Orange.
    pub const ORANGE: &str = "#E69F00";
    /// Bluish green.
    pub const GREEN: &str = "#009E73";
    /// Vermillion.
    pub const VERMILLION: &str = "#D55E00";
    /// Reddish purple.
    pub const PURPLE: &str = "#CC79A7";
    /// Sky blue.
    pub const SKY: &str = "#56B4E9";
    /// Neutral grey for marks that carry no finding.
    pub const GREY: &str = "#9A9A9A";
}

/// Rough width of one character at 12 px in the system sans-serif font.
pub(super) const CHAR_W: f64 = 6.6;

/// A "nice" axis: domain bounds and tick values (1, 2, 2.5 or 5 × 10^k steps).
pub fn nice_axis(lo: f64, hi: f64, target_ticks: usize) -> (f64, f64, Vec<f64>) {
    let (mut lo, mut hi) = (lo.min(hi), lo.max(hi));
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0, vec![0.0, 1.0]);
    }
    if hi - lo < f64::EPSILON * hi.abs().max(1.0) {
        if lo == 0.0 {
            hi = 1.0;
        } else {
            lo = lo.min(0.0);
            hi = hi.max(0.0);
            if hi == lo {
                hi = lo + 1.0;
            }
        }
    }
    let raw = (hi - lo) / target_ticks.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = mag
        * match raw / mag {
            n if n <= 1.0 => 1.0,
            n if n <= 2.0 => 2.0,
            n if n <= 2.5 => 2.5,
            n if n <= 5.0 => 5.0,
            _ => 10.0,
        };
    let start = (lo / step).floor() * step;
    let end = (hi / step).ceil() * step;
    let count = ((end - start) / step).round() as usize;
    let ticks = (0..=count.min(50))
        .map(|i| {
            // Round to the step's decimals to drop binary noise (0.30000000000000004 → 0.3).
            let f = 10f64.powi((-step.log10().floor()).max(0.0) as i32 + 1);
            ((start + step * i as f64) * f).round() / f
        })
        .collect();
    (start, end, ticks)
}

/// A short tick label: `12`, `2.5`, `15k`, `1.2M`.
pub fn tick_label(v: f64) -> String {
    let a = v.abs();
    let short = |x: f64, unit: &str| {
        let s = format!("{x:.2}");
        format!("{}{unit}", s.trim_end_matches('0').trim_end_matches('.'))
    };
    if a >= 1e9 {
        short(v / 1e9, "G")
    } else if a >= 1e6 {
        short(v / 1e6, "M")
    } else if a >= 1e3 {
        short(v / 1e3, "k")
    } else if v == 0.0 {
        "0".into()
    } else {
        human(Some(v))
    }
}

/// `Sep 1` for `2025-09-01`; the text itself when it is not a date.
pub fn short_day(day: &str) -> String {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map(|d| d.format("%b %-d").to_string())
        .unwrap_or_else(|_| day.to_string())
}

pub(super) fn open_svg(out: &mut String, id: &str, w: f64, h: f64, title: &str, desc: &str) {
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{id}" data-testid="{id}" viewBox="0 0 {w} {h}" style="max-width:{w}px" role="img" aria-labelledby="{id}-t {id}-d"><title id="{id}-t">{t}</title><desc id="{id}-d">{d}</desc><text class="ct" x="8" y="20">{t}</text>"##,
        t = esc(title),
        d = esc(desc),
    );
}

/// Lays out legend entries from `x` at `y`; `line` draws a line swatch, else a square.
pub(super) fn legend(out: &mut String, x: f64, y: f64, items: &[(&str, &str, bool, bool)]) {
    let mut cx = x;
    let _ = write!(out, r#"<g class="legend">"#);
    for &(name, col, line, dashed) in items {
        if line {
            let dash = if dashed {
                r#" stroke-dasharray="5 3""#
            } else {
                ""
            };
            let _ = write!(
                out,
                r#"<line x1="{cx}" y1="{y}" x2="{x2}" y2="{y}" stroke="{col}" stroke-width="2.5"{dash}/>"#,
                x2 = cx + 18.0
            );
        } else {
            let _ = write!(
                out,
                r#"<rect x="{cx}" y="{ry}" width="12" height="12" fill="{col}"/>"#,
                ry = y - 6.0
            );
        }
        let tx = cx + if line { 23.0 } else { 17.0 };
        let _ = write!(
            out,
            r#"<text x="{tx}" y="{ty}">{n}</text>"#,
            ty = y + 4.0,
            n = esc(name)
        );
        cx = tx + name.chars().count() as f64 * CHAR_W + 18.0;
    }
    out.push_str("</g>");
}

/// One line of a [`TimeChart`] panel.
pub struct Line {
    /// Legend and tooltip name.
    pub name: String,
    /// One value per day (`None`: no data, the line breaks).
    pub values: Vec<Option<f64>>,
    /// Stroke colour.
    pub color: &'static str,
    /// Dashed stroke (a second cue besides colour).
    pub dashed: bool,
}

/// A band of a [`TimeChart`] with its own y axis.
pub struct Panel {
    /// Y-axis title with unit (`requests / day`).
    pub y_label: String,
    /// The lines drawn in the panel.
    pub lines: Vec<Line>,
}

/// Daily values over a window: panels stacked on one shared day axis.
pub struct TimeChart {
    /// `id` and `data-testid` of the `<svg>`.
    pub id: String,
    /// Visible title.
    pub title: String,
    /// Text alternative (what the chart shows).
    pub desc: String,
    /// Days (YYYY-MM-DD), one per x position.
    pub days: Vec<String>,
    /// Panels from top to bottom.
    pub panels: Vec<Panel>,
    /// View-box width (the height follows from the panels).
    pub width: f64,
}

impl TimeChart {
    /// The chart as an inline `<svg>` element.
    pub fn svg(&self) -> String {
        let (w, left, right, top, panel_h, gap, bottom) =
            (self.width, 64.0, 18.0, 58.0, 150.0, 36.0, 44.0);
        let np = self.panels.len().max(1) as f64;
        let h = top + np * panel_h + (np - 1.0) * gap + bottom;
        let plot_w = w - left - right;
        let n = self.days.len().max(1);
        let band = plot_w / n as f64;
        let x_of = |i: usize| left + (i as f64 + 0.5) * band;
        let mut s = String::with_capacity(8192);
        open_svg(&mut s, &self.id, w, h, &self.title, &self.desc);
        let items: Vec<(&str, &str, bool, bool)> = self
            .panels
            .iter()
            .flat_map(|p| p.lines.iter())
            .map(|l| (l.name.as_str(), l.color, true, l.dashed))
            .collect();
        legend(&mut s, left, 40.0, &items);
        let step = n.div_ceil(10).max(1);
        for (k, p) in self.panels.iter().enumerate() {
            let y0 = top + k as f64 * (panel_h + gap);
            let y1 = y0 + panel_h;
            let vals = p.lines.iter().flat_map(|l| l.values.iter().flatten());
            let (lo, hi) = vals.fold((0.0f64, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
            let hi = if hi.is_finite() { hi } else { 1.0 };
            let (dlo, dhi, ticks) = nice_axis(lo, hi, 4);
            let y_of = |v: f64| y1 - (v - dlo) / (dhi - dlo) * panel_h;
            let _ = write!(s, r#"<g class="panel" data-panel="{k}">"#);
            for t in &ticks {
                let y = y_of(*t);
                let _ = write!(
                    s,
                    r#"<line class="grid" x1="{left}" y1="{y:.1}" x2="{x2}" y2="{y:.1}"/><text class="tick" x="{tx}" y="{ty:.1}" text-anchor="end">{l}</text>"#,
                    x2 = w - right,
                    tx = left - 6.0,
                    ty = y + 4.0,
                    l = tick_label(*t)
                );
            }
            let _ = write!(
                s,
                r#"<text class="axis-title" transform="translate(16 {cy:.1}) rotate(-90)" text-anchor="middle">{l}</text><line class="axis" x1="{left}" y1="{y1}" x2="{x2}" y2="{y1}"/>"#,
                cy = (y0 + y1) / 2.0,
                x2 = w - right,
                l = esc(&p.y_label)
            );
            for l in &p.lines {
                self.line(&mut s, l, &x_of, &y_of);
            }
            s.push_str("</g>");
            if k + 1 == self.panels.len() {
                for (i, d) in self.days.iter().enumerate().filter(|(i, _)| i % step == 0) {
                    let x = x_of(i);
                    let _ = write!(
                        s,
                        r#"<line class="axis" x1="{x:.1}" y1="{y1}" x2="{x:.1}" y2="{t}"/><text class="tick" x="{x:.1}" y="{ty}" text-anchor="middle">{l}</text>"#,
                        t = y1 + 4.0,
                        ty = y1 + 17.0,
                        l = esc(&short_day(d))
                    );
                }
                let _ = write!(
                    s,
                    r#"<text class="axis-title" x="{cx}" y="{ty}" text-anchor="middle">day</text>"#,
                    cx = left + plot_w / 2.0,
                    ty = y1 + 36.0
                );
            }
        }
        s.push_str("</svg>");
        s
    }

    fn line(
        &self,
        s: &mut String,
        l: &Line,
        x_of: &dyn Fn(usize) -> f64,
        y_of: &dyn Fn(f64) -> f64,
    ) {
        let mut d = String::new();
        let mut pen_down = false;
        for (i, v) in l.values.iter().enumerate() {
            match v {
                Some(v) => {
                    let _ = write!(
                        d,
                        "{}{:.1} {:.1} ",
                        if pen_down { 'L' } else { 'M' },
                        x_of(i),
                        y_of(*v)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let dash = if l.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let name = esc(&l.name);
        let _ = write!(
            s,
            r#"<g class="series" data-series="{name}"><path d="{}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
            d.trim_end(),
            l.color
        );
        // Marks with tooltips; long windows keep the line only.
        if self.days.len() <= 120 {
            for (i, v) in l.values.iter().enumerate() {
                let (Some(v), Some(day)) = (v, self.days.get(i)) else {
                    continue;
                };
                let _ = write!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2.6" fill="{}" data-day="{}" data-value="{}"><title>{} · {name}: {}</title></circle>"#,
                    x_of(i),
                    y_of(*v),
                    l.color,
                    esc(day),
                    data_num(Some(*v)),
                    esc(day),
                    human(Some(*v))
                );
            }
        }
        s.push_str("</g>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_axes() {
        assert_eq!(
            nice_axis(0.0, 9.0, 4),
            (0.0, 10.0, vec![0.0, 2.5, 5.0, 7.5, 10.0])
        );
        assert_eq!(nice_axis(0.0, 0.0, 4).1, 1.0);
        let (lo, hi, t) = nice_axis(-0.8, 0.9, 4);
        assert_eq!((lo, hi), (-1.0, 1.0));
        assert_eq!(t, vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
        let (_, _, t) = nice_axis(0.0, 0.3, 3);
        assert_eq!(t, vec![0.0, 0.1, 0.2, 0.3]);
        assert_eq!(nice_axis(f64::NAN, 1.0, 4).1, 1.0);
        assert_eq!(nice_axis(5.0, 5.0, 4).0, 0.0);
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick_label(0.0), "0");
        assert_eq!(tick_label(2.5), "2.5");
        assert_eq!(tick_label(2500.0), "2.5k");
        assert_eq!(tick_label(500.0), "500");
        assert_eq!(tick_label(15_000.0), "15k");
        assert_eq!(tick_label(1_250_000.0), "1.25M");
        assert_eq!(tick_label(-0.5), "-0.5");
        assert_eq!(short_day("2025-09-01"), "Sep 1");
        assert_eq!(short_day("W36"), "W36");
    }

    fn chart(values: Vec<Option<f64>>) -> TimeChart {
        TimeChart {
            id: "c".into(),
            title: "Calls <per> day".into(),
            desc: "d".into(),
            days: (1..=values.len())
                .map(|d| format!("2025-09-{d:02}"))
                .collect(),
            panels: vec![Panel {
                y_label: "calls / day".into(),
                lines: vec![Line {
                    name: "requests".into(),
                    values,
                    color: color::BLUE,
                    dashed: false,
                }],
            }],
            width: 600.0,
        }
    }

    #[test]
    fn time_chart_marks_every_value_and_breaks_on_gaps() {
        let svg = chart(vec![Some(1.0), Some(2.5), None, Some(4.0)]).svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains(r#"data-day="2025-09-02" data-value="2.5""#));
        assert!(svg.contains("Calls &lt;per&gt; day"), "title escaped");
        assert!(svg.contains(r#"role="img""#) && svg.contains("<desc"));
        // Two sub-paths: the gap lifts the pen.
        let d = svg.split(r#"<path d=""#).nth(1).unwrap();
        let d = &d[..d.find('"').unwrap()];
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(d.matches('L').count(), 1, "{d}");
        assert!(svg.contains(">calls / day<") && svg.contains(">Sep 1<"));
    }
}
