//! Figures of the chapter: `show_trace` ([`trace_1d`]) and `show_trace_2d`
//! ([`path_2d`]), written as SVG or PNG.
//!
//! Figures look like the book's matplotlib ones: a 3.5 × 2.5 in figure
//! ([`SVG_SIZE`] pixels for SVG, [`PNG_SIZE`] for PNG), white background, a
//! box of spines with outward ticks, matplotlib's tick values and levels,
//! DejaVu Sans text (embedded; no system font is needed), the function or
//! contour lines in matplotlib's C0 (`#1f77b4`) and the iterates in C1
//! (`#ff7f0e`) as a line with circle markers.
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
mod contour_path;
mod geometry;
mod line;
mod ticks;

use std::fmt;
use std::path::Path;

pub use backend::{PNG_SIZE, SVG_SIZE};
pub use contour_path::{isolines, ContourSpec, Grid};
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
