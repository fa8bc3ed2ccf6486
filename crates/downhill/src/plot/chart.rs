//! Line charts of several series ([`super::line_chart`]): errors against
//! the step, iterations against a parameter, on linear or log10 axes.

use std::path::Path;

use super::backend::{render, Figure, Layer, LegendEntry, TAB10};
use super::geometry::Window;
use super::line::{nonsingular, pad};
use super::{AxisScale, ImageFormat, LineChart, PlotError};

/// A value's coordinate on an axis: itself, or its log10 (NaN, so left
/// out, when it is not positive).
fn to_axis(v: f64, scale: AxisScale) -> f64 {
    match scale {
        AxisScale::Linear => v,
        AxisScale::Log10 if v > 0.0 => v.log10(),
        AxisScale::Log10 => f64::NAN,
    }
}

/// See [`super::line_chart`].
pub(crate) fn line_chart(chart: &LineChart<'_>, out: &Path) -> Result<(), PlotError> {
    ImageFormat::from_path(out)?;
    if chart.series.is_empty() {
        return Err(PlotError::new(out, "no series to plot"));
    }
    let lines: Vec<Vec<[f64; 2]>> = chart
        .series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .map(|p| [to_axis(p[0], chart.x_scale), to_axis(p[1], chart.y_scale)])
                .collect()
        })
        .collect();
    let finite = lines
        .iter()
        .flatten()
        .filter(|p| p[0].is_finite() && p[1].is_finite());
    let (mut x, mut y) = (
        (f64::INFINITY, f64::NEG_INFINITY),
        (f64::INFINITY, f64::NEG_INFINITY),
    );
    for p in finite {
        x = (x.0.min(p[0]), x.1.max(p[0]));
        y = (y.0.min(p[1]), y.1.max(p[1]));
    }
    if x.0 > x.1 {
        let why = if chart.x_scale == AxisScale::Log10 || chart.y_scale == AxisScale::Log10 {
            "no point to plot (all are non-finite, or not positive on a log axis)"
        } else {
            "no finite point to plot"
        };
        return Err(PlotError::new(out, why));
    }
    // matplotlib's 5% margins, in axis coordinates (so in decades on a log
    // axis, as matplotlib does).
    let window = Window {
        x: pad(nonsingular(x.0, x.1)),
        y: pad(nonsingular(y.0, y.1)),
    };

    let mut layers = Vec::new();
    let mut legend = Vec::new();
    for (i, (series, line)) in chart.series.iter().zip(lines).enumerate() {
        let color = TAB10[i % TAB10.len()];
        layers.push(Layer::Lines {
            lines: vec![line.clone()],
            color,
        });
        layers.push(Layer::Markers {
            points: line,
            color,
            thin: true,
        });
        if !series.label.is_empty() {
            legend.push(LegendEntry {
                label: series.label.to_string(),
                color,
            });
        }
    }
    let fig = Figure {
        window,
        x_scale: chart.x_scale,
        y_scale: chart.y_scale,
        x_label: chart.x_label.to_string(),
        y_label: chart.y_label.to_string(),
        title: chart.title.map(str::to_string),
        grid: true,
        layers,
        legend,
    };
    render(&fig, out)
}
