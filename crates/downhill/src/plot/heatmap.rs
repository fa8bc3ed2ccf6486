//! Heatmaps: a value or a category per cell of a regular grid, drawn as an
//! image with a colour bar or a key of colour patches ([`super::heatmap`]).

use std::path::Path;

use plotters::style::RGBColor;

use super::backend::{render_heatmap, ColorKey, Figure, HeatmapParts, LegendEntry, Raster, TAB10};
use super::geometry::Window;
use super::line::nonsingular;
use super::{AxisScale, ImageFormat, PlotError};

/// One axis of a [`Heatmap`]: the cell centres are `count` evenly spaced
/// values from `start` to `stop` (both included), each cell as wide as the
/// spacing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HeatmapAxis<'a> {
    /// Text along the axis (none when empty).
    pub label: &'a str,
    /// Centre of the first cell.
    pub start: f64,
    /// Centre of the last cell.
    pub stop: f64,
    /// Number of cells, at least 1.
    pub count: usize,
}

impl HeatmapAxis<'_> {
    /// The outer edges of the cells: half a spacing beyond the first and
    /// last centres (one cell: 5% of its value around it, as matplotlib).
    fn extent(&self) -> (f64, f64) {
        if self.count <= 1 || self.start == self.stop {
            return nonsingular(self.start, self.stop);
        }
        let half = 0.5 * (self.stop - self.start) / (self.count - 1) as f64;
        let (a, b) = (self.start - half, self.stop + half);
        (a.min(b), a.max(b))
    }
}

/// The colour of a category of a [`Heatmap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CategoryColor {
    /// matplotlib's tab10 colour `C{i}` (`i` modulo 10): `#1f77b4`,
    /// `#ff7f0e`, `#2ca02c`, `#d62728`, `#9467bd`, `#8c564b`, `#e377c2`,
    /// `#7f7f7f`, `#bcbd22`, `#17becf`.
    Tab10(usize),
    /// The neutral grey of missing or diverged cells, `#a0a0a0`.
    Missing,
    /// A light grey, `#e4e4e4` (e.g. cells that did not settle).
    Faint,
    /// A dark grey, `#404040` (e.g. cells that failed).
    Dark,
    /// Any colour.
    Rgb(u8, u8, u8),
}

impl CategoryColor {
    fn rgb(self) -> RGBColor {
        match self {
            CategoryColor::Tab10(i) => TAB10[i % TAB10.len()],
            CategoryColor::Missing => MISSING,
            CategoryColor::Faint => RGBColor(0xe4, 0xe4, 0xe4),
            CategoryColor::Dark => RGBColor(0x40, 0x40, 0x40),
            CategoryColor::Rgb(r, g, b) => RGBColor(r, g, b),
        }
    }
}

/// The grey of cells without a value.
const MISSING: RGBColor = RGBColor(0xa0, 0xa0, 0xa0);

/// A category of a categorical [`Heatmap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Category<'a> {
    /// The text in the key.
    pub label: &'a str,
    /// Its colour.
    pub color: CategoryColor,
}

/// What the cells of a [`Heatmap`] hold, row by row from the bottom:
/// the cell at column `ix`, row `iy` is entry `iy * x.count + ix`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HeatmapValues<'a> {
    /// Numbers coloured by viridis from the smallest to the largest finite
    /// value, with a colour bar labelled `label`. Non-finite values are
    /// drawn in a neutral grey (`#a0a0a0`), listed under the bar as
    /// `missing` when there are any.
    Continuous {
        /// One number per cell.
        values: &'a [f64],
        /// The colour bar's label.
        label: &'a str,
        /// What grey cells are, e.g. "diverged".
        missing: &'a str,
    },
    /// Category indices into `categories`, each drawn in its colour; the
    /// key lists the categories that occur, in order. An index past the
    /// end is drawn grey like a missing value.
    Categorical {
        /// One index per cell.
        codes: &'a [u16],
        /// Labels and colours.
        categories: &'a [Category<'a>],
    },
}

/// A heatmap; see [`heatmap`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Heatmap<'a> {
    /// The horizontal axis (columns).
    pub x: HeatmapAxis<'a>,
    /// The vertical axis (rows, the first at the bottom).
    pub y: HeatmapAxis<'a>,
    /// The cells.
    pub values: HeatmapValues<'a>,
    /// Text above the axes.
    pub title: Option<&'a str>,
}

/// A heatmap as matplotlib's `pcolormesh` draws one: every cell a
/// rectangle centred on its grid point, filling the axes (the view is the
/// cells' extent), matplotlib's ticks and labels; continuous values in
/// viridis with a colour bar on the right, categories in their colours with
/// a key of colour patches on the right. The figure is a quarter wider than
/// the others (700 × 400 SVG pixels, 1400 × 800 PNG pixels) to make room
/// for the key.
///
/// The colour bar spans the finite values; when a few far-out values (the
/// 0.1% at either end) would squeeze the rest into less than half of it,
/// it spans the others, those values take the end colours and the bar gets
/// matplotlib's triangular ends. A large grid is sampled at the image's
/// resolution (each pixel shows the cell under its centre); in SVG the
/// cells are an embedded PNG image drawn with sharp edges.
///
/// # Errors
/// Unsupported extension, an axis with no cells, a number of values that is
/// not `x.count × y.count`, a non-finite axis end, or the file cannot be
/// written.
///
/// ```no_run
/// use downhill::plot::{heatmap, Heatmap, HeatmapAxis, HeatmapValues};
/// use std::path::Path;
///
/// let (nx, ny) = (50, 40);
/// let values: Vec<f64> = (0..nx * ny)
///     .map(|k| ((k % nx) as f64 / 5.0).sin() * ((k / nx) as f64 / 8.0).cos())
///     .collect();
/// let map = Heatmap {
///     x: HeatmapAxis { label: "x0", start: -5.0, stop: 5.0, count: nx },
///     y: HeatmapAxis { label: "eta", start: 0.1, stop: 1.0, count: ny },
///     values: HeatmapValues::Continuous { values: &values, label: "final x", missing: "diverged" },
///     title: Some("a map"),
/// };
/// heatmap(&map, Path::new("map.png")).unwrap();
/// ```
pub fn heatmap(map: &Heatmap<'_>, out: &Path) -> Result<(), PlotError> {
    ImageFormat::from_path(out)?;
    let (nx, ny) = (map.x.count, map.y.count);
    if nx == 0 || ny == 0 {
        return Err(PlotError::new(out, "a heatmap axis has no cells"));
    }
    for axis in [&map.x, &map.y] {
        if !(axis.start.is_finite() && axis.stop.is_finite()) {
            return Err(PlotError::new(
                out,
                format!(
                    "the axis '{}' has a non-finite end ({}, {})",
                    axis.label, axis.start, axis.stop
                ),
            ));
        }
    }
    let given = match map.values {
        HeatmapValues::Continuous { values, .. } => values.len(),
        HeatmapValues::Categorical { codes, .. } => codes.len(),
    };
    if given != nx * ny {
        return Err(PlotError::new(
            out,
            format!("{given} values for {nx} x {ny} = {} cells", nx * ny),
        ));
    }

    let mut rgb = vec![MISSING; nx * ny];
    // The image's row 0 is the top: the last grid row when y increases.
    let flip_y = map.y.stop >= map.y.start;
    let flip_x = map.x.stop < map.x.start;
    let place = |k: usize| {
        let (ix, iy) = (k % nx, k / nx);
        let col = if flip_x { nx - 1 - ix } else { ix };
        let row = if flip_y { ny - 1 - iy } else { iy };
        row * nx + col
    };
    let key = match map.values {
        HeatmapValues::Continuous {
            values,
            label,
            missing,
        } => {
            let (range, extend) = color_range(values);
            let mut any_missing = false;
            for (k, &v) in values.iter().enumerate() {
                if v.is_finite() {
                    rgb[place(k)] = viridis((v - range.0) / (range.1 - range.0));
                } else {
                    any_missing = true;
                }
            }
            let patches = if any_missing {
                vec![LegendEntry {
                    label: missing.to_string(),
                    color: MISSING,
                }]
            } else {
                Vec::new()
            };
            ColorKey::Bar {
                colors: VIRIDIS.iter().map(|c| RGBColor(c[0], c[1], c[2])).collect(),
                range,
                extend,
                label: label.to_string(),
                patches,
            }
        }
        HeatmapValues::Categorical { codes, categories } => {
            let mut used = vec![false; categories.len()];
            for (k, &c) in codes.iter().enumerate() {
                if let Some(category) = categories.get(usize::from(c)) {
                    rgb[place(k)] = category.color.rgb();
                    used[usize::from(c)] = true;
                }
            }
            ColorKey::Patches(
                categories
                    .iter()
                    .zip(used)
                    .filter(|(_, u)| *u)
                    .map(|(c, _)| LegendEntry {
                        label: c.label.to_string(),
                        color: c.color.rgb(),
                    })
                    .collect(),
            )
        }
    };

    let fig = Figure {
        window: Window {
            x: map.x.extent(),
            y: map.y.extent(),
        },
        x_scale: AxisScale::Linear,
        y_scale: AxisScale::Linear,
        x_label: map.x.label.to_string(),
        y_label: map.y.label.to_string(),
        title: map.title.map(str::to_string),
        grid: false,
        layers: Vec::new(),
        legend: Vec::new(),
    };
    let parts = HeatmapParts {
        raster: Raster {
            width: nx,
            height: ny,
            rgb,
        },
        key,
    };
    render_heatmap(&fig, &parts, out)
}

/// The values the colour bar spans, and whether values lie below and above
/// it. The range of the finite values, unless a few far-out values would
/// squeeze the rest into a sliver of the colour map: when the 0.1% and
/// 99.9% percentiles span less than half of the full range, the bar spans
/// them and the few values beyond take the end colours.
fn color_range(values: &[f64]) -> ((f64, f64), (bool, bool)) {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let n = finite.len();
    if n == 0 {
        return ((0.0, 1.0), (false, false));
    }
    let (min, max) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let mut percentile = |p: f64| {
        let k = ((n - 1) as f64 * p).round() as usize;
        *finite.select_nth_unstable_by(k, f64::total_cmp).1
    };
    let (lo, hi) = (percentile(0.001), percentile(0.999));
    if hi > lo && hi - lo < 0.5 * (max - min) {
        (nonsingular(lo, hi), (min < lo, max > hi))
    } else {
        (nonsingular(min, max), (false, false))
    }
}

/// matplotlib's viridis at `t` in `[0, 1]` (clamped), as its
/// `ListedColormap` of 256 entries picks it.
fn viridis(t: f64) -> RGBColor {
    let i = ((t.clamp(0.0, 1.0) * 256.0) as usize).min(255);
    let c = VIRIDIS[i];
    RGBColor(c[0], c[1], c[2])
}

/// matplotlib's viridis (`_viridis_data`, CC0, by Stéfan van der Walt and
/// Nathaniel Smith), rounded to 8 bits.
#[rustfmt::skip]
const VIRIDIS: [[u8; 3]; 256] = [
    [68, 1, 84], [68, 2, 86], [69, 4, 87], [69, 5, 89], [70, 7, 90], [70, 8, 92],
    [70, 10, 93], [70, 11, 94], [71, 13, 96], [71, 14, 97], [71, 16, 99], [71, 17, 100],
    [71, 19, 101], [72, 20, 103], [72, 22, 104], [72, 23, 105], [72, 24, 106], [72, 26, 108],
    [72, 27, 109], [72, 28, 110], [72, 29, 111], [72, 31, 112], [72, 32, 113], [72, 33, 115],
    [72, 35, 116], [72, 36, 117], [72, 37, 118], [72, 38, 119], [72, 40, 120], [72, 41, 121],
    [71, 42, 122], [71, 44, 122], [71, 45, 123], [71, 46, 124], [71, 47, 125], [70, 48, 126],
    [70, 50, 126], [70, 51, 127], [70, 52, 128], [69, 53, 129], [69, 55, 129], [69, 56, 130],
    [68, 57, 131], [68, 58, 131], [68, 59, 132], [67, 61, 132], [67, 62, 133], [66, 63, 133],
    [66, 64, 134], [66, 65, 134], [65, 66, 135], [65, 68, 135], [64, 69, 136], [64, 70, 136],
    [63, 71, 136], [63, 72, 137], [62, 73, 137], [62, 74, 137], [62, 76, 138], [61, 77, 138],
    [61, 78, 138], [60, 79, 138], [60, 80, 139], [59, 81, 139], [59, 82, 139], [58, 83, 139],
    [58, 84, 140], [57, 85, 140], [57, 86, 140], [56, 88, 140], [56, 89, 140], [55, 90, 140],
    [55, 91, 141], [54, 92, 141], [54, 93, 141], [53, 94, 141], [53, 95, 141], [52, 96, 141],
    [52, 97, 141], [51, 98, 141], [51, 99, 141], [50, 100, 142], [50, 101, 142], [49, 102, 142],
    [49, 103, 142], [49, 104, 142], [48, 105, 142], [48, 106, 142], [47, 107, 142], [47, 108, 142],
    [46, 109, 142], [46, 110, 142], [46, 111, 142], [45, 112, 142], [45, 113, 142], [44, 113, 142],
    [44, 114, 142], [44, 115, 142], [43, 116, 142], [43, 117, 142], [42, 118, 142], [42, 119, 142],
    [42, 120, 142], [41, 121, 142], [41, 122, 142], [41, 123, 142], [40, 124, 142], [40, 125, 142],
    [39, 126, 142], [39, 127, 142], [39, 128, 142], [38, 129, 142], [38, 130, 142], [38, 130, 142],
    [37, 131, 142], [37, 132, 142], [37, 133, 142], [36, 134, 142], [36, 135, 142], [35, 136, 142],
    [35, 137, 142], [35, 138, 141], [34, 139, 141], [34, 140, 141], [34, 141, 141], [33, 142, 141],
    [33, 143, 141], [33, 144, 141], [33, 145, 140], [32, 146, 140], [32, 146, 140], [32, 147, 140],
    [31, 148, 140], [31, 149, 139], [31, 150, 139], [31, 151, 139], [31, 152, 139], [31, 153, 138],
    [31, 154, 138], [30, 155, 138], [30, 156, 137], [30, 157, 137], [31, 158, 137], [31, 159, 136],
    [31, 160, 136], [31, 161, 136], [31, 161, 135], [31, 162, 135], [32, 163, 134], [32, 164, 134],
    [33, 165, 133], [33, 166, 133], [34, 167, 133], [34, 168, 132], [35, 169, 131], [36, 170, 131],
    [37, 171, 130], [37, 172, 130], [38, 173, 129], [39, 173, 129], [40, 174, 128], [41, 175, 127],
    [42, 176, 127], [44, 177, 126], [45, 178, 125], [46, 179, 124], [47, 180, 124], [49, 181, 123],
    [50, 182, 122], [52, 182, 121], [53, 183, 121], [55, 184, 120], [56, 185, 119], [58, 186, 118],
    [59, 187, 117], [61, 188, 116], [63, 188, 115], [64, 189, 114], [66, 190, 113], [68, 191, 112],
    [70, 192, 111], [72, 193, 110], [74, 193, 109], [76, 194, 108], [78, 195, 107], [80, 196, 106],
    [82, 197, 105], [84, 197, 104], [86, 198, 103], [88, 199, 101], [90, 200, 100], [92, 200, 99],
    [94, 201, 98], [96, 202, 96], [99, 203, 95], [101, 203, 94], [103, 204, 92], [105, 205, 91],
    [108, 205, 90], [110, 206, 88], [112, 207, 87], [115, 208, 86], [117, 208, 84], [119, 209, 83],
    [122, 209, 81], [124, 210, 80], [127, 211, 78], [129, 211, 77], [132, 212, 75], [134, 213, 73],
    [137, 213, 72], [139, 214, 70], [142, 214, 69], [144, 215, 67], [147, 215, 65], [149, 216, 64],
    [152, 216, 62], [155, 217, 60], [157, 217, 59], [160, 218, 57], [162, 218, 55], [165, 219, 54],
    [168, 219, 52], [170, 220, 50], [173, 220, 48], [176, 221, 47], [178, 221, 45], [181, 222, 43],
    [184, 222, 41], [186, 222, 40], [189, 223, 38], [192, 223, 37], [194, 223, 35], [197, 224, 33],
    [200, 224, 32], [202, 225, 31], [205, 225, 29], [208, 225, 28], [210, 226, 27], [213, 226, 26],
    [216, 226, 25], [218, 227, 25], [221, 227, 24], [223, 227, 24], [226, 228, 24], [229, 228, 25],
    [231, 228, 25], [234, 229, 26], [236, 229, 27], [239, 229, 28], [241, 229, 29], [244, 230, 30],
    [246, 230, 32], [248, 230, 33], [251, 231, 35], [253, 231, 37],
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_ends_and_middle() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(-3.0), viridis(0.0));
        assert_eq!(viridis(0.5), RGBColor(33, 145, 140));
    }

    #[test]
    fn far_out_values_do_not_squeeze_the_colour_bar() {
        let mut v: Vec<f64> = (0..10_000).map(|k| f64::from(k % 7)).collect();
        v[17] = 2000.0;
        v[18] = f64::NAN;
        assert_eq!(color_range(&v), ((0.0, 6.0), (false, true)));
        let plain: Vec<f64> = (0..100).map(f64::from).collect();
        assert_eq!(color_range(&plain), ((0.0, 99.0), (false, false)));
        assert_eq!(color_range(&[f64::NAN]), ((0.0, 1.0), (false, false)));
    }

    #[test]
    fn cells_extend_half_a_spacing() {
        let a = HeatmapAxis {
            label: "",
            start: 0.0,
            stop: 1.0,
            count: 3,
        };
        assert_eq!(a.extent(), (-0.25, 1.25));
    }
}
