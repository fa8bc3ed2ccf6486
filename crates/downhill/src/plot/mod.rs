//! Figures of the chapter: `show_trace` ([`trace_1d`]) and `show_trace_2d`
//! ([`path_2d`]), several paths over one contour plot ([`paths_2d`]) and
//! line charts with linear or log axes ([`line_chart`]), written as SVG or
//! PNG.
//!
//! Figures look like the book's matplotlib ones: a 3.5 × 2.5 in figure
//! ([`SVG_SIZE`] pixels for SVG, [`PNG_SIZE`] for PNG), white background, a
//! box of spines with outward ticks, matplotlib's tick values and levels,
//! DejaVu Sans text (embedded; no system font is needed), the function or
//! contour lines in matplotlib's C0 (`#1f77b4`) and the iterates in C1
//! (`#ff7f0e`) as a line with circle markers. Several series take the next
//! colours of matplotlib's tab10 cycle and get a legend box like
//! matplotlib's (rounded light grey frame, line-and-marker swatches); log
//! axes are labelled at powers of ten ("10⁻⁸").
//!
//! Bad data never panics: non-finite values are skipped (a line breaks
//! there), points outside the window are clipped, and every failure (unknown
//! extension, nothing to plot, unusable grid, unwritable file) is a
//! [`PlotError`] naming the file.
//!
//! ```no_run
//! use downhill::plot::{path_2d, trace_1d, ContourSpec};
//! use std::path::Path;
//!
//! // η = 0.2 on x² from x = 10: the iterates 10·0.6^k.
//! let xs: Vec<f64> = (0..=10).map(|k| 10.0 * 0.6f64.powi(k)).collect();
//! trace_1d(&|x| x * x, &xs, Some("eta = 0.2"), Path::new("gd.svg")).unwrap();
//!
//! let mut path = vec![[-5.0, -2.0]];
//! for _ in 0..20 {
//!     let [a, b] = *path.last().unwrap();
//!     path.push([a - 0.1 * 2.0 * a, b - 0.1 * 4.0 * b]);
//! }
//! let f = |a: f64, b: f64| a * a + 2.0 * b * b;
//! path_2d(&f, &path, &ContourSpec::book_default(), None, Path::new("gd2d.png")).unwrap();
//! ```

mod backend;
mod chart;
mod contour_path;
mod geometry;
mod heatmap;
mod line;
mod ticks;

use std::fmt;
use std::path::Path;

pub use backend::{PNG_SIZE, SVG_SIZE};
pub use contour_path::{isolines, ContourSpec, Grid};
pub use heatmap::{heatmap, Category, CategoryColor, Heatmap, HeatmapAxis, HeatmapValues};
pub use ticks::auto_levels;

/// Output format chosen from the file extension (.svg or .png,
/// case-insensitive); anything else is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    /// Scalable vector graphics; text stays text (`<text>` elements).
    Svg,
    /// A PNG bitmap of [`PNG_SIZE`] pixels.
    Png,
}

impl ImageFormat {
    /// The format named by the extension of `p`.
    ///
    /// ```
    /// use downhill::plot::ImageFormat;
    /// use std::path::Path;
    /// assert_eq!(ImageFormat::from_path(Path::new("a/b.SVG")).unwrap(), ImageFormat::Svg);
    /// assert_eq!(ImageFormat::from_path(Path::new("b.png")).unwrap(), ImageFormat::Png);
    /// assert!(ImageFormat::from_path(Path::new("b.jpg")).is_err());
    /// ```
    pub fn from_path(p: &Path) -> Result<ImageFormat, PlotError> {
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("svg") => Ok(ImageFormat::Svg),
            Some("png") => Ok(ImageFormat::Png),
            Some(other) => Err(PlotError::new(
                p,
                format!("unsupported extension '.{other}' (use .svg or .png)"),
            )),
            None => Err(PlotError::new(p, "no file extension (use .svg or .png)")),
        }
    }
}

/// Why a figure could not be written. Displays as
/// `cannot write figure 'PATH': REASON`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotError {
    /// The whole message, path included.
    pub message: String,
}

impl PlotError {
    pub(crate) fn new(path: &Path, reason: impl fmt::Display) -> PlotError {
        PlotError {
            message: format!("cannot write figure '{}': {}", path.display(), reason),
        }
    }
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PlotError {}

/// The chapter's `show_trace`: `f` over `[−n, n]` as a line, and the iterates
/// `(x_k, f(x_k))` as a line with circle markers on top; axis labels "x" and
/// "f(x)"; an optional title; light grid lines.
///
/// `n = max(|min xs|, |max xs|)` over the finite iterates (1 if that is 0);
/// `f` is sampled with a step of at most 0.01 (coarser only when that would
/// take more than 4000 intervals). The view is the data range plus
/// matplotlib's 5% margins. Non-finite iterates and values are skipped.
///
/// # Errors
/// Unsupported extension, no iterates, no finite iterate, `f` non-finite
/// everywhere, values too large to place on an axis, or the file cannot be
/// written.
pub fn trace_1d(
    f: &dyn Fn(f64) -> f64,
    iterates: &[f64],
    title: Option<&str>,
    path: &Path,
) -> Result<(), PlotError> {
    line::trace_1d(f, iterates, title, path)
}

/// The chapter's `show_trace_2d`: the path of iterates as a line with circle
/// markers (`#ff7f0e`) over contour lines of `f` (`#1f77b4`) on the grid of
/// `spec`; axis labels from `spec`; an optional title.
///
/// The view is the grid's extent (first to last grid point), as matplotlib's
/// `contour` sets it; the path is clipped to it and markers outside it are
/// not drawn, so a diverging path is fine. Levels are `spec.levels` or
/// [`auto_levels`] of the sampled values; non-finite samples leave holes in
/// the contour lines and non-finite path points break the path.
///
/// # Errors
/// Unsupported extension, empty path, an unusable grid (see [`Grid::sample`]),
/// or the file cannot be written.
pub fn path_2d(
    f: &dyn Fn(f64, f64) -> f64,
    path: &[[f64; 2]],
    spec: &ContourSpec,
    title: Option<&str>,
    out: &Path,
) -> Result<(), PlotError> {
    contour_path::path_2d(f, path, spec, title, out)
}

/// A labelled series of points: an optimization path in [`paths_2d`], a
/// line in [`line_chart`]. An empty label leaves the series out of the
/// legend.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Series<'a> {
    /// The legend text.
    pub label: &'a str,
    /// The points, `[x, y]` (for a path, `[x1, x2]`).
    pub points: &'a [[f64; 2]],
}

/// Several optimization paths over the contour lines of `f` (the chapter's
/// exercise: all methods on one objective).
///
/// Each path is a line with circle markers in its own colour of
/// matplotlib's tab10 cycle, from C1 on: `#ff7f0e`, `#2ca02c`, `#d62728`,
/// `#9467bd`, `#8c564b`, `#e377c2`, `#7f7f7f`, `#bcbd22`, `#17becf` (then
/// again from `#ff7f0e`); paths are drawn in order, later ones on top. The
/// contour lines (grid, levels and axis labels from `spec`, as in
/// [`path_2d`]) are a light blue (`#a5c9e1`, C0 at 40%) so that the paths
/// stand out. A legend box lists every path with a non-empty label and its
/// colour; it sits in the upper right corner unless another corner (tried
/// in matplotlib's order: upper left, lower left, lower right) has fewer
/// path points and crossing paths under it.
///
/// The view is the grid's extent; paths leaving it are clipped and their
/// markers outside it are not drawn; a non-finite point breaks its path.
///
/// # Errors
/// Unsupported extension, no paths, no finite point in any path, an
/// unusable grid (see [`Grid::sample`]), or the file cannot be written.
///
/// ```no_run
/// use downhill::plot::{paths_2d, ContourSpec, Series};
/// use std::path::Path;
///
/// let f = |a: f64, b: f64| 0.1 * a * a + 2.0 * b * b;
/// let run = |eta: f64| {
///     let mut p = vec![[-5.0, -2.0]];
///     for _ in 0..20 {
///         let [a, b] = *p.last().unwrap();
///         p.push([a - eta * 0.2 * a, b - eta * 4.0 * b]);
///     }
///     p
/// };
/// let (slow, fast) = (run(0.1), run(0.4));
/// let paths = [
///     Series { label: "eta = 0.1", points: &slow },
///     Series { label: "eta = 0.4", points: &fast },
/// ];
/// paths_2d(&f, &paths, &ContourSpec::book_default(), None, Path::new("all.svg")).unwrap();
/// ```
pub fn paths_2d(
    f: &dyn Fn(f64, f64) -> f64,
    paths: &[Series<'_>],
    spec: &ContourSpec,
    title: Option<&str>,
    out: &Path,
) -> Result<(), PlotError> {
    contour_path::paths_2d(f, paths, spec, title, out)
}

/// Scale of an axis of a [`LineChart`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxisScale {
    /// Values as they are; matplotlib's tick values and labels.
    Linear,
    /// log10 of the values: major ticks at powers of ten labelled "10⁻⁸",
    /// "10⁰", "10²" (matplotlib's `LogLocator`, which labels every second
    /// or third decade when they are too many to fit), minor ticks between.
    /// Values that are not positive are left out.
    Log10,
}

/// A line chart of several series; see [`line_chart`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineChart<'a> {
    /// The lines, drawn in order in tab10's colours from `#1f77b4` on.
    pub series: &'a [Series<'a>],
    /// Text under the x axis (none when empty).
    pub x_label: &'a str,
    /// Text left of the y axis (none when empty).
    pub y_label: &'a str,
    /// Scale of the x axis.
    pub x_scale: AxisScale,
    /// Scale of the y axis.
    pub y_scale: AxisScale,
    /// Text above the axes.
    pub title: Option<&'a str>,
}

/// A line chart: each series a line with circle markers in matplotlib's
/// tab10 colours (`#1f77b4`, `#ff7f0e`, `#2ca02c`, …), light grid lines at
/// the major ticks, axis labels, an optional title, and a legend box of the
/// series with non-empty labels (placed as in [`paths_2d`]).
///
/// Either axis may be logarithmic ([`AxisScale::Log10`]), for errors `e_k`
/// against `k`, or iterations against a ratio on log-log axes; points with
/// a value that is not positive on a log axis are left out, like
/// non-finite ones, and break their line. The view is the range of the
/// plotted points plus matplotlib's 5% margins (in decades on a log axis).
/// On a long series, markers closer than one marker diameter to the
/// previous drawn one are left out, so the line stays visible.
///
/// # Errors
/// Unsupported extension, no series, no point that can be plotted, values
/// too large to place on an axis, or the file cannot be written.
///
/// ```no_run
/// use downhill::plot::{line_chart, AxisScale, LineChart, Series};
/// use std::path::Path;
///
/// let gd: Vec<[f64; 2]> = (0..=10).map(|k| [k as f64, 10.0 * 0.6f64.powi(k)]).collect();
/// let chart = LineChart {
///     series: &[Series { label: "gd, eta = 0.2", points: &gd }],
///     x_label: "k",
///     y_label: "error",
///     x_scale: AxisScale::Linear,
///     y_scale: AxisScale::Log10,
///     title: None,
/// };
/// line_chart(&chart, Path::new("errors.png")).unwrap();
/// ```
pub fn line_chart(chart: &LineChart<'_>, out: &Path) -> Result<(), PlotError> {
    chart::line_chart(chart, out)
}
