//! Figures on disk: formats, sizes, content, errors, and the accuracy of the
//! contour lines.

use std::path::{Path, PathBuf};

use downhill::plot::{
    auto_levels, isolines, path_2d, trace_1d, ContourSpec, Grid, ImageFormat, PNG_SIZE, SVG_SIZE,
};

/// A fresh scratch directory per test (no extra crates).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("downhill-plot-{}-{}", std::process::id(), name));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn square(x: f64) -> f64 {
    x * x
}

fn bowl(x1: f64, x2: f64) -> f64 {
    x1 * x1 + 2.0 * x2 * x2
}

/// The chapter's η = 0.2 run on x² from 10: 10 · 0.6^k.
fn gd_1d() -> Vec<f64> {
    (0..=10).map(|k| 10.0 * 0.6f64.powi(k)).collect()
}

/// The chapter's 2-D run: x ← x − 0.1 · (2 x1, 4 x2) from (−5, −2), 20 steps.
fn gd_2d(eta: f64) -> Vec<[f64; 2]> {
    let mut path = vec![[-5.0, -2.0]];
    for _ in 0..20 {
        let [a, b] = *path.last().unwrap();
        path.push([a - eta * 2.0 * a, b - eta * 4.0 * b]);
    }
    path
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

fn svg_text(path: &Path) -> String {
    let svg = std::fs::read_to_string(path).unwrap();
    assert!(svg.starts_with("<svg"), "an SVG document");
    svg
}

/// Whether the SVG has a `<text>` element whose content is `label`.
fn has_text(svg: &str, label: &str) -> bool {
    svg.split("<text").skip(1).any(|t| {
        t.split_once('>')
            .map(|(_, rest)| rest.trim_start().starts_with(&format!("{label}\n</text>")))
            == Some(true)
    })
}

#[test]
fn trace_1d_writes_svg_and_png() {
    let dir = Scratch::new("trace");
    let svg = dir.file("gd.svg");
    trace_1d(&square, &gd_1d(), Some("eta = 0.2"), &svg).unwrap();
    let text = svg_text(&svg);
    assert!(text.starts_with(&format!(
        "<svg width=\"{}\" height=\"{}\"",
        SVG_SIZE.0, SVG_SIZE.1
    )));
    for label in ["x", "f(x)", "eta = 0.2", "100", "\u{2212}10"] {
        assert!(has_text(&text, label), "label {label:?} in the SVG");
    }
    let upper = text.to_ascii_uppercase();
    assert!(upper.contains("#1F77B4"), "curve colour");
    assert!(upper.contains("#FF7F0E"), "iterate colour");
    assert!(text.contains("<circle"), "iterate markers");

    let png = dir.file("gd.PNG");
    trace_1d(&square, &gd_1d(), None, &png).unwrap();
    assert_eq!(png_size(&png), PNG_SIZE);
}

#[test]
fn path_2d_writes_svg_and_png() {
    let dir = Scratch::new("path");
    let svg = dir.file("gd2d.svg");
    path_2d(&bowl, &gd_2d(0.1), &ContourSpec::book_default(), None, &svg).unwrap();
    let text = svg_text(&svg);
    assert!(
        has_text(&text, "x1") && has_text(&text, "x2"),
        "axis labels"
    );
    let upper = text.to_ascii_uppercase();
    assert!(upper.contains("#FF7F0E"), "path colour");
    assert!(upper.contains("#1F77B4"), "contour colour");
    // 21 iterates, all inside the book's window, each with a marker.
    assert_eq!(text.matches("<circle").count(), 21);

    let png = dir.file("gd2d.png");
    let spec = ContourSpec::around(&gd_2d(0.1), ("x1", "x2"));
    path_2d(&bowl, &gd_2d(0.1), &spec, Some("around"), &png).unwrap();
    assert_eq!(png_size(&png), PNG_SIZE);
}

#[test]
fn unsupported_extensions_are_errors() {
    let dir = Scratch::new("ext");
    for name in ["gd.jpg", "gd", "gd.svg.txt"] {
        let p = dir.file(name);
        let err = trace_1d(&square, &gd_1d(), None, &p).unwrap_err();
        assert!(err.message.contains(&p.display().to_string()), "{err}");
        assert!(
            err.to_string().starts_with("cannot write figure '"),
            "{err}"
        );
        let err = path_2d(&bowl, &gd_2d(0.1), &ContourSpec::book_default(), None, &p);
        assert!(err.is_err());
        assert!(!p.exists(), "nothing written for {name}");
    }
    assert_eq!(
        ImageFormat::from_path(Path::new("A.Svg")).unwrap(),
        ImageFormat::Svg
    );
    assert_eq!(
        ImageFormat::from_path(Path::new("a.png")).unwrap(),
        ImageFormat::Png
    );
}

#[test]
fn unwritable_paths_are_errors() {
    let dir = Scratch::new("unwritable");
    for name in ["missing/gd.svg", "missing/gd.png"] {
        let p = dir.file(name);
        let err = trace_1d(&square, &gd_1d(), None, &p).unwrap_err();
        assert!(err.message.contains(&p.display().to_string()), "{err}");
        let err = path_2d(&bowl, &gd_2d(0.1), &ContourSpec::book_default(), None, &p).unwrap_err();
        assert!(err.message.contains(&p.display().to_string()), "{err}");
    }
    // A directory where the file should go.
    let p = dir.file("taken.png");
    std::fs::create_dir(&p).unwrap();
    assert!(trace_1d(&square, &gd_1d(), None, &p).is_err());
    let p = dir.file("taken.svg");
    std::fs::create_dir(&p).unwrap();
    assert!(trace_1d(&square, &gd_1d(), None, &p).is_err());
}

#[test]
fn nothing_to_plot_is_an_error() {
    let dir = Scratch::new("empty");
    let p = dir.file("e.svg");
    let err = trace_1d(&square, &[], None, &p).unwrap_err();
    assert!(err.message.contains("e.svg"), "{err}");
    assert!(trace_1d(&square, &[f64::NAN, f64::INFINITY], None, &p).is_err());
    assert!(trace_1d(&|_| f64::NAN, &[1.0, 2.0], None, &p).is_err());
    assert!(path_2d(&bowl, &[], &ContourSpec::book_default(), None, &p).is_err());
    let bad = ContourSpec {
        step: 0.0,
        ..ContourSpec::book_default()
    };
    assert!(path_2d(&bowl, &gd_2d(0.1), &bad, None, &p).is_err());
    let tiny = ContourSpec {
        x1_range: (0.0, 0.1),
        ..ContourSpec::book_default()
    };
    assert!(path_2d(&bowl, &gd_2d(0.1), &tiny, None, &p).is_err());
    assert!(!p.exists());
}

#[test]
fn diverging_and_non_finite_data_do_not_panic() {
    let dir = Scratch::new("wild");
    // η = 1.1 diverges; then far away and non-finite iterates.
    let mut xs = vec![10.0];
    for _ in 0..10 {
        let x = xs.last().unwrap();
        xs.push(x - 1.1 * 2.0 * x);
    }
    xs.extend([1e150, f64::NAN, -f64::INFINITY, 3.0]);
    for ext in ["svg", "png"] {
        trace_1d(&square, &xs, None, &dir.file(&format!("wild.{ext}"))).unwrap();
        // f undefined on part of the range.
        trace_1d(
            &|x: f64| x.ln(),
            &[-2.0, 0.5, 2.0],
            None,
            &dir.file(&format!("log.{ext}")),
        )
        .unwrap();
        trace_1d(&square, &[0.0], None, &dir.file(&format!("zero.{ext}"))).unwrap();
        trace_1d(&|_| 3.0, &[1.0], None, &dir.file(&format!("flat.{ext}"))).unwrap();

        // η = 0.6 diverges out of the window; add junk points.
        let mut path = gd_2d(0.6);
        path.extend([
            [f64::NAN, 0.0],
            [1e300, -1e300],
            [f64::MAX, f64::MIN],
            [0.0, 0.0],
        ]);
        let holes = |a: f64, b: f64| if a > 0.0 { f64::NAN } else { bowl(a, b) };
        let spec = ContourSpec::book_default();
        path_2d(
            &holes,
            &path,
            &spec,
            None,
            &dir.file(&format!("wild2d.{ext}")),
        )
        .unwrap();
        // A window around points near ±f64::MAX does not fit in f64: an
        // error, not a panic. Around 1e300 it still works.
        let around = ContourSpec::around(&path, ("x1", "x2"));
        assert!(path_2d(
            &bowl,
            &path,
            &around,
            None,
            &dir.file(&format!("max.{ext}"))
        )
        .is_err());
        let far = [[-5.0, -2.0], [1e300, -1e300], [f64::NAN, 1.0]];
        let around = ContourSpec::around(&far, ("x1", "x2"));
        path_2d(
            &bowl,
            &far,
            &around,
            None,
            &dir.file(&format!("around.{ext}")),
        )
        .unwrap();
        path_2d(
            &|_, _| 1.0,
            &[[0.0, 0.0]],
            &spec,
            None,
            &dir.file(&format!("flat2d.{ext}")),
        )
        .unwrap();
    }
}

#[test]
fn contour_lines_lie_on_their_level_and_stop_at_the_border() {
    let spec = ContourSpec::book_default();
    let grid = Grid::sample(&bowl, &spec).unwrap();
    assert_eq!((grid.x1.len(), grid.x2.len()), (65, 40));
    let (lo1, hi1) = (grid.x1[0], *grid.x1.last().unwrap());
    let (lo2, hi2) = (grid.x2[0], *grid.x2.last().unwrap());
    let on_border = |p: [f64; 2]| {
        [
            (p[0] - lo1).abs(),
            (p[0] - hi1).abs(),
            (p[1] - lo2).abs(),
            (p[1] - hi2).abs(),
        ]
        .map(|d| d < 1e-9)
    };
    let levels = [0.5, 3.0, 8.0, 20.0, 33.3, 48.0];
    for level in levels {
        let lines = isolines(&grid, level);
        assert!(!lines.is_empty(), "level {level}");
        for line in &lines {
            assert!(line.len() >= 2);
            for &p in line {
                // Linear interpolation of a quadratic over a 0.1 cell: error
                // at most f''·h²/8 = 4 · 0.01 / 8.
                assert!(
                    (bowl(p[0], p[1]) - level).abs() <= 0.005 + 1e-9,
                    "level {level}: f{p:?} = {}",
                    bowl(p[0], p[1])
                );
                assert!(p[0] >= lo1 - 1e-9 && p[0] <= hi1 + 1e-9, "{p:?} inside");
                assert!(p[1] >= lo2 - 1e-9 && p[1] <= hi2 + 1e-9, "{p:?} inside");
            }
            for pair in line.windows(2) {
                let (a, b) = (on_border(pair[0]), on_border(pair[1]));
                assert!(
                    !(0..4).any(|k| a[k] && b[k]),
                    "level {level}: segment {:?} runs along the border",
                    pair
                );
            }
        }
    }
    // Small levels are whole ellipses inside the window (x1 <= 0.9): closed
    // rings.
    for level in [0.3, 0.5] {
        let lines = isolines(&grid, level);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].first(), lines[0].last(), "closed");
    }
    // Levels 3 and 8 leave the window (through the top and the right
    // border): one open line each, both ends on the border, not split in two
    // at the ring's seam.
    for level in [3.0, 8.0] {
        let lines = isolines(&grid, level);
        assert_eq!(lines.len(), 1, "level {level}");
        for line in &lines {
            assert!(on_border(line[0]).iter().any(|&b| b));
            assert!(on_border(*line.last().unwrap()).iter().any(|&b| b));
        }
    }
    // An ellipse cut by the right border only, around a maximum, whose
    // marching-squares ring starts inside the window: still one line.
    let cap = |a: f64, b: f64| -((a - 0.5).powi(2) + 2.0 * (b + 1.0).powi(2));
    let grid = Grid::sample(&cap, &spec).unwrap();
    let lines = isolines(&grid, -1.0);
    assert_eq!(lines.len(), 1);
    assert!(on_border(lines[0][0])[1] && on_border(*lines[0].last().unwrap())[1]);
}

#[test]
fn contour_levels_match_matplotlib() {
    let grid = Grid::sample(&bowl, &ContourSpec::book_default()).unwrap();
    assert_eq!(
        auto_levels(&grid.values),
        [8.0, 16.0, 24.0, 32.0, 40.0, 48.0]
    );
}

#[test]
fn isolines_skip_non_finite_samples() {
    let spec = ContourSpec::book_default();
    let holes = |a: f64, b: f64| if a > -1.0 { f64::NAN } else { bowl(a, b) };
    let grid = Grid::sample(&holes, &spec).unwrap();
    let lines = isolines(&grid, 8.0);
    assert!(!lines.is_empty());
    for &p in lines.iter().flatten() {
        assert!(p[0].is_finite() && p[1].is_finite());
        assert!(p[0] <= -1.0, "{p:?} is in a cell with a NaN sample");
        assert!((bowl(p[0], p[1]) - 8.0).abs() <= 0.005 + 1e-9);
    }
    assert!(isolines(&grid, f64::NAN).is_empty());
}

#[test]
fn around_windows_contain_the_path() {
    let path = gd_2d(0.1);
    let spec = ContourSpec::around(&path, ("a", "b"));
    assert_eq!(spec.labels, ("a".to_string(), "b".to_string()));
    for p in &path {
        assert!(p[0] > spec.x1_range.0 && p[0] < spec.x1_range.1 - spec.step);
        assert!(p[1] > spec.x2_range.0 && p[1] < spec.x2_range.1 - spec.step);
    }
    let grid = Grid::sample(&bowl, &spec).unwrap();
    assert_eq!(grid.x1.len().max(grid.x2.len()), 100);
    // A single point still gets a usable window.
    let one = ContourSpec::around(&[[3.0, 4.0]], ("x1", "x2"));
    assert!(Grid::sample(&bowl, &one).is_ok());
    // A path along one axis gets a window a tenth as tall as it is wide.
    let flat = ContourSpec::around(&[[0.0, 1.0], [10.0, 1.0]], ("x1", "x2"));
    let g = Grid::sample(&bowl, &flat).unwrap();
    assert_eq!((g.x1.len(), g.x2.len()), (100, 10));
}
