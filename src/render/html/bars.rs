//! Bar charts (vertical or horizontal, optional whiskers) on the primitives of [`super::svg`]:
//! histograms, weekly counts, cost per model and the lag charts of correlations.

use std::fmt::Write;

use super::escape::{data_num, esc};
use super::svg::{legend, nice_axis, open_svg, tick_label, CHAR_W};

/// One bar of a [`BarChart`].
pub struct Bar {
    /// Category label.
    pub label: String,
    /// Bar length.
    pub value: f64,
    /// Text shown at the bar end and in its tooltip (formatted from the report).
    pub text: String,
    /// Fill colour.
    pub color: &'static str,
    /// Optional interval drawn as a whisker (e.g. a 95 % CI).
    pub whisker: Option<(f64, f64)>,
}

impl Bar {
    /// A bar of a count (histogram bucket, week), labelled with the count itself.
    pub fn count(label: impl Into<String>, n: u64, color: &'static str) -> Self {
        Self {
            label: label.into(),
            value: n as f64,
            text: n.to_string(),
            color,
            whisker: None,
        }
    }
}

/// Categories as bars, vertical (histograms, weeks) or horizontal (long labels such as models).
pub struct BarChart {
    /// `id` and `data-testid` of the `<svg>`.
    pub id: String,
    /// Visible title.
    pub title: String,
    /// Text alternative.
    pub desc: String,
    /// Value-axis title with unit.
    pub value_label: String,
    /// Category-axis title.
    pub category_label: String,
    /// Bars in display order.
    pub bars: Vec<Bar>,
    /// Fixed value domain (e.g. -1..1 for r); else from the data, including 0.
    pub domain: Option<(f64, f64)>,
    /// Legend entries (name, colour) when colours carry meaning.
    pub legend: Vec<(String, &'static str)>,
    /// Horizontal bars.
    pub horizontal: bool,
    /// Show each bar's text next to it.
    pub show_values: bool,
    /// View-box width and height.
    pub size: (f64, f64),
}

impl BarChart {
    fn domain(&self) -> (f64, f64, Vec<f64>) {
        if let Some((lo, hi)) = self.domain {
            let (_, _, ticks) = nice_axis(lo, hi, 4);
            return (
                lo,
                hi,
                ticks.into_iter().filter(|t| *t >= lo && *t <= hi).collect(),
            );
        }
        let (lo, hi) = self
            .bars
            .iter()
            .flat_map(|b| {
                [
                    Some(b.value),
                    b.whisker.map(|w| w.0),
                    b.whisker.map(|w| w.1),
                ]
            })
            .flatten()
            .filter(|v| v.is_finite())
            .fold((0.0f64, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
        // Head room for the value labels at the bar ends.
        let pad = if self.show_values { 1.08 } else { 1.0 };
        nice_axis(lo * pad, hi * pad, 4)
    }

    /// The chart as an inline `<svg>` element.
    pub fn svg(&self) -> String {
        let (w, h) = self.size;
        let mut s = String::with_capacity(4096);
        open_svg(&mut s, &self.id, w, h, &self.title, &self.desc);
        let top = if self.legend.is_empty() { 34.0 } else { 54.0 };
        if !self.legend.is_empty() {
            let items: Vec<(&str, &str, bool, bool)> = self
                .legend
                .iter()
                .map(|(n, c)| (n.as_str(), *c, false, false))
                .collect();
            legend(&mut s, 10.0, 38.0, &items);
        }
        if self.horizontal {
            self.horizontal_bars(&mut s, top);
        } else {
            self.vertical_bars(&mut s, top);
        }
        s.push_str("</svg>");
        s
    }

    fn bar_mark(s: &mut String, b: &Bar, rect: (f64, f64, f64, f64)) {
        let (x, y, bw, bh) = rect;
        let _ = write!(
            s,
            r#"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}" fill="{}" data-label="{l}" data-value="{}"><title>{l}: {}</title></rect>"#,
            b.color,
            data_num(Some(b.value)),
            esc(&b.text),
            l = esc(&b.label),
        );
    }

    fn vertical_bars(&self, s: &mut String, top: f64) {
        let (w, h) = self.size;
        let (left, right, bottom) = (58.0, 12.0, 46.0);
        let (plot_w, plot_h) = (w - left - right, h - top - bottom);
        let (lo, hi, ticks) = self.domain();
        let y_of = |v: f64| top + plot_h - (v.clamp(lo, hi) - lo) / (hi - lo) * plot_h;
        for t in &ticks {
            let y = y_of(*t);
            let _ = write!(
                s,
                r#"<line class="{}" x1="{left}" y1="{y:.1}" x2="{x2}" y2="{y:.1}"/><text class="tick" x="{tx}" y="{ty:.1}" text-anchor="end">{l}</text>"#,
                if *t == 0.0 { "axis" } else { "grid" },
                x2 = w - right,
                tx = left - 6.0,
                ty = y + 4.0,
                l = tick_label(*t)
            );
        }
        let _ = write!(
            s,
            r#"<text class="axis-title" transform="translate(14 {cy:.1}) rotate(-90)" text-anchor="middle">{l}</text>"#,
            cy = top + plot_h / 2.0,
            l = esc(&self.value_label)
        );
        let n = self.bars.len().max(1) as f64;
        let band = plot_w / n;
        let bw = (band * 0.7).min(60.0);
        let zero = y_of(0.0f64.clamp(lo, hi));
        let every = (self.bars.len() as f64 * 7.0 * CHAR_W / plot_w)
            .ceil()
            .max(1.0) as usize;
        for (i, b) in self.bars.iter().enumerate() {
            let cx = left + (i as f64 + 0.5) * band;
            let yv = y_of(b.value);
            Self::bar_mark(s, b, (cx - bw / 2.0, yv.min(zero), bw, (zero - yv).abs()));
            if let Some((a, c)) = b.whisker {
                let _ = write!(
                    s,
                    r##"<path class="whisker" d="M{cx:.1} {:.1}V{:.1}M{:.1} {:.1}H{:.1}M{:.1} {:.1}H{:.1}" stroke="#333" fill="none"/>"##,
                    y_of(a),
                    y_of(c),
                    cx - 4.0,
                    y_of(a),
                    cx + 4.0,
                    cx - 4.0,
                    y_of(c),
                    cx + 4.0
                );
            }
            if self.show_values {
                // Beyond the bar end, or beyond the whisker end when there is one.
                let ty = match (b.value < 0.0, b.whisker) {
                    (true, Some((a, c))) => y_of(a.min(c)).max(yv) + 12.0,
                    (true, None) => yv + 12.0,
                    (false, Some((a, c))) => y_of(a.max(c)).min(yv) - 4.0,
                    (false, None) => yv - 4.0,
                };
                let _ = write!(
                    s,
                    r#"<text class="val" x="{cx:.1}" y="{ty:.1}" text-anchor="middle">{}</text>"#,
                    esc(&b.text)
                );
            }
            if i % every == 0 {
                let _ = write!(
                    s,
                    r#"<text class="tick" x="{cx:.1}" y="{ty:.1}" text-anchor="middle">{}</text>"#,
                    esc(&b.label),
                    ty = top + plot_h + 16.0
                );
            }
        }
        let _ = write!(
            s,
            r#"<text class="axis-title" x="{cx:.1}" y="{ty:.1}" text-anchor="middle">{}</text>"#,
            esc(&self.category_label),
            cx = left + plot_w / 2.0,
            ty = h - 8.0
        );
    }

    fn horizontal_bars(&self, s: &mut String, top: f64) {
        let (w, h) = self.size;
        let longest = self
            .bars
            .iter()
            .map(|b| b.label.chars().count().min(30))
            .max()
            .unwrap_or(4) as f64;
        let left = (longest * CHAR_W + 16.0).clamp(60.0, w * 0.45);
        let right = 90.0;
        let bottom = 40.0;
        let (plot_w, plot_h) = (w - left - right, h - top - bottom);
        let (lo, hi, ticks) = self.domain();
        let x_of = |v: f64| left + (v.clamp(lo, hi) - lo) / (hi - lo) * plot_w;
        for t in &ticks {
            let x = x_of(*t);
            let _ = write!(
                s,
                r#"<line class="{}" x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{y2}"/><text class="tick" x="{x:.1}" y="{ty}" text-anchor="middle">{l}</text>"#,
                if *t == 0.0 { "axis" } else { "grid" },
                y2 = top + plot_h,
                ty = top + plot_h + 15.0,
                l = tick_label(*t)
            );
        }
        let _ = write!(
            s,
            r#"<text class="axis-title" x="{cx:.1}" y="{ty}" text-anchor="middle">{}</text>"#,
            esc(&self.value_label),
            cx = left + plot_w / 2.0,
            ty = h - 6.0
        );
        let n = self.bars.len().max(1) as f64;
        let band = plot_h / n;
        let bh = (band * 0.7).min(26.0);
        let zero = x_of(0.0);
        for (i, b) in self.bars.iter().enumerate() {
            let cy = top + (i as f64 + 0.5) * band;
            let xv = x_of(b.value);
            Self::bar_mark(s, b, (xv.min(zero), cy - bh / 2.0, (xv - zero).abs(), bh));
            let label: String = if b.label.chars().count() > 30 {
                b.label.chars().take(29).chain(['…']).collect()
            } else {
                b.label.clone()
            };
            let _ = write!(
                s,
                r#"<text class="tick" x="{lx}" y="{ty:.1}" text-anchor="end">{}</text>"#,
                esc(&label),
                lx = left - 6.0,
                ty = cy + 4.0
            );
            if self.show_values {
                let _ = write!(
                    s,
                    r#"<text class="val" x="{vx:.1}" y="{ty:.1}">{}</text>"#,
                    esc(&b.text),
                    vx = xv.max(zero) + 5.0,
                    ty = cy + 4.0
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::html::svg::color;

    #[test]
    fn bar_chart_scales_negative_values_and_whiskers() {
        let c = BarChart {
            id: "b".into(),
            title: "r by lag".into(),
            desc: "d".into(),
            value_label: "r".into(),
            category_label: "lag".into(),
            bars: vec![
                Bar {
                    label: "0".into(),
                    value: 0.5,
                    text: "0.5".into(),
                    color: color::BLUE,
                    whisker: Some((0.2, 0.7)),
                },
                Bar {
                    label: "1".into(),
                    value: -0.5,
                    text: "-0.5".into(),
                    color: color::GREY,
                    whisker: None,
                },
            ],
            domain: Some((-1.0, 1.0)),
            legend: vec![("significant".into(), color::BLUE)],
            horizontal: false,
            show_values: true,
            size: (300.0, 200.0),
        };
        let svg = c.svg();
        assert_eq!(svg.matches(r#"class="bar""#).count(), 2);
        assert_eq!(svg.matches(r#"class="whisker""#).count(), 1);
        // Both bars hang from the zero line and have equal heights.
        let heights: Vec<&str> = svg
            .split("height=\"")
            .skip(2)
            .map(|p| &p[..p.find('"').unwrap()])
            .collect();
        assert_eq!(heights[0], heights[1], "{svg}");
        assert!(svg.contains(">significant<"));
        let h = BarChart {
            horizontal: true,
            domain: None,
            ..c
        }
        .svg();
        assert_eq!(h.matches(r#"class="bar""#).count(), 2);
    }
}
