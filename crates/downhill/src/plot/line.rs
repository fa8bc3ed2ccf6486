//! The chapter's `show_trace`: a 1-D objective and the iterates on it.

use std::path::Path;

use super::backend::{render, Figure, Layer, C0, C1};
use super::geometry::Window;
use super::{AxisScale, ImageFormat, PlotError};

/// The book's sampling step for the curve.
const STEP: f64 = 0.01;
/// At most this many curve intervals (a diverged run spans a huge range;
/// 4000 is still several samples per pixel).
const MAX_INTERVALS: usize = 4000;
/// matplotlib's default data margin (`axes.xmargin`, `axes.ymargin`).
const MARGIN: f64 = 0.05;

/// See [`super::trace_1d`].
pub(crate) fn trace_1d(
    f: &dyn Fn(f64) -> f64,
    iterates: &[f64],
    title: Option<&str>,
    path: &Path,
) -> Result<(), PlotError> {
    ImageFormat::from_path(path)?;
    if iterates.is_empty() {
        return Err(PlotError::new(path, "no iterates to plot"));
    }
    let n = iterates
        .iter()
        .filter(|x| x.is_finite())
        .map(|x| x.abs())
        .reduce(f64::max)
        .ok_or_else(|| PlotError::new(path, "no finite iterate to plot"))?;
    let n = if n == 0.0 { 1.0 } else { n };

    // Samples -n, …, n with a step of at most 0.01 (both ends included).
    let intervals = ((2.0 * (n / STEP)).ceil() as usize).clamp(1, MAX_INTERVALS);
    let curve: Vec<[f64; 2]> = (0..=intervals)
        .map(|i| {
            let x = -n + n * (2.0 * i as f64 / intervals as f64);
            [x, f(x)]
        })
        .collect();
    let points: Vec<[f64; 2]> = iterates.iter().map(|&x| [x, f(x)]).collect();

    let (y_lo, y_hi) = curve
        .iter()
        .chain(points.iter().filter(|p| p[0].is_finite()))
        .map(|p| p[1])
        .filter(|y| y.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        });
    if y_lo > y_hi {
        return Err(PlotError::new(
            path,
            "f is not finite anywhere on the plotted range",
        ));
    }
    let window = Window {
        x: pad((-n, n)),
        y: pad(nonsingular(y_lo, y_hi)),
    };
    let fig = Figure {
        window,
        x_scale: AxisScale::Linear,
        y_scale: AxisScale::Linear,
        x_label: "x".to_string(),
        y_label: "f(x)".to_string(),
        title: title.map(str::to_string),
        grid: true,
        layers: vec![
            Layer::Lines {
                lines: vec![curve],
                color: C0,
            },
            Layer::Lines {
                lines: vec![points.clone()],
                color: C1,
            },
            Layer::Markers {
                points,
                color: C1,
                thin: false,
            },
        ],
        legend: Vec::new(),
    };
    render(&fig, path)
}

/// matplotlib's margins: 5% of the data range on each side.
pub(crate) fn pad((lo, hi): (f64, f64)) -> (f64, f64) {
    let d = hi - lo;
    (lo - MARGIN * d, hi + MARGIN * d)
}

/// matplotlib's `nonsingular`: widen an empty range by 5% of its value
/// (or by 0.05 around zero).
pub(crate) fn nonsingular(lo: f64, hi: f64) -> (f64, f64) {
    if hi - lo > 1e-12 * lo.abs().max(hi.abs()).max(f64::MIN_POSITIVE) {
        (lo, hi)
    } else if hi == 0.0 {
        (-MARGIN, MARGIN)
    } else {
        (lo - MARGIN * lo.abs(), hi + MARGIN * hi.abs())
    }
}
