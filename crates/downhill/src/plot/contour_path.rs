//! The chapter's `show_trace_2d`: contour lines of f and the path of iterates.
//!
//! Contour lines come from the `contour` crate (marching squares, ported from
//! d3-contour), with two corrections applied here:
//!
//! * Coordinates. The crate puts sample `(i, j)` at the centre of a unit
//!   pixel, `(i + 0.5, j + 0.5)`; a raw coordinate `r` is therefore grid index
//!   `r − 0.5`, and x = x₀ + (r − 0.5)·step. With smoothing on, each isoline
//!   point is the linear interpolation between the two samples of its cell
//!   edge, so it lies on the level set up to interpolation error.
//! * Borders. The crate pads the grid with values below every level, so a
//!   curve that leaves the grid is closed by segments running along (half a
//!   cell outside) the border. Those segments are not part of the level set;
//!   every segment of a ring lies in one marching-squares cell, and segments
//!   in the padding cells (or in cells touching a non-finite sample, which
//!   has no level set to show) are dropped, cutting the ring into open lines.

use std::path::Path;

use contour::ContourBuilder;
use plotters::style::RGBColor;

use super::backend::{render, Figure, Layer, LegendEntry, C0, C1, TAB10};
use super::geometry::Window;
use super::ticks::auto_levels;
use super::{AxisScale, ImageFormat, PlotError, Series};

/// Contour lines under several paths ([`super::paths_2d`]): C0 (`#1f77b4`)
/// at 40% over white, so that the coloured paths stand out.
const LIGHT_CONTOUR: RGBColor = RGBColor(0xa5, 0xc9, 0xe1);

/// Most grid points allowed along one axis.
const MAX_POINTS_PER_AXIS: usize = 4096;

/// The contour grid and window of [`super::path_2d`].
#[derive(Clone, Debug, PartialEq)]
pub struct ContourSpec {
    /// x1 from `.0` (included) to `.1` (excluded), like `numpy.arange`.
    pub x1_range: (f64, f64),
    /// x2 from `.0` (included) to `.1` (excluded).
    pub x2_range: (f64, f64),
    /// Grid spacing, the same along both axes.
    pub step: f64,
    /// Contour levels; `None` picks them like matplotlib ([`auto_levels`]).
    pub levels: Option<Vec<f64>>,
    /// Axis labels (x1 axis, x2 axis).
    pub labels: (String, String),
}

impl ContourSpec {
    /// The book's window: x1 in [−5.5, 1.0), x2 in [−3.0, 1.0), step 0.1,
    /// labels "x1" and "x2", automatic levels.
    pub fn book_default() -> Self {
        ContourSpec {
            x1_range: (-5.5, 1.0),
            x2_range: (-3.0, 1.0),
            step: 0.1,
            levels: None,
            labels: ("x1".to_string(), "x2".to_string()),
        }
    }

    /// A window around the finite points of `path`: their bounding box,
    /// each side first widened to at least a tenth of the longer side and
    /// to at least 1e-6·max(1, |centre|) (a path along one axis still gets a
    /// readable window), then padded by 10% of its size at both ends; the
    /// longer side is cut into 100 steps; automatic levels. Without a finite
    /// point this is the book's window with the given labels. (Points near
    /// ±f64::MAX give a window that does not fit in f64; [`Grid::sample`] and
    /// [`super::path_2d`] then report an error.)
    pub fn around(path: &[[f64; 2]], labels: (&str, &str)) -> Self {
        let labels = (labels.0.to_string(), labels.1.to_string());
        let finite: Vec<[f64; 2]> = path
            .iter()
            .copied()
            .filter(|p| p[0].is_finite() && p[1].is_finite())
            .collect();
        if finite.is_empty() {
            return ContourSpec {
                labels,
                ..ContourSpec::book_default()
            };
        }
        // Centres and half-widths from halves, so that no sum overflows.
        let bounds = |k: usize| {
            let lo = finite.iter().map(|p| p[k]).fold(f64::INFINITY, f64::min);
            let hi = finite
                .iter()
                .map(|p| p[k])
                .fold(f64::NEG_INFINITY, f64::max);
            (lo / 2.0 + hi / 2.0, hi / 2.0 - lo / 2.0)
        };
        let ((c1, h1), (c2, h2)) = (bounds(0), bounds(1));
        let longer = h1.max(h2);
        let half = |centre: f64, half: f64| {
            half.max(longer / 10.0).max(0.5e-6 * centre.abs().max(1.0)) * 1.2
        };
        let (h1, h2) = (half(c1, h1), half(c2, h2));
        let (x1_range, x2_range) = ((c1 - h1, c1 + h1), (c2 - h2, c2 + h2));
        let step = h1.max(h2) * 2.0 / 100.0;
        ContourSpec {
            x1_range,
            x2_range,
            step,
            levels: None,
            labels,
        }
    }

    /// The grid coordinates along one axis: `lo + i·step` below `hi`.
    fn axis(&self, (lo, hi): (f64, f64), name: &str) -> Result<Vec<f64>, String> {
        let step = self.step;
        if !(lo.is_finite() && hi.is_finite() && lo < hi && step.is_finite() && step > 0.0) {
            return Err(format!(
                "bad contour grid: {name} in [{lo}, {hi}) with step {step}"
            ));
        }
        // numpy.arange's count, forgiving rounding noise in (hi − lo)/step.
        let count = ((hi - lo) / step - 1e-9).ceil();
        if !(2.0..=MAX_POINTS_PER_AXIS as f64).contains(&count) {
            return Err(format!(
                "bad contour grid: {name} in [{lo}, {hi}) with step {step} gives {count} points \
                 (need 2 to {MAX_POINTS_PER_AXIS})"
            ));
        }
        Ok((0..count as usize).map(|i| lo + i as f64 * step).collect())
    }
}

/// A function sampled on a [`ContourSpec`]'s grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    /// Grid coordinates along x1 (evenly spaced, increasing).
    pub x1: Vec<f64>,
    /// Grid coordinates along x2 (evenly spaced, increasing).
    pub x2: Vec<f64>,
    /// Row-major samples: `values[j * x1.len() + i] = f(x1[i], x2[j])`.
    pub values: Vec<f64>,
}

impl Grid {
    /// Samples `f` on the grid of `spec`; the error says why the grid is
    /// unusable (non-finite or empty ranges, step ≤ 0, fewer than 2 or more
    /// than 4096 points along an axis).
    pub fn sample(f: &dyn Fn(f64, f64) -> f64, spec: &ContourSpec) -> Result<Grid, String> {
        let x1 = spec.axis(spec.x1_range, "x1")?;
        let x2 = spec.axis(spec.x2_range, "x2")?;
        let values = x2
            .iter()
            .flat_map(|&b| x1.iter().map(move |&a| (a, b)))
            .map(|(a, b)| f(a, b))
            .collect();
        Ok(Grid { x1, x2, values })
    }
}

/// The isolines `f = level` of a sampled function, as open or closed
/// polylines in (x1, x2) coordinates (a closed one repeats its first point
/// at the end).
///
/// Points are linear interpolations between neighbouring samples, so they
/// lie within the window `[x1[0], x1[last]] × [x2[0], x2[last]]` and on the
/// level set up to interpolation error. Lines stop at the border of the grid
/// (no segment runs along it) and around non-finite samples. A non-finite
/// level, a grid smaller than 2 × 2 or without finite values gives nothing.
pub fn isolines(grid: &Grid, level: f64) -> Vec<Vec<[f64; 2]>> {
    let (nx, ny) = (grid.x1.len(), grid.x2.len());
    if nx < 2 || ny < 2 || grid.values.len() != nx * ny || !level.is_finite() {
        return Vec::new();
    }
    let Some(big) = grid
        .values
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| v.abs())
        .reduce(f64::max)
    else {
        return Vec::new();
    };
    // Finite stand-ins keep the crate's interpolation finite; every cell
    // touching one is dropped below anyway.
    let stand_in = big.max(level.abs()) * 2.0 + 1.0;
    let stand_in = if stand_in.is_finite() {
        stand_in
    } else {
        f64::MAX
    };
    let filled: Vec<f64> = grid
        .values
        .iter()
        .map(|&v| if v.is_finite() { v } else { stand_in })
        .collect();
    let Ok(lines) = ContourBuilder::new(nx, ny, true).lines(&filled, &[level]) else {
        return Vec::new();
    };

    let (x0, dx) = (grid.x1[0], (grid.x1[nx - 1] - grid.x1[0]) / (nx - 1) as f64);
    let (y0, dy) = (grid.x2[0], (grid.x2[ny - 1] - grid.x2[0]) / (ny - 1) as f64);
    let to_xy = |r: [f64; 2]| [x0 + (r[0] - 0.5) * dx, y0 + (r[1] - 0.5) * dy];
    // The marching-squares cell a segment lies in, if it is a real one:
    // inside the grid and with four finite samples.
    let real_cell = |a: [f64; 2], b: [f64; 2]| {
        let cx = ((a[0] + b[0]) / 2.0 - 0.5).floor();
        let cy = ((a[1] + b[1]) / 2.0 - 0.5).floor();
        if !(cx >= 0.0 && cy >= 0.0 && cx < (nx - 1) as f64 && cy < (ny - 1) as f64) {
            return false;
        }
        let (i, j) = (cx as usize, cy as usize);
        [(i, j), (i + 1, j), (i, j + 1), (i + 1, j + 1)]
            .iter()
            .all(|&(i, j)| grid.values[j * nx + i].is_finite())
    };

    let mut out = Vec::new();
    for line in lines {
        let (geometry, _) = line.into_inner();
        for ring in geometry.0 {
            let mut raw: Vec<[f64; 2]> = ring.0.iter().map(|c| [c.x, c.y]).collect();
            raw.dedup();
            // A closed ring that will be cut: start it just after a cut, so
            // that no piece is split in two at the ring's seam.
            if raw.len() > 2 && raw.first() == raw.last() {
                if let Some(k) = raw.windows(2).position(|s| !real_cell(s[0], s[1])) {
                    let n = raw.len() - 1;
                    raw = raw[k + 1..=n]
                        .iter()
                        .chain(&raw[1..=k + 1])
                        .copied()
                        .collect();
                }
            }
            let mut current: Vec<[f64; 2]> = Vec::new();
            for pair in raw.windows(2) {
                if real_cell(pair[0], pair[1]) {
                    if current.is_empty() {
                        current.push(to_xy(pair[0]));
                    }
                    current.push(to_xy(pair[1]));
                } else if current.len() >= 2 {
                    out.push(std::mem::take(&mut current));
                } else {
                    current.clear();
                }
            }
            if current.len() >= 2 {
                out.push(current);
            }
        }
    }
    out
}

/// Open or closed polylines in (x1, x2) coordinates.
type Polylines = Vec<Vec<[f64; 2]>>;

/// Contour lines of `f` on the grid of `spec` (levels from `spec` or
/// [`auto_levels`]) and the window they fill: the grid's extent, as
/// matplotlib's `contour` sets it.
fn contour_lines(
    f: &dyn Fn(f64, f64) -> f64,
    spec: &ContourSpec,
    out: &Path,
) -> Result<(Window, Polylines), PlotError> {
    let grid = Grid::sample(f, spec).map_err(|reason| PlotError::new(out, reason))?;
    let levels = match &spec.levels {
        Some(levels) => levels.clone(),
        None => auto_levels(&grid.values),
    };
    let contours: Vec<Vec<[f64; 2]>> = levels
        .iter()
        .flat_map(|&level| isolines(&grid, level))
        .collect();
    let window = Window {
        x: (grid.x1[0], grid.x1[grid.x1.len() - 1]),
        y: (grid.x2[0], grid.x2[grid.x2.len() - 1]),
    };
    Ok((window, contours))
}

/// See [`super::path_2d`].
pub(crate) fn path_2d(
    f: &dyn Fn(f64, f64) -> f64,
    path: &[[f64; 2]],
    spec: &ContourSpec,
    title: Option<&str>,
    out: &Path,
) -> Result<(), PlotError> {
    ImageFormat::from_path(out)?;
    if path.is_empty() {
        return Err(PlotError::new(out, "no iterates to plot"));
    }
    let (window, contours) = contour_lines(f, spec, out)?;
    let fig = Figure {
        window,
        x_scale: AxisScale::Linear,
        y_scale: AxisScale::Linear,
        x_label: spec.labels.0.clone(),
        y_label: spec.labels.1.clone(),
        title: title.map(str::to_string),
        grid: false,
        layers: vec![
            Layer::Lines {
                lines: contours,
                color: C0,
            },
            Layer::Lines {
                lines: vec![path.to_vec()],
                color: C1,
            },
            Layer::Markers {
                points: path.to_vec(),
                color: C1,
                thin: false,
            },
        ],
        legend: Vec::new(),
    };
    render(&fig, out)
}

/// The colour of path `i` in [`super::paths_2d`]: tab10 from C1 on (C0 is
/// the contours' hue), cycling after C9.
pub(crate) fn path_color(i: usize) -> RGBColor {
    TAB10[1 + i % (TAB10.len() - 1)]
}

/// See [`super::paths_2d`].
pub(crate) fn paths_2d(
    f: &dyn Fn(f64, f64) -> f64,
    paths: &[Series<'_>],
    spec: &ContourSpec,
    title: Option<&str>,
    out: &Path,
) -> Result<(), PlotError> {
    ImageFormat::from_path(out)?;
    if paths.is_empty() {
        return Err(PlotError::new(out, "no paths to plot"));
    }
    let finite = |p: &[f64; 2]| p[0].is_finite() && p[1].is_finite();
    if !paths.iter().any(|s| s.points.iter().any(finite)) {
        return Err(PlotError::new(out, "no finite point in any path"));
    }
    let (window, contours) = contour_lines(f, spec, out)?;
    let mut layers = vec![Layer::Lines {
        lines: contours,
        color: LIGHT_CONTOUR,
    }];
    let mut legend = Vec::new();
    for (i, series) in paths.iter().enumerate() {
        let color = path_color(i);
        layers.push(Layer::Lines {
            lines: vec![series.points.to_vec()],
            color,
        });
        layers.push(Layer::Markers {
            points: series.points.to_vec(),
            color,
            thin: false,
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
        x_scale: AxisScale::Linear,
        y_scale: AxisScale::Linear,
        x_label: spec.labels.0.clone(),
        y_label: spec.labels.1.clone(),
        title: title.map(str::to_string),
        grid: false,
        layers,
        legend,
    };
    render(&fig, out)
}
