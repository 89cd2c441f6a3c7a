//! Charts drawn as SVG on the server: no script, readable by screen readers (a title and a
//! description with the figures), and crisp at any size.

use maud::{Markup, html};

/// One bar: its label (shown as a tooltip) and value.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: f64,
}

const W: f64 = 600.0;
const H: f64 = 160.0;
const PAD_L: f64 = 40.0;
const PAD_B: f64 = 20.0;
const PAD_T: f64 = 10.0;

/// A "nice" top for an axis that holds `max`.
fn nice_top(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(max.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if max <= step * mag {
            return step * mag;
        }
    }
    10.0 * mag
}

/// A bar chart of `bars` (oldest first), titled `title`, with `description` read out by
/// assistive technology.
pub fn bars(title: &str, description: &str, bars: &[Bar]) -> Markup {
    bars_in("chart", title, description, bars)
}

/// [`bars`] with its own element ids (`ID-title`, `ID-desc`), for pages with several charts.
pub fn bars_in(id: &str, title: &str, description: &str, bars: &[Bar]) -> Markup {
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let top = nice_top(max);
    let n = bars.len().max(1) as f64;
    let plot_w = W - PAD_L - 4.0;
    let plot_h = H - PAD_B - PAD_T;
    let slot = plot_w / n;
    let bar_w = (slot * 0.8).max(1.0);
    html! {
        svg.chart viewBox={"0 0 " (W) " " (H)} role="img" aria-labelledby={(id) "-title " (id) "-desc"} preserveAspectRatio="none" {
            title id={(id) "-title"} { (title) }
            desc id={(id) "-desc"} { (description) }
            // Grid lines and their values.
            @for i in 0..=4 {
                @let y = PAD_T + plot_h - plot_h * f64::from(i) / 4.0;
                line.grid x1=(PAD_L) x2=(W - 4.0) y1=(format!("{y:.1}")) y2=(format!("{y:.1}")) {}
                text.axis x=(PAD_L - 4.0) y=(format!("{:.1}", y + 4.0)) text-anchor="end" { (fmt_value(top * f64::from(i) / 4.0)) }
            }
            @for (i, b) in bars.iter().enumerate() {
                @let h = if top > 0.0 { plot_h * b.value / top } else { 0.0 };
                @let x = PAD_L + slot * i as f64 + (slot - bar_w) / 2.0;
                rect.bar x=(format!("{x:.1}")) y=(format!("{:.1}", PAD_T + plot_h - h)) width=(format!("{bar_w:.1}")) height=(format!("{h:.1}")) {
                    title { (b.label) ": " (fmt_value(b.value)) }
                }
            }
            line.axis-line x1=(PAD_L) x2=(W - 4.0) y1=(PAD_T + plot_h) y2=(PAD_T + plot_h) {}
        }
    }
}

fn fmt_value(v: f64) -> String {
    if v >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        // Up to two decimals, without trailing zeros (0.25, 0.5, 2.5).
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_top(0.0), 1.0);
        assert_eq!(nice_top(7.0), 10.0);
        assert_eq!(nice_top(12.0), 20.0);
        assert_eq!(nice_top(230.0), 250.0);
        assert_eq!(nice_top(1.0), 1.0);
    }

    #[test]
    fn axis_values_are_short() {
        assert_eq!(fmt_value(0.25), "0.25");
        assert_eq!(fmt_value(0.5), "0.5");
        assert_eq!(fmt_value(7.5), "7.5");
        assert_eq!(fmt_value(250.0), "250");
        assert_eq!(fmt_value(62.5), "62.5");
    }

    #[test]
    fn bars_scale_to_the_largest() {
        let svg = bars(
            "t",
            "d",
            &[
                Bar {
                    label: "a".into(),
                    value: 5.0,
                },
                Bar {
                    label: "b".into(),
                    value: 10.0,
                },
            ],
        )
        .into_string();
        assert_eq!(svg.matches("<rect").count(), 2);
        // The larger bar fills the plot (130 units high), the smaller half of it.
        assert!(svg.contains("height=\"130.0\""), "{svg}");
        assert!(svg.contains("height=\"65.0\""), "{svg}");
        assert!(svg.contains("role=\"img\""));
    }
}
