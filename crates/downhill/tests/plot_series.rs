//! Several series in one figure: `paths_2d` (paths over contours) and
//! `line_chart` (linear and log axes), written to disk.

use std::path::{Path, PathBuf};

use downhill::plot::{
    line_chart, paths_2d, AxisScale, ContourSpec, LineChart, Series, PNG_SIZE, SVG_SIZE,
};

/// A fresh scratch directory per test (no extra crates).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("downhill-series-{}-{}", std::process::id(), name));
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
    assert!(
        svg.starts_with(&format!(
            "<svg width=\"{}\" height=\"{}\"",
            SVG_SIZE.0, SVG_SIZE.1
        )),
        "an SVG document of the figure's size"
    );
    svg
}

/// The contents of the SVG's `<text>` elements.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let (_, rest) = t.split_once('>')?;
            let (body, _) = rest.split_once("</text>")?;
            Some(body.trim().to_string())
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The chapter's exercise 5: four methods on f = 0.1 x1² + 2 x2² from (−5, −2).

fn f(x1: f64, x2: f64) -> f64 {
    0.1 * x1 * x1 + 2.0 * x2 * x2
}

fn grad(x: [f64; 2]) -> [f64; 2] {
    [0.2 * x[0], 4.0 * x[1]]
}

/// 20 steps of `step(x, g, state)` from (−5, −2).
fn run(mut step: impl FnMut([f64; 2], [f64; 2]) -> [f64; 2]) -> Vec<[f64; 2]> {
    let mut path = vec![[-5.0, -2.0]];
    for _ in 0..20 {
        let x = *path.last().unwrap();
        path.push(step(x, grad(x)));
    }
    path
}

fn four_methods() -> Vec<(&'static str, Vec<[f64; 2]>)> {
    let eta = 0.4;
    let gd = run(|x, g| [x[0] - eta * g[0], x[1] - eta * g[1]]);
    let mut v = [0.0; 2];
    let momentum = run(|x, g| {
        v = [0.5 * v[0] + g[0], 0.5 * v[1] + g[1]];
        [x[0] - eta * v[0], x[1] - eta * v[1]]
    });
    let mut s = [0.0; 2];
    let adagrad = run(|x, g| {
        s = [s[0] + g[0] * g[0], s[1] + g[1] * g[1]];
        [
            x[0] - eta / (s[0] + 1e-6).sqrt() * g[0],
            x[1] - eta / (s[1] + 1e-6).sqrt() * g[1],
        ]
    });
    let mut s = [0.0; 2];
    let gamma = 0.9;
    let rmsprop = run(|x, g| {
        s = [
            gamma * s[0] + (1.0 - gamma) * g[0] * g[0],
            gamma * s[1] + (1.0 - gamma) * g[1] * g[1],
        ];
        [
            x[0] - eta / (s[0] + 1e-6).sqrt() * g[0],
            x[1] - eta / (s[1] + 1e-6).sqrt() * g[1],
        ]
    });
    vec![
        ("gd", gd),
        ("momentum", momentum),
        ("adagrad", adagrad),
        ("rmsprop", rmsprop),
    ]
}

fn exercise_spec() -> ContourSpec {
    ContourSpec {
        x2_range: (-3.0, 1.5),
        ..ContourSpec::book_default()
    }
}

fn as_series<'a>(runs: &'a [(&'static str, Vec<[f64; 2]>)]) -> Vec<Series<'a>> {
    runs.iter()
        .map(|(label, points)| Series { label, points })
        .collect()
}

// ---------------------------------------------------------------------------
// Convergence: Newton on cosh(x/2) from 10 and gradient descent on x².

/// Newton's |x_k| on cosh(x/2): x ← x − f'/f'' = x − 2 tanh(x/2), from 10.
fn newton_errors() -> Vec<[f64; 2]> {
    let mut x = 10.0f64;
    let mut out = Vec::new();
    for k in 0..=10 {
        out.push([f64::from(k), x.abs()]);
        x -= 2.0 * (x / 2.0).tanh();
    }
    out
}

/// Gradient descent on x² with η = 0.2 from 10: e_k = 10 · 0.6^k.
fn gd_errors() -> Vec<[f64; 2]> {
    (0..=10)
        .map(|k| [f64::from(k), 10.0 * 0.6f64.powi(k)])
        .collect()
}

/// Made-up iteration counts against a condition-number ratio r = 1..1000.
fn iterations() -> (Vec<[f64; 2]>, Vec<[f64; 2]>) {
    let rs = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];
    let gd = rs.iter().map(|&r: &f64| [r, (4.6 * r).ceil()]).collect();
    let momentum = rs
        .iter()
        .map(|&r: &f64| [r, (4.6 * r.sqrt() * 2.0).ceil()])
        .collect();
    (gd, momentum)
}

/// Where to keep the gallery: `$DOWNHILL_PLOT_GALLERY` if set (to look at
/// the figures), else a scratch directory.
fn gallery_dir(scratch: &Scratch) -> PathBuf {
    match std::env::var_os("DOWNHILL_PLOT_GALLERY") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).unwrap();
            dir
        }
        None => scratch.0.clone(),
    }
}

#[test]
fn gallery_of_the_chapter_figures() {
    let scratch = Scratch::new("gallery");
    let dir = gallery_dir(&scratch);
    let runs = four_methods();
    let series = as_series(&runs);
    let (gd_n, momentum_n) = iterations();
    let (newton, gd) = (newton_errors(), gd_errors());
    let convergence = [
        Series {
            label: "Newton, cosh(x/2)",
            points: &newton,
        },
        Series {
            label: "gd η = 0.2, x²",
            points: &gd,
        },
    ];
    let scaling = [
        Series {
            label: "gradient descent",
            points: &gd_n,
        },
        Series {
            label: "momentum",
            points: &momentum_n,
        },
    ];
    for ext in ["svg", "png"] {
        paths_2d(
            &f,
            &series,
            &exercise_spec(),
            Some("all methods, η = 0.4"),
            &dir.join(format!("paths.{ext}")),
        )
        .unwrap();
        let chart = LineChart {
            series: &convergence,
            x_label: "k",
            y_label: "error |x_k − x*|",
            x_scale: AxisScale::Linear,
            y_scale: AxisScale::Log10,
            title: Some("convergence"),
        };
        line_chart(&chart, &dir.join(format!("errors.{ext}"))).unwrap();
        let chart = LineChart {
            series: &scaling,
            x_label: "ratio r",
            y_label: "iterations",
            x_scale: AxisScale::Log10,
            y_scale: AxisScale::Log10,
            title: None,
        };
        line_chart(&chart, &dir.join(format!("loglog.{ext}"))).unwrap();
    }
    assert_eq!(png_size(&dir.join("paths.png")), PNG_SIZE);
    assert_eq!(png_size(&dir.join("errors.png")), PNG_SIZE);
    assert_eq!(png_size(&dir.join("loglog.png")), PNG_SIZE);

    // Harder cases to look at: a diverging path, a long log-log series,
    // ten decades, and a range inside one decade.
    let mut diverging = vec![[-5.0, -2.0]];
    for _ in 0..20 {
        let [a, b] = *diverging.last().unwrap();
        diverging.push([a - 0.6 * 0.2 * a, b - 0.6 * 4.0 * b]);
    }
    let wild = [
        Series {
            label: "η = 0.6 (diverges)",
            points: &diverging,
        },
        series[0],
    ];
    paths_2d(
        &f,
        &wild,
        &ContourSpec::book_default(),
        None,
        &dir.join("wild.png"),
    )
    .unwrap();
    let long: Vec<[f64; 2]> = (1..=1000)
        .map(|r| [f64::from(r), 3.0 * f64::from(r).powf(0.8)])
        .collect();
    let decades: Vec<[f64; 2]> = (0..=10)
        .map(|k| [f64::from(k), 10f64.powi(2 - k)])
        .collect();
    let narrow = [[1.0, 2.0], [2.0, 3.5], [3.0, 5.0], [4.0, 9.0]];
    let charts = [
        ("long", AxisScale::Log10, &long[..]),
        ("decades", AxisScale::Linear, &decades[..]),
        ("narrow", AxisScale::Linear, &narrow[..]),
    ];
    for (name, x_scale, points) in charts {
        let series = [Series { label: "", points }];
        let chart = LineChart {
            series: &series,
            x_label: "x",
            y_label: "y",
            x_scale,
            y_scale: AxisScale::Log10,
            title: None,
        };
        line_chart(&chart, &dir.join(format!("{name}.png"))).unwrap();
    }
}

#[test]
fn paths_2d_writes_legend_and_colours() {
    let dir = Scratch::new("paths");
    let runs = four_methods();
    let series = as_series(&runs);
    let svg = dir.file("paths.svg");
    paths_2d(&f, &series, &exercise_spec(), Some("all"), &svg).unwrap();
    let text = svg_text(&svg);
    let labels = texts(&text);
    for label in ["gd", "momentum", "adagrad", "rmsprop", "x1", "x2", "all"] {
        assert!(labels.iter().any(|l| l == label), "{label:?} in {labels:?}");
    }
    let upper = text.to_ascii_uppercase();
    for colour in ["#FF7F0E", "#2CA02C", "#D62728", "#9467BD"] {
        assert!(upper.contains(colour), "path colour {colour}");
    }
    // The contours are light, not C0.
    assert!(upper.contains("#A5C9E1"), "light contour colour");
    assert!(!upper.contains("#1F77B4"), "no C0 in a paths figure");
    // A marker per point inside the window, plus one swatch per legend row.
    let window = exercise_spec();
    let inside = runs
        .iter()
        .flat_map(|(_, p)| p)
        .filter(|p| {
            p[0] >= window.x1_range.0
                && p[0] <= 0.9 + 1e-9
                && p[1] >= window.x2_range.0
                && p[1] <= 1.4 + 1e-9
        })
        .count();
    assert_eq!(text.matches("<circle").count(), inside + 4);

    let png = dir.file("paths.png");
    paths_2d(&f, &series, &exercise_spec(), None, &png).unwrap();
    assert_eq!(png_size(&png), PNG_SIZE);
}

#[test]
fn paths_2d_cycles_colours_and_skips_empty_labels() {
    let dir = Scratch::new("cycle");
    let points: Vec<Vec<[f64; 2]>> = (0..11)
        .map(|i| vec![[-5.0 + 0.4 * f64::from(i), -2.0], [0.0, 0.0]])
        .collect();
    let labels: Vec<String> = (0..11).map(|i| format!("path {i}")).collect();
    let mut series: Vec<Series<'_>> = points
        .iter()
        .zip(&labels)
        .map(|(p, l)| Series {
            label: l,
            points: p,
        })
        .collect();
    series[3].label = "";
    let svg = dir.file("cycle.svg");
    paths_2d(&f, &series, &ContourSpec::book_default(), None, &svg).unwrap();
    let text = svg_text(&svg);
    let upper = text.to_ascii_uppercase();
    for colour in [
        "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2", "#7F7F7F", "#BCBD22",
        "#17BECF",
    ] {
        assert!(upper.contains(colour), "path colour {colour}");
    }
    let shown = texts(&text);
    assert!(shown.iter().any(|t| t == "path 10"));
    assert!(!shown.iter().any(|t| t == "path 3"), "empty label left out");
}

#[test]
fn paths_leaving_the_window_and_junk_points_are_fine() {
    let dir = Scratch::new("wild");
    let mut diverging = vec![[-5.0, -2.0]];
    for _ in 0..20 {
        let [a, b] = *diverging.last().unwrap();
        diverging.push([a - 0.6 * 0.2 * a, b - 0.6 * 4.0 * b]);
    }
    let junk = vec![
        [f64::NAN, 0.0],
        [1e300, -1e300],
        [f64::MAX, f64::MIN],
        [-1.0, 0.5],
        [f64::INFINITY, 1.0],
    ];
    let empty: Vec<[f64; 2]> = Vec::new();
    let series = [
        Series {
            label: "diverging",
            points: &diverging,
        },
        Series {
            label: "junk",
            points: &junk,
        },
        Series {
            label: "empty",
            points: &empty,
        },
    ];
    for ext in ["svg", "png"] {
        paths_2d(
            &f,
            &series,
            &ContourSpec::book_default(),
            None,
            &dir.file(&format!("wild.{ext}")),
        )
        .unwrap();
    }
}

#[test]
fn line_chart_writes_legend_colours_and_log_ticks() {
    let dir = Scratch::new("chart");
    let (newton, gd) = (newton_errors(), gd_errors());
    let series = [
        Series {
            label: "Newton",
            points: &newton,
        },
        Series {
            label: "gd",
            points: &gd,
        },
    ];
    let chart = LineChart {
        series: &series,
        x_label: "k",
        y_label: "error",
        x_scale: AxisScale::Linear,
        y_scale: AxisScale::Log10,
        title: Some("convergence"),
    };
    let svg = dir.file("errors.svg");
    line_chart(&chart, &svg).unwrap();
    let text = svg_text(&svg);
    let shown = texts(&text);
    for label in ["Newton", "gd", "k", "error", "convergence", "10⁰"] {
        assert!(shown.iter().any(|t| t == label), "{label:?} in {shown:?}");
    }
    let upper = text.to_ascii_uppercase();
    assert!(upper.contains("#1F77B4") && upper.contains("#FF7F0E"));
    let png = dir.file("errors.png");
    line_chart(&chart, &png).unwrap();
    assert_eq!(png_size(&png), PNG_SIZE);
}

#[test]
fn log_axis_spanning_1e_minus_8_to_1e2_labels_powers_of_ten() {
    let dir = Scratch::new("decades");
    // 1e2 down to 1e-8, one point per decade, plus values a log axis cannot
    // show.
    let mut points: Vec<[f64; 2]> = (0..=10)
        .map(|k| [f64::from(k), 10f64.powi(2 - k)])
        .collect();
    points.extend([[11.0, 0.0], [12.0, -1.0], [13.0, f64::NAN]]);
    let series = [Series {
        label: "",
        points: &points,
    }];
    let chart = LineChart {
        series: &series,
        x_label: "k",
        y_label: "e_k",
        x_scale: AxisScale::Linear,
        y_scale: AxisScale::Log10,
        title: None,
    };
    let svg = dir.file("decades.svg");
    line_chart(&chart, &svg).unwrap();
    let shown = texts(&svg_text(&svg));
    let decades: Vec<&String> = shown.iter().filter(|t| t.starts_with("10")).collect();
    // At least every other decade, ends included, and nothing else.
    for label in ["10⁻⁸", "10⁻⁶", "10⁻⁴", "10⁻²", "10⁰", "10²"] {
        assert!(shown.iter().any(|t| t == label), "{label:?} in {shown:?}");
    }
    assert!(decades.len() >= 6, "{decades:?}");
    // No legend for a single unlabelled series.
    assert!(!shown.iter().any(|t| t.is_empty()));
    let png = dir.file("decades.png");
    line_chart(&chart, &png).unwrap();
    assert_eq!(png_size(&png), PNG_SIZE);

    // Log on both axes with zeros, negatives and infinities: no panic.
    let wild = [
        [0.0, 1.0],
        [-1.0, 5.0],
        [1.0, 0.0],
        [2.0, 3.0],
        [f64::INFINITY, 2.0],
        [1000.0, 1e-300],
        [5.0, f64::MAX],
    ];
    let series = [Series {
        label: "wild",
        points: &wild,
    }];
    for ext in ["svg", "png"] {
        let chart = LineChart {
            series: &series,
            x_label: "r",
            y_label: "n",
            x_scale: AxisScale::Log10,
            y_scale: AxisScale::Log10,
            title: None,
        };
        line_chart(&chart, &dir.file(&format!("wild.{ext}"))).unwrap();
        // One point only, and a range inside one decade.
        let one = [[3.0, 3.0]];
        let narrow = [[2.0, 2.0], [3.0, 5.0], [4.0, 9.0]];
        for points in [&one[..], &narrow[..]] {
            let series = [Series { label: "", points }];
            let chart = LineChart {
                series: &series,
                ..chart
            };
            line_chart(&chart, &dir.file(&format!("small.{ext}"))).unwrap();
        }
    }
}

#[test]
fn long_series_thin_their_markers() {
    let dir = Scratch::new("long");
    let points: Vec<[f64; 2]> = (1..=1000)
        .map(|r| [f64::from(r), f64::from(r).powf(0.8)])
        .collect();
    let series = [Series {
        label: "n(r)",
        points: &points,
    }];
    let chart = LineChart {
        series: &series,
        x_label: "r",
        y_label: "n",
        x_scale: AxisScale::Log10,
        y_scale: AxisScale::Log10,
        title: None,
    };
    let svg = dir.file("long.svg");
    line_chart(&chart, &svg).unwrap();
    let circles = svg_text(&svg).matches("<circle").count();
    assert!((10..200).contains(&circles), "{circles} markers");
}

#[test]
fn nothing_to_plot_is_an_error() {
    let dir = Scratch::new("empty");
    let p = dir.file("e.svg");
    let err = paths_2d(&f, &[], &ContourSpec::book_default(), None, &p).unwrap_err();
    assert!(err.message.contains("e.svg"), "{err}");
    let nan = [[f64::NAN, 1.0], [f64::INFINITY, 0.0]];
    let empty: [[f64; 2]; 0] = [];
    let bad = [
        Series {
            label: "nan",
            points: &nan,
        },
        Series {
            label: "empty",
            points: &empty,
        },
    ];
    assert!(paths_2d(&f, &bad, &ContourSpec::book_default(), None, &p).is_err());

    let chart = LineChart {
        series: &[],
        x_label: "x",
        y_label: "y",
        x_scale: AxisScale::Linear,
        y_scale: AxisScale::Linear,
        title: None,
    };
    assert!(line_chart(&chart, &p).is_err());
    let chart = LineChart {
        series: &bad,
        ..chart
    };
    assert!(line_chart(&chart, &p).is_err());
    // Only non-positive values on a log axis: nothing to plot.
    let negative = [[1.0, -1.0], [2.0, 0.0]];
    let series = [Series {
        label: "neg",
        points: &negative,
    }];
    let chart = LineChart {
        series: &series,
        y_scale: AxisScale::Log10,
        ..chart
    };
    let err = line_chart(&chart, &p).unwrap_err();
    assert!(err.message.contains("log axis"), "{err}");
    assert!(!p.exists());
}

#[test]
fn unwritable_paths_and_bad_extensions_are_errors() {
    let dir = Scratch::new("unwritable");
    let runs = four_methods();
    let series = as_series(&runs);
    let chart = LineChart {
        series: &series,
        x_label: "x1",
        y_label: "x2",
        x_scale: AxisScale::Linear,
        y_scale: AxisScale::Linear,
        title: None,
    };
    for name in ["missing/a.svg", "missing/a.png", "a.jpg", "a"] {
        let p = dir.file(name);
        let err = paths_2d(&f, &series, &exercise_spec(), None, &p).unwrap_err();
        assert!(err.message.contains(&p.display().to_string()), "{err}");
        let err = line_chart(&chart, &p).unwrap_err();
        assert!(err.message.contains(&p.display().to_string()), "{err}");
        assert!(!p.exists());
    }
    for name in ["taken.svg", "taken.png"] {
        let p = dir.file(name);
        std::fs::create_dir(&p).unwrap();
        assert!(paths_2d(&f, &series, &exercise_spec(), None, &p).is_err());
        assert!(line_chart(&chart, &p).is_err());
    }
}
