//! A small matplotlib-look axes renderer on top of plotters' backends.
//!
//! [`Figure`] describes one axes in data coordinates (limits, labels, lines,
//! markers); [`render`] lays it out and writes it as SVG or PNG.
//!
//! The axes are drawn here by hand rather than with plotters' `ChartBuilder`:
//! the book's figures are matplotlib's (box of four spines, outward ticks,
//! `AutoLocator` tick values, labels without a forced ".0", a tight layout
//! around the tick labels) and the chart builder can give none of these
//! without fighting it; lines also have to be clipped before plotters sees
//! them (see [`super::geometry`]). plotters does the SVG writing, the text
//! (DejaVu Sans, embedded, through `ab_glyph`) and the bitmap's rectangles;
//! PNG lines and markers go through the antialiasing [`Coverage`] below.

use std::path::Path;
use std::sync::OnceLock;

use plotters::backend::{BitMapBackend, DrawingBackend, SVGBackend};
use plotters::coord::Shift;
use plotters::drawing::{DrawingArea, IntoDrawingArea};
use plotters::element::{Circle, PathElement, Polygon, Rectangle};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{
    register_font, Color, FontStyle, FontTransform, IntoFont, RGBColor, ShapeStyle, TextStyle,
    BLACK, WHITE,
};

use super::geometry::{simplify, Window};
use super::ticks::{scale_ticks, Ticks};
use super::{AxisScale, ImageFormat, PlotError};

/// Size of an SVG figure in pixels: matplotlib's d2l figure (3.5 × 2.5 in)
/// at 160 dpi.
pub const SVG_SIZE: (u32, u32) = (560, 400);
/// Size of a PNG figure in pixels: the SVG layout at twice the resolution,
/// so that lines and text stay crisp (plotters does not antialias wide lines).
pub const PNG_SIZE: (u32, u32) = (1120, 800);

/// The SVG is drawn on a canvas this many times larger than [`SVG_SIZE`].
const SVG_OVERSAMPLE: u32 = 10;

/// matplotlib's first colour, C0: function curves and contour lines.
pub(crate) const C0: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
/// matplotlib's second colour, C1: iterates.
pub(crate) const C1: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
/// matplotlib's colour cycle, tab10: C0, C1, …, C9.
pub(crate) const TAB10: [RGBColor; 10] = [
    C0,
    C1,
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];
const GRID: RGBColor = RGBColor(0xb0, 0xb0, 0xb0);
/// matplotlib's legend frame: `legend.edgecolor` 0.8.
const LEGEND_EDGE: RGBColor = RGBColor(0xcc, 0xcc, 0xcc);

/// Pixels per typographic point at 1× (160 dpi).
const PX_PER_PT: f64 = 160.0 / 72.0;
// matplotlib's default rc values, in points.
const FONT_PT: f64 = 10.0;
const TITLE_PT: f64 = 12.0;
/// Legends are set smaller than the tick labels so that several entries
/// do not hide the data (matplotlib's `legend.fontsize` "small").
const LEGEND_FONT_PT: f64 = 8.3;
const LINE_PT: f64 = 1.5;
const MARKER_RADIUS_PT: f64 = 3.0;
const SPINE_PT: f64 = 0.8;
const TICK_LEN_PT: f64 = 3.5;
const TICK_PAD_PT: f64 = 3.5;
const LABEL_PAD_PT: f64 = 4.0;
const TITLE_PAD_PT: f64 = 6.0;
const BORDER_PT: f64 = 7.2; // bbox_inches="tight" pads by 0.1 in
const MINOR_TICK_LEN_PT: f64 = 2.0;
const MINOR_TICK_PT: f64 = 0.6;
// matplotlib's legend rc values, in font sizes (em) unless noted.
const LEGEND_BORDER_PAD: f64 = 0.4;
const LEGEND_LABEL_SPACING: f64 = 0.5;
const LEGEND_HANDLE_LENGTH: f64 = 2.0;
const LEGEND_HANDLE_TEXT_PAD: f64 = 0.8;
const LEGEND_AXES_PAD: f64 = 0.5;
/// Height of the line and marker above the baseline (half of
/// `legend.handleheight`).
const LEGEND_HANDLE_RISE: f64 = 0.35;
/// Radius of the frame's rounded corners (`round,rounding_size=0.2`).
const LEGEND_ROUNDING: f64 = 0.2;
const LEGEND_FRAME_PT: f64 = 1.0;
const LEGEND_ALPHA: f64 = 0.8;

/// One drawing layer, in data coordinates.
pub(crate) enum Layer {
    /// Polylines (each clipped to the window when drawn; non-finite points
    /// break a line).
    Lines {
        lines: Vec<Vec<[f64; 2]>>,
        color: RGBColor,
    },
    /// Filled circle markers; points outside the window are not drawn.
    /// With `thin`, a marker closer than one marker diameter to the last one
    /// drawn is left out (matplotlib's `markevery`, by distance), so a long
    /// series stays a line with beads rather than a thick smear.
    Markers {
        points: Vec<[f64; 2]>,
        color: RGBColor,
        thin: bool,
    },
}

impl Layer {
    fn color(&self) -> RGBColor {
        match self {
            Layer::Lines { color, .. } | Layer::Markers { color, .. } => *color,
        }
    }
}

/// One legend row: a line with a circle marker in `color`, then `label`.
pub(crate) struct LegendEntry {
    pub label: String,
    pub color: RGBColor,
}

/// One axes: view limits, labels, and the layers drawn in order.
///
/// On a [`AxisScale::Log10`] axis, the window and the layers' coordinates
/// along it are log10 of the values (the caller transforms); only ticks and
/// labels differ.
pub(crate) struct Figure {
    pub window: Window,
    pub x_scale: AxisScale,
    pub y_scale: AxisScale,
    pub x_label: String,
    pub y_label: String,
    pub title: Option<String>,
    /// Light grid lines at the major ticks (d2l's `axes.grid()`).
    pub grid: bool,
    pub layers: Vec<Layer>,
    /// Legend rows (none: no legend). The box goes in the upper right
    /// corner, or in the corner with the least of the legend's own data
    /// (layers of its colours) under it.
    pub legend: Vec<LegendEntry>,
}

/// Writes `fig` to `path` in the format its extension names.
pub(crate) fn render(fig: &Figure, path: &Path) -> Result<(), PlotError> {
    render_with(fig, None, path)
}

/// [`render`], with a heatmap's image filling the axes and its colour key
/// right of them (see [`super::heatmap`]).
pub(crate) fn render_heatmap(
    fig: &Figure,
    parts: &HeatmapParts,
    path: &Path,
) -> Result<(), PlotError> {
    render_with(fig, Some(parts), path)
}

fn render_with(fig: &Figure, parts: Option<&HeatmapParts>, path: &Path) -> Result<(), PlotError> {
    let format = ImageFormat::from_path(path)?;
    check_window(fig.window).map_err(|reason| PlotError::new(path, reason))?;
    fonts_ready().map_err(|reason| PlotError::new(path, reason))?;
    match format {
        ImageFormat::Svg => {
            // plotters' SVG coordinates are integers, which makes curves
            // wobble by up to half a pixel; draw on a 10× canvas and declare
            // the real size, so the viewBox scales it down to 0.1 px steps.
            let (w, h) = wider(SVG_SIZE, parts);
            let fine = (w * SVG_OVERSAMPLE, h * SVG_OVERSAMPLE);
            let mut svg = String::new();
            let axes_box;
            {
                let root = SVGBackend::with_string(&mut svg, fine).into_drawing_area();
                axes_box = draw(&root, fig, parts, Metrics::SVG)
                    .map_err(|reason| PlotError::new(path, reason))?;
                root.present()
                    .map_err(|e| PlotError::new(path, e.to_string()))?;
            }
            if let Some(parts) = parts {
                svg = insert_svg_image(&svg, &parts.raster, axes_box)
                    .map_err(|reason| PlotError::new(path, reason))?;
            }
            let header = format!("<svg width=\"{}\" height=\"{}\" ", fine.0, fine.1);
            let svg = match svg.strip_prefix(&header) {
                Some(rest) => format!("<svg width=\"{w}\" height=\"{h}\" {rest}"),
                None => svg,
            };
            std::fs::write(path, svg).map_err(|e| PlotError::new(path, e.to_string()))
        }
        ImageFormat::Png => {
            // Fail early, with the operating system's words, if the file
            // cannot be created; the image encoder's error is less clear.
            std::fs::File::create(path).map_err(|e| PlotError::new(path, e.to_string()))?;
            let root = BitMapBackend::new(path, wider(PNG_SIZE, parts)).into_drawing_area();
            draw(&root, fig, parts, Metrics::PNG).map_err(|reason| PlotError::new(path, reason))?;
            root.present()
                .map_err(|e| PlotError::new(path, e.to_string()))
        }
    }
}

fn check_window(w: Window) -> Result<(), String> {
    let ok =
        |(lo, hi): (f64, f64)| lo.is_finite() && hi.is_finite() && (hi - lo).is_finite() && lo < hi;
    if ok(w.x) && ok(w.y) {
        Ok(())
    } else {
        Err(format!(
            "cannot plot the window x in [{}, {}], y in [{}, {}] (values too large or degenerate)",
            w.x.0, w.x.1, w.y.0, w.y.1
        ))
    }
}

/// Registers DejaVu Sans (embedded in the binary) as plotters' "sans-serif",
/// once per process. Both backends need it: plotters measures text with it
/// for the SVG layout and rasterises it for the PNG.
fn fonts_ready() -> Result<(), String> {
    static READY: OnceLock<bool> = OnceLock::new();
    let ok = *READY.get_or_init(|| {
        register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err("the embedded DejaVu Sans font could not be loaded".to_string())
    }
}

// DejaVu Sans metrics, in em: cap (and digit) height, ascender, descender.
const CAP_EM: f64 = 0.729;
const ASCENT_EM: f64 = 0.76;
const DESCENT_EM: f64 = 0.236;

/// Pixel sizes and text placement for one backend.
#[derive(Clone, Copy)]
struct Metrics {
    /// Device pixels per pixel of the 560 × 400 layout.
    k: f64,
    /// Bitmap output: lines and markers go through [`Coverage`].
    raster: bool,
}

impl Metrics {
    const SVG: Metrics = Metrics {
        k: SVG_OVERSAMPLE as f64,
        raster: false,
    };
    const PNG: Metrics = Metrics {
        k: 2.0,
        raster: true,
    };

    fn px(&self, pt: f64) -> f64 {
        pt * PX_PER_PT * self.k
    }
    fn ipx(&self, pt: f64) -> i32 {
        (self.px(pt).round() as i32).max(1)
    }
    /// plotters' font size whose em is `pt` points. The SVG backend writes
    /// `font-size = size / 1.24`; ab_glyph scales to ascent − descent, which
    /// is 1.164 em for DejaVu Sans.
    fn font_size(&self, pt: f64) -> f64 {
        self.px(pt) * if self.raster { 1.164 } else { 1.24 }
    }
    /// How far below the anchor the baseline of `VPos::Top` text lands:
    /// the SVG backend shifts by `dy = 0.76em`, ab_glyph by half its size.
    fn top_to_baseline(&self, pt: f64) -> f64 {
        if self.raster {
            self.font_size(pt) / 2.0
        } else {
            0.76 * self.px(pt)
        }
    }
    fn text_style(&self, pt: f64, h: HPos) -> TextStyle<'static> {
        ("sans-serif", self.font_size(pt))
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(h, VPos::Top))
    }
    /// Advance width of `text` in pixels.
    fn text_width(&self, text: &str, pt: f64) -> f64 {
        ("sans-serif", self.px(pt) * 1.164)
            .into_font()
            .box_size(text)
            .map(|(w, _)| f64::from(w))
            .unwrap_or(text.chars().count() as f64 * self.px(pt) * 0.6)
    }
}

/// Pixel box of the axes and the ticks shown on it.
struct Layout {
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    x: Ticks,
    y: Ticks,
}

impl Layout {
    /// matplotlib's `AutoLocator` bin count for an axis `len_px` long: room
    /// for a label every 3 font sizes along x, every 2 along y, 1..=9 bins.
    fn nbins(len_px: f64, em_px: f64, per_label: f64) -> usize {
        ((len_px / (em_px * per_label)).floor() as usize).clamp(1, 9)
    }

    /// x ticks and labels for an axis `len` pixels long: matplotlib's bin
    /// count, lowered while neighbouring labels would overlap (long labels
    /// such as "−0.0004" need more room than the 3-em rule gives).
    fn x_axis(fig: &Figure, m: &Metrics, len: f64) -> Ticks {
        let em = m.px(FONT_PT);
        let range = fig.window.x.1 - fig.window.x.0;
        let mut nbins = Self::nbins(len, em, 3.0);
        loop {
            let ticks = scale_ticks(fig.x_scale, fig.window.x, nbins);
            let spacing = ticks
                .major
                .windows(2)
                .map(|p| (p[1] - p[0]) / range * len)
                .fold(f64::INFINITY, f64::min);
            let widest = ticks
                .labels
                .iter()
                .map(|l| m.text_width(l, FONT_PT))
                .fold(0.0, f64::max);
            if nbins == 1 || widest + em <= spacing {
                return ticks;
            }
            nbins -= 1;
        }
    }

    /// `reserve`: pixels kept free right of the axes (a colour key).
    fn new(fig: &Figure, m: &Metrics, size: (u32, u32), reserve: f64) -> Layout {
        let (w, h) = (f64::from(size.0), f64::from(size.1));
        let em = m.px(FONT_PT);
        let border = m.px(BORDER_PT);
        let top = border
            + match fig.title {
                Some(_) => m.px(TITLE_PT) * (ASCENT_EM + DESCENT_EM) + m.px(TITLE_PAD_PT),
                None => em * CAP_EM / 2.0,
            };
        let bottom = h
            - border
            - em * (ASCENT_EM + DESCENT_EM)
            - m.px(LABEL_PAD_PT)
            - em * CAP_EM
            - m.px(TICK_PAD_PT)
            - m.px(TICK_LEN_PT);
        // First guess of the left edge, then settle it with the real labels.
        let mut left = 0.15 * w;
        let mut right = w - border;
        let mut layout = None;
        for _ in 0..2 {
            let x = Self::x_axis(fig, m, right - left);
            let y = scale_ticks(
                fig.y_scale,
                fig.window.y,
                Self::nbins(bottom - top, em, 2.0),
            );
            let widest = y
                .labels
                .iter()
                .map(|l| m.text_width(l, FONT_PT))
                .fold(0.0, f64::max);
            left = border
                + em * (ASCENT_EM + DESCENT_EM)
                + m.px(LABEL_PAD_PT)
                + widest
                + m.px(TICK_PAD_PT)
                + m.px(TICK_LEN_PT);
            // The last x label may stick out past the right spine.
            let overhang = match (x.major.last(), x.labels.last()) {
                (Some(&t), Some(l)) => {
                    let frac = (t - fig.window.x.0) / (fig.window.x.1 - fig.window.x.0);
                    let room = (1.0 - frac) * (right - left);
                    (m.text_width(l, FONT_PT) / 2.0 - room).max(0.0)
                }
                _ => 0.0,
            };
            right = w - border - overhang.max(reserve);
            layout = Some(Layout {
                left,
                right,
                top,
                bottom,
                x,
                y,
            });
        }
        layout.expect("the loop runs")
    }

    fn px_x(&self, win: &Window, x: f64) -> f64 {
        self.left + (x - win.x.0) / (win.x.1 - win.x.0) * (self.right - self.left)
    }
    fn px_y(&self, win: &Window, y: f64) -> f64 {
        self.bottom - (y - win.y.0) / (win.y.1 - win.y.0) * (self.bottom - self.top)
    }
    fn px(&self, win: &Window, p: [f64; 2]) -> (f64, f64) {
        (self.px_x(win, p[0]), self.px_y(win, p[1]))
    }
}

fn round(p: (f64, f64)) -> (i32, i32) {
    (p.0.round() as i32, p.1.round() as i32)
}

/// Antialiased strokes and discs for the bitmap backend.
///
/// Hand-written because plotters fills wide lines as polygons with mitred
/// joins and no antialiasing: steps of a sharply turning path grow long
/// spikes and smooth curves look hairy. Here each pixel gets the coverage
/// `clamp(w/2 + 1/2 − d, 0, 1)` from its distance `d` to the nearest segment
/// (round joins and caps for free), maximised over a whole layer, then blended
/// once, so overlapping segments of one colour never darken each other.
/// Like matplotlib, it clips to the axes box (line caps and markers at the
/// border are cut there).
struct Coverage {
    w: usize,
    /// Pixel box drawn into: x0, y0, x1, y1 (inclusive).
    clip: (f64, f64, f64, f64),
    cov: Vec<f32>,
    /// Touched pixel box: x0, y0, x1, y1 (inclusive), empty when x0 > x1.
    bbox: (usize, usize, usize, usize),
}

impl Coverage {
    /// A layer of a `w × h` image that draws only inside the axes box of
    /// `lay`.
    fn new((w, h): (u32, u32), lay: &Layout) -> Coverage {
        let clip = (
            lay.left.round().max(0.0),
            lay.top.round().max(0.0),
            lay.right.round().min(f64::from(w) - 1.0),
            lay.bottom.round().min(f64::from(h) - 1.0),
        );
        let (w, h) = (w as usize, h as usize);
        Coverage {
            w,
            clip,
            cov: vec![0.0; w * h],
            bbox: (usize::MAX, usize::MAX, 0, 0),
        }
    }

    /// A segment `a → b` of width `2 · half` (a disc when `a == b`); pixel
    /// `(i, j)` is centred on the point `(i, j)`.
    fn segment(&mut self, a: (f64, f64), b: (f64, f64), half: f64) {
        let reach = half + 1.0;
        let (cx0, cy0, cx1, cy1) = self.clip;
        let clampx = |v: f64| v.clamp(cx0, cx1) as usize;
        let clampy = |v: f64| v.clamp(cy0, cy1) as usize;
        let (x0, x1) = (
            clampx((a.0.min(b.0) - reach).floor()),
            clampx((a.0.max(b.0) + reach).ceil()),
        );
        let (y0, y1) = (
            clampy((a.1.min(b.1) - reach).floor()),
            clampy((a.1.max(b.1) + reach).ceil()),
        );
        let d = (b.0 - a.0, b.1 - a.1);
        let len2 = d.0 * d.0 + d.1 * d.1;
        for y in y0..=y1 {
            for x in x0..=x1 {
                let p = (x as f64 - a.0, y as f64 - a.1);
                let t = if len2 > 0.0 {
                    ((p.0 * d.0 + p.1 * d.1) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (ex, ey) = (p.0 - t * d.0, p.1 - t * d.1);
                let c = (half + 0.5 - (ex * ex + ey * ey).sqrt()).clamp(0.0, 1.0) as f32;
                if c > 0.0 {
                    let cell = &mut self.cov[y * self.w + x];
                    *cell = cell.max(c);
                }
            }
        }
        self.bbox = (
            self.bbox.0.min(x0),
            self.bbox.1.min(y0),
            self.bbox.2.max(x1),
            self.bbox.3.max(y1),
        );
    }

    fn blend<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        color: RGBColor,
    ) -> Result<(), String> {
        let (x0, y0, x1, y1) = self.bbox;
        if x0 > x1 {
            return Ok(());
        }
        for y in y0..=y1 {
            for x in x0..=x1 {
                let c = self.cov[y * self.w + x];
                if c > 0.0 {
                    root.draw_pixel((x as i32, y as i32), &color.mix(f64::from(c)))
                        .map_err(|e| e.to_string())?;
                }
            }
        }
        Ok(())
    }
}

/// A filled axis-aligned bar centred on a line: crisp spines, ticks and grid
/// lines in both backends.
fn bar<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    from: (f64, f64),
    to: (f64, f64),
    thickness: i32,
    color: RGBColor,
) -> Result<(), String> {
    let lo = thickness / 2;
    let hi = thickness - lo - 1;
    let (x0, y0) = round(from);
    let (x1, y1) = round(to);
    let corners = if y0 == y1 {
        [(x0.min(x1) - lo, y0 - lo), (x0.max(x1) + hi, y0 + hi)]
    } else {
        [(x0 - lo, y0.min(y1) - lo), (x0 + hi, y0.max(y1) + hi)]
    };
    root.draw(&Rectangle::new(corners, color.filled()))
        .map_err(|e| e.to_string())
}

/// Text whose baseline is at `baseline` (y pixel), anchored horizontally by `h`.
fn text<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    m: &Metrics,
    s: &str,
    pt: f64,
    h: HPos,
    (x, baseline): (f64, f64),
) -> Result<(), String> {
    let y = baseline - m.top_to_baseline(pt);
    root.draw_text(s, &m.text_style(pt, h), round((x, y)))
        .map_err(|e| e.to_string())
}

/// Antialiased polylines in device pixels, `width` pixels wide, clipped to
/// the axes box in the bitmap (callers clip to the window beforehand).
fn stroke<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    m: &Metrics,
    lay: &Layout,
    lines: &[Vec<(f64, f64)>],
    width: f64,
    color: RGBColor,
) -> Result<(), String> {
    if m.raster {
        let mut cov = Coverage::new(root.dim_in_pixel(), lay);
        for line in lines {
            for pair in line.windows(2) {
                cov.segment(pair[0], pair[1], width / 2.0);
            }
        }
        cov.blend(root, color)
    } else {
        let style = ShapeStyle {
            color: color.to_rgba(),
            filled: false,
            stroke_width: (width.round() as u32).max(1),
        };
        for line in lines {
            let mut pixels: Vec<(i32, i32)> = simplify(line, 0.5).into_iter().map(round).collect();
            pixels.dedup();
            if pixels.len() >= 2 {
                root.draw(&PathElement::new(pixels, style))
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

/// Filled discs of radius `r` at `centres` (device pixels).
fn discs<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    m: &Metrics,
    lay: &Layout,
    centres: &[(f64, f64)],
    r: f64,
    color: RGBColor,
) -> Result<(), String> {
    if m.raster {
        let mut cov = Coverage::new(root.dim_in_pixel(), lay);
        for &c in centres {
            cov.segment(c, c, r);
        }
        cov.blend(root, color)
    } else {
        for &c in centres {
            let circle = Circle::new(round(c), r.round() as i32, color.filled());
            root.draw(&circle).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// The markers of a layer that are drawn, in device pixels. Thinning keeps
/// the first and the last visible point (the last replaces the marker it
/// would crowd).
fn marker_centres(
    points: &[[f64; 2]],
    thin: bool,
    win: &Window,
    lay: &Layout,
    r: f64,
) -> Vec<(f64, f64)> {
    let centres = points
        .iter()
        .filter(|&&p| win.contains(p))
        .map(|&p| lay.px(win, p));
    if !thin {
        return centres.collect();
    }
    let crowds = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).hypot(a.1 - b.1) < 2.0 * r;
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut last_seen = None;
    for c in centres {
        if !out.last().is_some_and(|&l| crowds(c, l)) {
            out.push(c);
        }
        last_seen = Some(c);
    }
    if let Some(c) = last_seen {
        if out.last() != Some(&c) {
            if out.len() > 1 && out.last().is_some_and(|&l| crowds(c, l)) {
                out.pop();
            }
            out.push(c);
        }
    }
    out
}

/// Where the legend goes and how big it is, in device pixels.
struct LegendBox {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
}

impl LegendBox {
    fn contains(&self, p: (f64, f64)) -> bool {
        p.0 >= self.left
            && p.0 <= self.left + self.width
            && p.1 >= self.top
            && p.1 <= self.top + self.height
    }
    fn as_window(&self) -> Window {
        Window {
            x: (self.left, self.left + self.width),
            y: (self.top, self.top + self.height),
        }
    }
}

/// The legend's box: matplotlib's paddings and spacings, placed like
/// `loc="best"` restricted to the corners: upper right, upper left, lower
/// left, lower right, the first with the fewest vertices and markers of the
/// legend's own layers inside it, counting each line crossing it once more.
fn legend_box(fig: &Figure, m: &Metrics, lay: &Layout) -> LegendBox {
    let em = m.px(LEGEND_FONT_PT);
    let n = fig.legend.len() as f64;
    let widest = fig
        .legend
        .iter()
        .map(|e| m.text_width(&e.label, LEGEND_FONT_PT))
        .fold(0.0, f64::max);
    let width =
        (2.0 * LEGEND_BORDER_PAD + LEGEND_HANDLE_LENGTH + LEGEND_HANDLE_TEXT_PAD) * em + widest;
    let row = (ASCENT_EM + DESCENT_EM) * em;
    let height = 2.0 * LEGEND_BORDER_PAD * em + n * row + (n - 1.0) * LEGEND_LABEL_SPACING * em;
    let pad = LEGEND_AXES_PAD * em;
    let (l, r) = (lay.left + pad, lay.right - pad - width);
    let (t, b) = (lay.top + pad, lay.bottom - pad - height);
    let corners = [(r, t), (l, t), (l, b), (r, b)];

    let win = &fig.window;
    let colors: Vec<RGBColor> = fig.legend.iter().map(|e| e.color).collect();
    // Each data line as its visible pieces (a line crossing the box counts
    // once, however many pieces cross it).
    let mut polylines: Vec<Vec<Vec<(f64, f64)>>> = Vec::new();
    let mut points: Vec<(f64, f64)> = Vec::new();
    for layer in fig.layers.iter().filter(|l| colors.contains(&l.color())) {
        match layer {
            Layer::Lines { lines, .. } => {
                for line in lines {
                    polylines.push(
                        win.clip_polyline(line)
                            .iter()
                            .map(|piece| piece.iter().map(|&p| lay.px(win, p)).collect())
                            .collect(),
                    );
                }
            }
            Layer::Markers { points: pts, .. } => {
                points.extend(
                    pts.iter()
                        .filter(|&&p| win.contains(p))
                        .map(|&p| lay.px(win, p)),
                );
            }
        }
    }
    let badness = |b: &LegendBox| {
        let bw = b.as_window();
        let inside = polylines
            .iter()
            .flatten()
            .flatten()
            .chain(&points)
            .filter(|&&p| b.contains(p))
            .count();
        let crossing = polylines
            .iter()
            .filter(|pieces| {
                pieces.iter().flat_map(|piece| piece.windows(2)).any(|s| {
                    bw.clip_segment([s[0].0, s[0].1], [s[1].0, s[1].1])
                        .is_some()
                })
            })
            .count();
        inside + crossing
    };
    let at = |(left, top): (f64, f64)| LegendBox {
        left,
        top,
        width,
        height,
    };
    let mut best = at(corners[0]);
    let mut best_badness = badness(&best);
    for &corner in &corners[1..] {
        if best_badness == 0 {
            break;
        }
        let candidate = at(corner);
        let bad = badness(&candidate);
        if bad < best_badness {
            best = candidate;
            best_badness = bad;
        }
    }
    best
}

/// The outline of a rectangle with rounded corners, as a closed polyline
/// starting and ending in the middle of the top edge (so that the seam of a
/// stroked outline falls on a straight stretch).
fn rounded_rect(b: &LegendBox, radius: f64) -> Vec<(f64, f64)> {
    let r = radius.min(b.width / 2.0).min(b.height / 2.0).max(0.0);
    let (x0, y0, x1, y1) = (b.left, b.top, b.left + b.width, b.top + b.height);
    // Corner centres and the angle each arc starts at (y grows downwards).
    let arcs = [
        ((x1 - r, y0 + r), -90.0f64),
        ((x1 - r, y1 - r), 0.0),
        ((x0 + r, y1 - r), 90.0),
        ((x0 + r, y0 + r), 180.0),
    ];
    let mut pts = vec![((x0 + x1) / 2.0, y0)];
    for ((cx, cy), start) in arcs {
        for k in 0..=8 {
            let a = (start + 90.0 * f64::from(k) / 8.0).to_radians();
            pts.push((cx + r * a.cos(), cy + r * a.sin()));
        }
    }
    pts.push(((x0 + x1) / 2.0, y0));
    pts
}

fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &Figure,
    m: &Metrics,
    lay: &Layout,
) -> Result<(), String> {
    if fig.legend.is_empty() {
        return Ok(());
    }
    let b = legend_box(fig, m, lay);
    let em = m.px(LEGEND_FONT_PT);
    let outline = rounded_rect(&b, LEGEND_ROUNDING * em);
    let face: Vec<(i32, i32)> = outline.iter().map(|&p| round(p)).collect();
    root.draw(&Polygon::new(face, WHITE.mix(LEGEND_ALPHA).filled()))
        .map_err(|e| e.to_string())?;
    stroke(root, m, lay, &[outline], m.px(LEGEND_FRAME_PT), LEGEND_EDGE)?;
    let row = (ASCENT_EM + DESCENT_EM) * em;
    let x0 = b.left + LEGEND_BORDER_PAD * em;
    let x1 = x0 + LEGEND_HANDLE_LENGTH * em;
    for (i, entry) in fig.legend.iter().enumerate() {
        let top = b.top + LEGEND_BORDER_PAD * em + i as f64 * (row + LEGEND_LABEL_SPACING * em);
        let baseline = top + ASCENT_EM * em;
        let y = baseline - LEGEND_HANDLE_RISE * em;
        stroke(
            root,
            m,
            lay,
            &[vec![(x0, y), (x1, y)]],
            m.px(LINE_PT),
            entry.color,
        )?;
        discs(
            root,
            m,
            lay,
            &[((x0 + x1) / 2.0, y)],
            m.px(MARKER_RADIUS_PT),
            entry.color,
        )?;
        text(
            root,
            m,
            &entry.label,
            LEGEND_FONT_PT,
            HPos::Left,
            (x1 + LEGEND_HANDLE_TEXT_PAD * em, baseline),
        )?;
    }
    Ok(())
}

/// Draws the figure; returns the axes box (left, top, right, bottom) in
/// device pixels.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &Figure,
    parts: Option<&HeatmapParts>,
    m: Metrics,
) -> Result<(f64, f64, f64, f64), String> {
    let (w, h) = root.dim_in_pixel();
    let reserve = parts.map_or(0.0, |p| key_width(&p.key, &m, fig, (w, h)));
    let lay = Layout::new(fig, &m, (w, h), reserve);
    let win = &fig.window;
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let thin = m.ipx(SPINE_PT);
    if let (Some(parts), true) = (parts, m.raster) {
        paint_raster(root, &parts.raster, &lay)?;
    }

    if fig.grid {
        for &x in &lay.x.major {
            let px = lay.px_x(win, x);
            bar(root, (px, lay.top), (px, lay.bottom), thin, GRID)?;
        }
        for &y in &lay.y.major {
            let py = lay.px_y(win, y);
            bar(root, (lay.left, py), (lay.right, py), thin, GRID)?;
        }
    }

    for layer in &fig.layers {
        match layer {
            Layer::Lines { lines, color } => {
                let pieces: Vec<Vec<(f64, f64)>> = lines
                    .iter()
                    .flat_map(|line| win.clip_polyline(line))
                    .map(|piece| piece.iter().map(|&p| lay.px(win, p)).collect())
                    .collect();
                stroke(root, &m, &lay, &pieces, m.px(LINE_PT), *color)?;
            }
            Layer::Markers {
                points,
                color,
                thin,
            } => {
                let r = m.px(MARKER_RADIUS_PT);
                let centres = marker_centres(points, *thin, win, &lay, r);
                discs(root, &m, &lay, &centres, r, *color)?;
            }
        }
    }

    draw_legend(root, fig, &m, &lay)?;

    // Spines on top of the data, as in matplotlib.
    let (l, r, tp, b) = (lay.left, lay.right, lay.top, lay.bottom);
    bar(root, (l, tp), (l, b), thin, BLACK)?;
    bar(root, (r, tp), (r, b), thin, BLACK)?;
    bar(root, (l, tp), (r, tp), thin, BLACK)?;
    bar(root, (l, b), (r, b), thin, BLACK)?;

    // Outward ticks and their labels: x labels hang below, y labels are
    // centred on their tick (digits are CAP_EM tall). Minor ticks (log
    // axes) are shorter and thinner, without labels.
    let em = m.px(FONT_PT);
    let tick_len = m.px(TICK_LEN_PT);
    let label_gap = tick_len + m.px(TICK_PAD_PT);
    let (minor_len, minor_w) = (m.px(MINOR_TICK_LEN_PT), m.ipx(MINOR_TICK_PT));
    for &x in &lay.x.minor {
        let px = lay.px_x(win, x);
        bar(root, (px, b), (px, b + minor_len), minor_w, BLACK)?;
    }
    for &y in &lay.y.minor {
        let py = lay.px_y(win, y);
        bar(root, (l - minor_len, py), (l, py), minor_w, BLACK)?;
    }
    for (&x, label) in lay.x.major.iter().zip(&lay.x.labels) {
        let px = lay.px_x(win, x);
        bar(root, (px, b), (px, b + tick_len), thin, BLACK)?;
        text(
            root,
            &m,
            label,
            FONT_PT,
            HPos::Center,
            (px, b + label_gap + CAP_EM * em),
        )?;
    }
    for (&y, label) in lay.y.major.iter().zip(&lay.y.labels) {
        let py = lay.px_y(win, y);
        bar(root, (l - tick_len, py), (l, py), thin, BLACK)?;
        text(
            root,
            &m,
            label,
            FONT_PT,
            HPos::Right,
            (l - label_gap, py + CAP_EM * em / 2.0),
        )?;
    }

    // Axis labels and title.
    let x_label_top = b + label_gap + CAP_EM * em + m.px(LABEL_PAD_PT);
    if !fig.x_label.is_empty() {
        text(
            root,
            &m,
            &fig.x_label,
            FONT_PT,
            HPos::Center,
            ((l + r) / 2.0, x_label_top + ASCENT_EM * em),
        )?;
    }
    let widest = lay
        .y
        .labels
        .iter()
        .map(|s| m.text_width(s, FONT_PT))
        .fold(0.0, f64::max);
    // Rotated a quarter turn anticlockwise, the text's "down" is the
    // image's +x: the baseline sits right of the anchor.
    let baseline_x = l - label_gap - widest - m.px(LABEL_PAD_PT) - DESCENT_EM * em;
    let upright = m
        .text_style(FONT_PT, HPos::Center)
        .transform(FontTransform::Rotate270);
    if !fig.y_label.is_empty() {
        root.draw_text(
            &fig.y_label,
            &upright,
            round((baseline_x - m.top_to_baseline(FONT_PT), (tp + b) / 2.0)),
        )
        .map_err(|e| e.to_string())?;
    }
    if let Some(title) = &fig.title {
        // A long title shrinks to the figure's width rather than being cut off.
        let room = f64::from(w) - 2.0 * m.px(BORDER_PT);
        let natural = m.text_width(title, TITLE_PT);
        let pt = if natural > room {
            TITLE_PT * room / natural
        } else {
            TITLE_PT
        };
        let baseline = tp - m.px(TITLE_PAD_PT) - DESCENT_EM * m.px(TITLE_PT);
        text(
            root,
            &m,
            title,
            pt,
            HPos::Center,
            (f64::from(w) / 2.0, baseline),
        )?;
    }
    if let Some(parts) = parts {
        draw_key(root, &parts.key, &m, &lay)?;
    }
    Ok((lay.left, lay.top, lay.right, lay.bottom))
}

// ---------------------------------------------------------------------------
// Heatmaps (see `super::heatmap`): an image filling the axes box, and a
// colour key right of the axes (a colour bar, or square colour patches).

/// Colours of a grid of cells, row-major, row 0 at the top; drawn to fill
/// the axes box exactly (the figure's window is the cells' extent).
pub(crate) struct Raster {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<RGBColor>,
}

impl Raster {
    /// The colour of the cell under the fractions `(u, v)` of the box
    /// (0 at the left and top).
    fn at(&self, u: f64, v: f64) -> RGBColor {
        let col = ((u * self.width as f64).floor().max(0.0) as usize).min(self.width - 1);
        let row = ((v * self.height as f64).floor().max(0.0) as usize).min(self.height - 1);
        self.rgb[row * self.width + col]
    }
}

/// The key of a heatmap, right of the axes.
pub(crate) enum ColorKey {
    /// A colour bar: `colors` evenly from `range.0` (bottom) to `range.1`
    /// (top), with ticks and `label`; `patches` listed under it. `extend`
    /// (below, above): values beyond the range exist (drawn as triangles).
    Bar {
        colors: Vec<RGBColor>,
        range: (f64, f64),
        extend: (bool, bool),
        label: String,
        patches: Vec<LegendEntry>,
    },
    /// Square colour patches with labels, from the top.
    Patches(Vec<LegendEntry>),
}

/// What a heatmap adds to a [`Figure`].
pub(crate) struct HeatmapParts {
    pub raster: Raster,
    pub key: ColorKey,
}

/// Gap between the axes and the key.
const KEY_PAD_PT: f64 = 9.0;
/// Width of a colour bar.
const KEY_BAR_PT: f64 = 9.0;
/// Outline of a colour patch.
const PATCH_EDGE: RGBColor = RGBColor(0x80, 0x80, 0x80);

/// Sizes of a key for an axes box `height` pixels tall.
struct KeyLayout {
    width: f64,
    /// Font size of the patch labels (smaller when many rows must fit).
    patch_pt: f64,
    /// Height of the patch rows, gaps included.
    patches_height: f64,
    /// The colour bar's ticks and the width of its widest label.
    bar_ticks: Option<(Ticks, f64)>,
}

impl KeyLayout {
    fn new(key: &ColorKey, m: &Metrics, height: f64) -> KeyLayout {
        let patches = match key {
            ColorKey::Bar { patches, .. } | ColorKey::Patches(patches) => patches,
        };
        let rows = patches.len() as f64;
        // Rows, gaps between them, and one gap above them under a bar.
        let em_rows = |pt: f64| {
            let em = m.px(pt);
            rows * (ASCENT_EM + DESCENT_EM) * em + rows * LEGEND_LABEL_SPACING * em
        };
        let room = match key {
            ColorKey::Bar { .. } => 0.4 * height,
            ColorKey::Patches(_) => height,
        };
        let patch_pt = if rows > 0.0 && em_rows(LEGEND_FONT_PT) > room {
            LEGEND_FONT_PT * room / em_rows(LEGEND_FONT_PT)
        } else {
            LEGEND_FONT_PT
        };
        let patches_height = if rows > 0.0 { em_rows(patch_pt) } else { 0.0 };
        let pem = m.px(patch_pt);
        let widest_patch = patches
            .iter()
            .map(|e| m.text_width(&e.label, patch_pt))
            .fold(0.0, f64::max);
        let patches_width = if patches.is_empty() {
            0.0
        } else {
            ASCENT_EM * pem + LEGEND_HANDLE_TEXT_PAD * pem + widest_patch
        };
        let gap = m.px(KEY_PAD_PT);
        match key {
            ColorKey::Bar { range, label, .. } => {
                let em = m.px(FONT_PT);
                let bar_height = height - patches_height;
                let ticks = scale_ticks(
                    AxisScale::Linear,
                    *range,
                    Layout::nbins(bar_height, em, 2.0),
                );
                let widest = ticks
                    .labels
                    .iter()
                    .map(|l| m.text_width(l, FONT_PT))
                    .fold(0.0, f64::max);
                let mut bar_width =
                    m.px(KEY_BAR_PT) + m.px(TICK_LEN_PT) + m.px(TICK_PAD_PT) + widest;
                if !label.is_empty() {
                    bar_width += m.px(LABEL_PAD_PT) + (ASCENT_EM + DESCENT_EM) * em;
                }
                KeyLayout {
                    width: gap + bar_width.max(patches_width),
                    patch_pt,
                    patches_height,
                    bar_ticks: Some((ticks, widest)),
                }
            }
            ColorKey::Patches(_) => KeyLayout {
                width: gap + patches_width,
                patch_pt,
                patches_height,
                bar_ticks: None,
            },
        }
    }
}

/// The room a key takes right of the axes, for an axes box as the figure
/// would have without it.
fn key_width(key: &ColorKey, m: &Metrics, fig: &Figure, size: (u32, u32)) -> f64 {
    let probe = Layout::new(fig, m, size, 0.0);
    KeyLayout::new(key, m, probe.bottom - probe.top).width
}

/// A heatmap's figure is a quarter wider than the others, for its key.
fn wider((w, h): (u32, u32), parts: Option<&HeatmapParts>) -> (u32, u32) {
    match parts {
        Some(_) => (w * 5 / 4, h),
        None => (w, h),
    }
}

/// A filled triangle (device pixels).
fn triangle<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    corners: [(f64, f64); 3],
    color: RGBColor,
) -> Result<(), String> {
    let points: Vec<(i32, i32)> = corners.iter().map(|&p| round(p)).collect();
    root.draw(&Polygon::new(points, color.filled()))
        .map_err(|e| e.to_string())
}

/// Paints the raster into the axes box, pixel by pixel (bitmap output).
fn paint_raster<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    raster: &Raster,
    lay: &Layout,
) -> Result<(), String> {
    if raster.width == 0 || raster.height == 0 {
        return Ok(());
    }
    let (x0, x1) = (lay.left.round() as i32, lay.right.round() as i32);
    let (y0, y1) = (lay.top.round() as i32, lay.bottom.round() as i32);
    let (w, h) = (f64::from(x1 - x0 + 1), f64::from(y1 - y0 + 1));
    for py in y0..=y1 {
        let v = (f64::from(py - y0) + 0.5) / h;
        for px in x0..=x1 {
            let u = (f64::from(px - x0) + 0.5) / w;
            root.draw_pixel((px, py), &raster.at(u, v))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Draws the key right of the axes box.
fn draw_key<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    key: &ColorKey,
    m: &Metrics,
    lay: &Layout,
) -> Result<(), String> {
    let geometry = KeyLayout::new(key, m, lay.bottom - lay.top);
    let left = lay.right + m.px(KEY_PAD_PT);
    let thin = m.ipx(SPINE_PT);
    let (patches, patches_top) = match key {
        ColorKey::Bar {
            colors,
            range,
            extend,
            label,
            patches,
        } => {
            let (ticks, widest) = geometry.bar_ticks.as_ref().expect("a bar has ticks");
            let right = left + m.px(KEY_BAR_PT);
            // matplotlib's `extend` triangles, as tall as the bar is wide,
            // when values beyond the range are drawn in the end colours.
            let tip = right - left;
            let (top_tip, bottom_tip) = (lay.top, lay.bottom - geometry.patches_height);
            let top = top_tip + if extend.1 { tip } else { 0.0 };
            let bottom = bottom_tip - if extend.0 { tip } else { 0.0 };
            let middle = (left + right) / 2.0;
            let mut outline = vec![(left, top)];
            if extend.1 {
                outline.push((middle, top_tip));
                triangle(
                    root,
                    [(left, top), (middle, top_tip), (right, top)],
                    colors[colors.len() - 1],
                )?;
            }
            outline.extend([(right, top), (right, bottom)]);
            if extend.0 {
                outline.push((middle, bottom_tip));
                triangle(
                    root,
                    [(left, bottom), (middle, bottom_tip), (right, bottom)],
                    colors[0],
                )?;
            }
            outline.extend([(left, bottom), (left, top)]);
            // Bands from the top (high) down, each reaching to the bottom so
            // that the next one covers its lower edge: no seams.
            let bands = colors.len().min((bottom - top).round().max(1.0) as usize);
            for k in (0..bands).rev() {
                let y_hi = bottom - (bottom - top) * (k + 1) as f64 / bands as f64;
                let color = colors[(k * colors.len() + colors.len() / 2) / bands];
                root.draw(&Rectangle::new(
                    [round((left, y_hi)), round((right, bottom))],
                    color.filled(),
                ))
                .map_err(|e| e.to_string())?;
            }
            // Strokes clip to the box they are given: here the whole image.
            let (w, h) = root.dim_in_pixel();
            let everywhere = Layout {
                left: 0.0,
                top: 0.0,
                right: f64::from(w) - 1.0,
                bottom: f64::from(h) - 1.0,
                x: Ticks::default(),
                y: Ticks::default(),
            };
            stroke(root, m, &everywhere, &[outline], f64::from(thin), BLACK)?;
            let em = m.px(FONT_PT);
            let tick_len = m.px(TICK_LEN_PT);
            let label_gap = tick_len + m.px(TICK_PAD_PT);
            let span = range.1 - range.0;
            for (&t, text_label) in ticks.major.iter().zip(&ticks.labels) {
                let y = bottom - (t - range.0) / span * (bottom - top);
                bar(root, (right, y), (right + tick_len, y), thin, BLACK)?;
                text(
                    root,
                    m,
                    text_label,
                    FONT_PT,
                    HPos::Left,
                    (right + label_gap, y + CAP_EM * em / 2.0),
                )?;
            }
            if !label.is_empty() {
                let x_top = right + label_gap + widest + m.px(LABEL_PAD_PT);
                let upright = m
                    .text_style(FONT_PT, HPos::Center)
                    .transform(FontTransform::Rotate270);
                root.draw_text(label, &upright, round((x_top, (top + bottom) / 2.0)))
                    .map_err(|e| e.to_string())?;
            }
            let gap = LEGEND_LABEL_SPACING * m.px(geometry.patch_pt);
            (patches, bottom + gap)
        }
        ColorKey::Patches(patches) => (patches, lay.top),
    };
    let pem = m.px(geometry.patch_pt);
    let row = (ASCENT_EM + DESCENT_EM) * pem;
    let side = ASCENT_EM * pem;
    let edge = m.ipx(0.5);
    for (i, entry) in patches.iter().enumerate() {
        let row_top = patches_top + i as f64 * (row + LEGEND_LABEL_SPACING * pem);
        let top = row_top + (row - side) / 2.0;
        let (x1, y1) = (left + side, top + side);
        root.draw(&Rectangle::new(
            [round((left, top)), round((x1, y1))],
            entry.color.filled(),
        ))
        .map_err(|e| e.to_string())?;
        bar(root, (left, top), (left, y1), edge, PATCH_EDGE)?;
        bar(root, (x1, top), (x1, y1), edge, PATCH_EDGE)?;
        bar(root, (left, top), (x1, top), edge, PATCH_EDGE)?;
        bar(root, (left, y1), (x1, y1), edge, PATCH_EDGE)?;
        text(
            root,
            m,
            &entry.label,
            geometry.patch_pt,
            HPos::Left,
            (x1 + LEGEND_HANDLE_TEXT_PAD * pem, row_top + ASCENT_EM * pem),
        )?;
    }
    Ok(())
}

/// Most image pixels per layout pixel in an SVG's embedded image.
const SVG_IMAGE_DENSITY: f64 = 2.0;

/// Puts the raster into the SVG as an embedded PNG `<image>` filling the
/// axes box, right after the background (under everything else), drawn
/// with sharp cell edges. Rasters finer than twice the layout's pixels are
/// sampled down to that.
fn insert_svg_image(
    svg: &str,
    raster: &Raster,
    (left, top, right, bottom): (f64, f64, f64, f64),
) -> Result<String, String> {
    if raster.width == 0 || raster.height == 0 {
        return Ok(svg.to_string());
    }
    let k = SVG_OVERSAMPLE as f64;
    let cap = |cells: usize, px: f64| {
        cells
            .min((px / k * SVG_IMAGE_DENSITY).ceil() as usize)
            .max(1)
    };
    let (w, h) = (
        cap(raster.width, right - left),
        cap(raster.height, bottom - top),
    );
    let mut data = Vec::with_capacity(w * h * 3);
    for row in 0..h {
        let v = (row as f64 + 0.5) / h as f64;
        for col in 0..w {
            let c = raster.at((col as f64 + 0.5) / w as f64, v);
            data.extend_from_slice(&[c.0, c.1, c.2]);
        }
    }
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, w as u32, h as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(&data).map_err(|e| e.to_string())?;
    }
    let image = format!(
        "<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" preserveAspectRatio=\"none\" \
         image-rendering=\"optimizeSpeed\" style=\"image-rendering:pixelated\" \
         href=\"data:image/png;base64,{}\"/>\n",
        left.round(),
        top.round(),
        (right - left).round(),
        (bottom - top).round(),
        base64(&png_bytes)
    );
    // The first element after the <svg> tag is the white background.
    let background_end = svg
        .find("<svg")
        .and_then(|s| svg[s..].find("<rect").map(|r| s + r))
        .and_then(|r| svg[r..].find("/>").map(|e| r + e + 2))
        .ok_or("the SVG has no background to put the image on")?;
    let rest = &svg[background_end..];
    let rest = rest.strip_prefix('\n').unwrap_or(rest);
    Ok(format!("{}\n{image}{rest}", &svg[..background_end]))
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod heatmap_tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
