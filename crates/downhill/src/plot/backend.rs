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
    let format = ImageFormat::from_path(path)?;
    check_window(fig.window).map_err(|reason| PlotError::new(path, reason))?;
    fonts_ready().map_err(|reason| PlotError::new(path, reason))?;
    match format {
        ImageFormat::Svg => {
            // plotters' SVG coordinates are integers, which makes curves
            // wobble by up to half a pixel; draw on a 10× canvas and declare
            // the real size, so the viewBox scales it down to 0.1 px steps.
            let (w, h) = SVG_SIZE;
            let fine = (w * SVG_OVERSAMPLE, h * SVG_OVERSAMPLE);
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, fine).into_drawing_area();
                draw(&root, fig, Metrics::SVG).map_err(|reason| PlotError::new(path, reason))?;
                root.present()
                    .map_err(|e| PlotError::new(path, e.to_string()))?;
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
            let root = BitMapBackend::new(path, PNG_SIZE).into_drawing_area();
            draw(&root, fig, Metrics::PNG).map_err(|reason| PlotError::new(path, reason))?;
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

    fn new(fig: &Figure, m: &Metrics, size: (u32, u32)) -> Layout {
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
            right = w - border - overhang;
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

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &Figure,
    m: Metrics,
) -> Result<(), String> {
    let (w, h) = root.dim_in_pixel();
    let lay = Layout::new(fig, &m, (w, h));
    let win = &fig.window;
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let thin = m.ipx(SPINE_PT);

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
    Ok(())
}
