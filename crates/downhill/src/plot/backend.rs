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
use plotters::element::{Circle, PathElement, Rectangle};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{
    register_font, Color, FontStyle, FontTransform, IntoFont, RGBColor, ShapeStyle, TextStyle,
    BLACK, WHITE,
};

use super::geometry::{simplify, Window};
use super::ticks::{axis_ticks, tick_labels};
use super::{ImageFormat, PlotError};

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
const GRID: RGBColor = RGBColor(0xb0, 0xb0, 0xb0);

/// Pixels per typographic point at 1× (160 dpi).
const PX_PER_PT: f64 = 160.0 / 72.0;
// matplotlib's default rc values, in points.
const FONT_PT: f64 = 10.0;
const TITLE_PT: f64 = 12.0;
const LINE_PT: f64 = 1.5;
const MARKER_RADIUS_PT: f64 = 3.0;
const SPINE_PT: f64 = 0.8;
const TICK_LEN_PT: f64 = 3.5;
const TICK_PAD_PT: f64 = 3.5;
const LABEL_PAD_PT: f64 = 4.0;
const TITLE_PAD_PT: f64 = 6.0;
const BORDER_PT: f64 = 7.2; // bbox_inches="tight" pads by 0.1 in

/// One drawing layer, in data coordinates.
pub(crate) enum Layer {
    /// Polylines (each clipped to the window when drawn; non-finite points
    /// break a line).
    Lines {
        lines: Vec<Vec<[f64; 2]>>,
        color: RGBColor,
    },
    /// Filled circle markers; points outside the window are not drawn.
    Markers {
        points: Vec<[f64; 2]>,
        color: RGBColor,
    },
}

/// One axes: view limits, labels, and the layers drawn in order.
pub(crate) struct Figure {
    pub window: Window,
    pub x_label: String,
    pub y_label: String,
    pub title: Option<String>,
    /// Light grid lines at the major ticks (d2l's `axes.grid()`).
    pub grid: bool,
    pub layers: Vec<Layer>,
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
    x_ticks: Vec<f64>,
    y_ticks: Vec<f64>,
    x_labels: Vec<String>,
    y_labels: Vec<String>,
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
    fn x_axis(fig: &Figure, m: &Metrics, len: f64) -> (Vec<f64>, Vec<String>) {
        let em = m.px(FONT_PT);
        let range = fig.window.x.1 - fig.window.x.0;
        let mut nbins = Self::nbins(len, em, 3.0);
        loop {
            let ticks = axis_ticks(fig.window.x, nbins);
            let labels = tick_labels(&ticks);
            let spacing = match ticks.as_slice() {
                [a, b, ..] => (b - a) / range * len,
                _ => f64::INFINITY,
            };
            let widest = labels
                .iter()
                .map(|l| m.text_width(l, FONT_PT))
                .fold(0.0, f64::max);
            if nbins == 1 || widest + em <= spacing {
                return (ticks, labels);
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
            let (x_ticks, x_labels) = Self::x_axis(fig, m, right - left);
            let y_ticks = axis_ticks(fig.window.y, Self::nbins(bottom - top, em, 2.0));
            let y_labels = tick_labels(&y_ticks);
            let widest = y_labels
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
            let overhang = match (x_ticks.last(), x_labels.last()) {
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
                x_ticks,
                y_ticks,
                x_labels,
                y_labels,
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
        for &x in &lay.x_ticks {
            let px = lay.px_x(win, x);
            bar(root, (px, lay.top), (px, lay.bottom), thin, GRID)?;
        }
        for &y in &lay.y_ticks {
            let py = lay.px_y(win, y);
            bar(root, (lay.left, py), (lay.right, py), thin, GRID)?;
        }
    }

    for layer in &fig.layers {
        match layer {
            Layer::Lines { lines, color } => {
                let pieces = lines.iter().flat_map(|line| win.clip_polyline(line));
                if m.raster {
                    let mut cov = Coverage::new((w, h), &lay);
                    for piece in pieces {
                        for pair in piece.windows(2) {
                            let (a, b) = (lay.px(win, pair[0]), lay.px(win, pair[1]));
                            cov.segment(a, b, m.px(LINE_PT) / 2.0);
                        }
                    }
                    cov.blend(root, *color)?;
                } else {
                    let style = ShapeStyle {
                        color: color.to_rgba(),
                        filled: false,
                        stroke_width: m.ipx(LINE_PT) as u32,
                    };
                    for piece in pieces {
                        let exact: Vec<(f64, f64)> =
                            piece.iter().map(|&p| lay.px(win, p)).collect();
                        let mut pixels: Vec<(i32, i32)> =
                            simplify(&exact, 0.5).into_iter().map(round).collect();
                        pixels.dedup();
                        if pixels.len() >= 2 {
                            root.draw(&PathElement::new(pixels, style))
                                .map_err(|e| e.to_string())?;
                        }
                    }
                }
            }
            Layer::Markers { points, color } => {
                let inside = points.iter().filter(|&&p| win.contains(p));
                let r = m.px(MARKER_RADIUS_PT);
                if m.raster {
                    let mut cov = Coverage::new((w, h), &lay);
                    for &p in inside {
                        let c = lay.px(win, p);
                        cov.segment(c, c, r);
                    }
                    cov.blend(root, *color)?;
                } else {
                    for &p in inside {
                        let circle =
                            Circle::new(round(lay.px(win, p)), r.round() as i32, color.filled());
                        root.draw(&circle).map_err(|e| e.to_string())?;
                    }
                }
            }
        }
    }

    // Spines on top of the data, as in matplotlib.
    let (l, r, tp, b) = (lay.left, lay.right, lay.top, lay.bottom);
    bar(root, (l, tp), (l, b), thin, BLACK)?;
    bar(root, (r, tp), (r, b), thin, BLACK)?;
    bar(root, (l, tp), (r, tp), thin, BLACK)?;
    bar(root, (l, b), (r, b), thin, BLACK)?;

    // Outward ticks and their labels: x labels hang below, y labels are
    // centred on their tick (digits are CAP_EM tall).
    let em = m.px(FONT_PT);
    let tick_len = m.px(TICK_LEN_PT);
    let label_gap = tick_len + m.px(TICK_PAD_PT);
    for (&x, label) in lay.x_ticks.iter().zip(&lay.x_labels) {
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
    for (&y, label) in lay.y_ticks.iter().zip(&lay.y_labels) {
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
    text(
        root,
        &m,
        &fig.x_label,
        FONT_PT,
        HPos::Center,
        ((l + r) / 2.0, x_label_top + ASCENT_EM * em),
    )?;
    let widest = lay
        .y_labels
        .iter()
        .map(|s| m.text_width(s, FONT_PT))
        .fold(0.0, f64::max);
    // Rotated a quarter turn anticlockwise, the text's "down" is the
    // image's +x: the baseline sits right of the anchor.
    let baseline_x = l - label_gap - widest - m.px(LABEL_PAD_PT) - DESCENT_EM * em;
    let upright = m
        .text_style(FONT_PT, HPos::Center)
        .transform(FontTransform::Rotate270);
    root.draw_text(
        &fig.y_label,
        &upright,
        round((baseline_x - m.top_to_baseline(FONT_PT), (tp + b) / 2.0)),
    )
    .map_err(|e| e.to_string())?;
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
