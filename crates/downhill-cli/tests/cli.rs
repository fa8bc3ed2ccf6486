//! The built `downhill` binary, run as a user would: every printed line of
//! the chapter's sections 1 to 3, the minimize examples, and bad input.

mod common;

use common::{assert_bad_input, downhill, scratch, stderr, stdout};
use std::path::Path;
use std::process::Output;

fn lines(o: &Output) -> Vec<String> {
    stdout(o).lines().map(str::to_string).collect()
}

#[test]
fn tour_prints_every_line_of_the_book() {
    let out = scratch("tour");
    let o = downhill(&["tour", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = lines(&o);
    for expected in [
        "epoch 10, x: 0.060466",
        "epoch 10, x: 3.486784",
        "epoch 10, x: 61.917364",
        "epoch 10, x: -1.528166",
        "epoch 10, x: 0.000000",
        "epoch 10, x: 26.834133",
        "epoch 10, x: 7.269860",
        "epoch 1, x: 0.000000",
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "missing line {expected:?}"
        );
    }
    // The 2-D run prints all 20 epochs in order, ending with the book's line.
    let two_d: Vec<&String> = lines.iter().filter(|l| l.contains(", x1: ")).collect();
    assert_eq!(two_d.len(), 20);
    for (k, line) in two_d.iter().enumerate() {
        assert!(
            line.starts_with(&format!("epoch {}, x1: ", k + 1)),
            "{line}"
        );
    }
    assert_eq!(two_d[19].as_str(), "epoch 20, x1: -0.057646, x2: -0.000073");
    // Order of the sections follows the book.
    let pos = |s: &str| lines.iter().position(|l| l == s).unwrap();
    assert!(pos("epoch 10, x: 0.060466") < pos("epoch 10, x: 3.486784"));
    assert!(pos("epoch 10, x: -1.528166") < pos("epoch 10, x: 26.834133"));

    // Every figure as SVG and PNG, and the index that shows them.
    for id in [
        "gd-0.2",
        "gd-0.05",
        "gd-1.1",
        "gd-local-min",
        "gd-2d",
        "newton-cosh",
        "newton-nonconvex",
        "newton-nonconvex-damped",
        "newton-quadratic",
    ] {
        let svg = std::fs::read_to_string(out.join(format!("{id}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{id}");
        let png = std::fs::read(out.join(format!("{id}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{id}");
    }
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains("<img src=\"gd-0.2.svg\""));
    assert!(index.find("gd-0.2.svg") < index.find("newton-cosh.svg"));
}

#[test]
fn tour_into_an_unwritable_folder_fails_cleanly() {
    let dir = scratch("blocked");
    let file = dir.join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let o = downhill(&["tour", "--out", file.join("sub").to_str().unwrap()]);
    assert_bad_input(&o, "cannot create output folder");
}

#[test]
fn minimize_1d_example_with_plot() {
    let dir = scratch("trace");
    let plot = dir.join("trace.svg");
    let o = downhill(&[
        "minimize",
        "--formula",
        "x*cos(0.15*pi*x)",
        "--x0",
        "10",
        "--method",
        "gd",
        "--eta",
        "2",
        "--steps",
        "10",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.lines().any(|l| l == "epoch 10, x: -1.528166"),
        "{text}"
    );
    assert_eq!(text.lines().filter(|l| l.starts_with("epoch ")).count(), 10);
    assert!(text.contains("outcome      iteration limit"), "{text}");
    assert!(
        text.contains("evaluations  f: 11, gradient: 11, Hessian: 0"),
        "{text}"
    );
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.contains("f(x)"));
}

#[test]
fn minimize_2d_example_with_plot_and_trace() {
    let dir = scratch("path");
    let plot = dir.join("path.png");
    let trace = dir.join("path.csv");
    let o = downhill(&[
        "minimize",
        "--formula",
        "x1^2 + 2*x2^2",
        "--x0",
        "-5,-2",
        "--method",
        "gd",
        "--eta",
        "0.1",
        "--steps",
        "20",
        "--plot",
        plot.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let epochs: Vec<String> = lines(&o)
        .into_iter()
        .filter(|l| l.starts_with("epoch"))
        .collect();
    assert_eq!(epochs.len(), 20);
    assert_eq!(epochs[19], "epoch 20, x1: -0.057646, x2: -0.000073");
    let png = std::fs::read(&plot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let csv = std::fs::read_to_string(&trace).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "iteration,x1,x2,f,grad_norm,step_norm,note");
    assert_eq!(rows.len(), 22);
    assert!(rows[1].starts_with("0,-5.0,-2.0,33.0,"));
}

#[test]
fn negative_start_written_with_equals_too() {
    let a = downhill(&[
        "minimize",
        "-f",
        "x1^2 + 2*x2^2",
        "--x0=-5,-2",
        "--method",
        "gd",
        "--eta",
        "0.1",
        "--steps",
        "20",
        "-q",
    ]);
    let b = downhill(&[
        "minimize",
        "-f",
        "x1^2 + 2*x2^2",
        "--x0",
        "-5,-2",
        "--method",
        "gd",
        "--eta",
        "0.1",
        "--steps",
        "20",
        "-q",
    ]);
    assert!(a.status.success() && b.status.success());
    assert_eq!(stdout(&a), stdout(&b));
    assert!(
        !stdout(&a).contains("epoch"),
        "--quiet prints no epoch lines"
    );
}

#[test]
fn json_summary_for_scripts() {
    let o = downhill(&[
        "minimize", "-f", "x^2", "--x0", "10", "--method", "gd", "--eta", "0.2", "--json",
    ]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(v["status"], "converged");
    assert!(v["grad_norm"].as_f64().unwrap() <= 1e-8);
    // |grad| = 20 * 0.6^k <= 1e-8  <=>  k >= 41.9
    assert_eq!(v["iterations"], 42);
    assert_eq!(v["evaluations"]["f"], 43);
    assert_eq!(v["evaluations"]["grad"], 43);
    assert!(v["x"][0].as_f64().unwrap().abs() < 1e-8);
    assert!(v["f"].is_number());
}

#[test]
fn tol_zero_makes_exactly_steps_iterations() {
    let o = downhill(&[
        "minimize", "-f", "x^2", "--x0", "10", "--method", "gd", "--eta", "0.2", "--steps", "100",
        "--tol", "0", "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["iterations"], 100);
    assert_eq!(v["status"], "iteration_limit");
}

#[test]
fn vars_declare_order_and_absent_variables() {
    let o = downhill(&[
        "minimize",
        "-f",
        "x2^2 + (x1-1)^2",
        "--vars",
        "x2,x1,x3",
        "--x0",
        "1,2,3",
        "--method",
        "newton",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["variables"], serde_json::json!(["x2", "x1", "x3"]));
    // x3 is absent from f: its Hessian row is zero, so Newton reports a singular system.
    assert_eq!(v["status"], "method_failed");
    let o = downhill(&[
        "minimize",
        "-f",
        "x2^2 + (x1-1)^2",
        "--vars",
        "x2,x1",
        "--x0",
        "1,2",
        "--method",
        "newton",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "converged");
    // One Newton step solves a quadratic (up to the rounding of the Cholesky solve).
    assert_eq!(v["iterations"], 1);
    assert!(v["x"][0].as_f64().unwrap().abs() < 1e-12);
    assert!((v["x"][1].as_f64().unwrap() - 1.0).abs() < 1e-12);
}

#[test]
fn divergence_is_an_outcome_with_its_iteration() {
    let o = downhill(&[
        "minimize", "-f", "x^2", "--x0", "10", "--method", "gd", "--eta", "1.1", "--steps", "1000",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "divergence is a completed run");
    let text = stdout(&o);
    assert!(text.contains("diverged at iteration 127"), "{text}");
    assert!(!text.to_lowercase().contains("nan"), "{text}");
    let o = downhill(&[
        "minimize", "-f", "x^4", "--x0", "10", "--method", "gd", "--eta", "1", "--bound", "1e308",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "diverged");
    assert!(v["stopped_at_iteration"].as_u64().unwrap() < 10);
    assert!(v["x"][0].is_number(), "the last finite iterate, never NaN");
}

#[test]
fn formula_errors_point_at_the_column() {
    for (formula, column) in [("x*cos(", 6), ("x ^^ 2", 3), ("foo(x)", 0)] {
        let o = downhill(&["minimize", "-f", formula, "--x0", "1"]);
        assert_bad_input(&o, "invalid --formula");
        let err = stderr(&o);
        // The formula is echoed and a caret sits under the offending character.
        let lines: Vec<&str> = err.lines().collect();
        let echo = lines
            .iter()
            .position(|l| l.trim_end() == format!("  {formula}"))
            .expect(&err);
        let caret = lines[echo + 1];
        assert_eq!(caret.find('^'), Some(2 + column), "{err}");
    }
    let o = downhill(&["minimize", "-f", "", "--x0", "1"]);
    assert_bad_input(&o, "empty");
    let o = downhill(&["minimize", "-f", "   ", "--x0", "1"]);
    assert_bad_input(&o, "empty");
}

#[test]
fn bad_arguments_are_explained() {
    assert_bad_input(
        &downhill(&["minimize", "-f", "x1^2+x2^2", "--x0", "1,2,3"]),
        "--x0 has 3 values but the formula has 2 variables",
    );
    assert_bad_input(
        &downhill(&["minimize", "-f", "x^2", "--x0", "abc"]),
        "'abc' is not a number",
    );
    assert_bad_input(
        &downhill(&["minimize", "-f", "x^2", "--x0", "1", "--eta", "0"]),
        "--eta",
    );
    assert_bad_input(
        &downhill(&["minimize", "-f", "x^2", "--x0", "1", "--eta", "-0.5"]),
        "must be a finite number > 0",
    );
    assert_bad_input(
        &downhill(&["minimize", "-f", "x^2", "--x0", "1", "--steps", "0"]),
        "--steps",
    );
    assert_bad_input(
        &downhill(&["minimize", "-f", "x^2", "--x0", "1", "--method", "bogus"]),
        "bogus",
    );
    assert_bad_input(
        &downhill(&["minimize", "-f", "x^2", "--x0", "1", "--plot", "out.gif"]),
        "gif",
    );
    assert_bad_input(
        &downhill(&["minimize", "-f", "x^2", "--x0", "1", "--trace", "t.txt"]),
        ".csv or .json",
    );
    assert_bad_input(
        &downhill(&[
            "minimize", "-f", "x+y+z", "--x0", "1,2,3", "--plot", "p.svg",
        ]),
        "1-D and 2-D",
    );
    assert_bad_input(
        &downhill(&["minimize", "-f", "log(x)", "--x0", "-1"]),
        "not finite at the start point",
    );
}

#[test]
fn unwritable_outputs_are_errors() {
    let missing = Path::new("/nonexistent-downhill-dir/sub");
    assert_bad_input(
        &downhill(&[
            "minimize",
            "-f",
            "x^2",
            "--x0",
            "1",
            "--plot",
            missing.join("p.svg").to_str().unwrap(),
        ]),
        "does not exist",
    );
    assert_bad_input(
        &downhill(&[
            "minimize",
            "-f",
            "x^2",
            "--x0",
            "1",
            "--trace",
            missing.join("t.csv").to_str().unwrap(),
        ]),
        "does not exist",
    );
    // A folder that exists but cannot be written (a file in its place).
    let dir = scratch("unwritable");
    let blocker = dir.join("plot.svg");
    std::fs::create_dir_all(&blocker).unwrap();
    assert_bad_input(
        &downhill(&[
            "minimize",
            "-f",
            "x^2",
            "--x0",
            "1",
            "--plot",
            blocker.to_str().unwrap(),
        ]),
        "plot.svg",
    );
}

/// The tour with formulas run as machine code (the default) and with every
/// formula interpreted (`DOWNHILL_NATIVE=0`) prints the same lines and
/// draws the same figures, byte for byte.
#[test]
fn tour_is_the_same_with_and_without_machine_code() {
    let run = |native: &str| {
        let out = scratch(&format!("tour-native-{native}"));
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_downhill"))
            .args(["tour", "--out", out.to_str().unwrap()])
            .env("DOWNHILL_NATIVE", native)
            .output()
            .expect("the binary runs");
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o).replace(out.to_str().unwrap(), "OUT");
        let mut figures: Vec<(String, Vec<u8>)> = std::fs::read_dir(&out)
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&path).unwrap())
            })
            .collect();
        figures.sort();
        (text, figures)
    };
    let (native_text, native_figures) = run("1");
    let (interpreted_text, interpreted_figures) = run("0");
    assert!(native_text.contains("epoch 10, x: 7.269860"));
    assert_eq!(native_text, interpreted_text);
    assert_eq!(native_figures.len(), interpreted_figures.len());
    for ((name, bytes), (other_name, other_bytes)) in
        native_figures.iter().zip(&interpreted_figures)
    {
        assert_eq!(name, other_name);
        assert!(bytes == other_bytes, "{name} differs");
    }
}

/// A formula may start with a minus sign, written after `--formula` or `-f`
/// as a separate argument, as well as with `=`.
#[test]
fn formulas_may_start_with_a_minus() {
    let run = |formula: &[&str]| {
        let mut args = vec!["minimize"];
        args.extend_from_slice(formula);
        args.extend_from_slice(&["--x0", "1", "--json"]);
        let o = downhill(&args);
        assert!(o.status.success(), "{formula:?}: {}", stderr(&o));
        stdout(&o)
    };
    let spaced = run(&["--formula", "-exp(-x^2)"]);
    assert_eq!(spaced, run(&["-f", "-exp(-x^2)"]));
    assert_eq!(spaced, run(&["--formula=-exp(-x^2)"]));
    let v: serde_json::Value = serde_json::from_str(&spaced).unwrap();
    assert_eq!(v["status"], "converged");
    assert!((v["f"].as_f64().unwrap() + 1.0).abs() < 1e-12, "{v}");
    let o = downhill(&["minimize", "--formula", "-x^2+y^2", "--x0", "1,2", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// A negative value of a numeric option reaches the option's own check,
/// whose message names the option; negative start points stay coordinates.
#[test]
fn negative_numbers_are_checked_by_their_option() {
    for (option, value, needle) in [
        ("--bound", "-1", "must be a finite number > 0"),
        ("--steps", "-5", "must be a whole number >= 1, got -5"),
        ("--trace-every", "-1", "must be a whole number >= 1, got -1"),
        ("--tol", "-1", "must be a finite number >= 0"),
        ("--xtol", "-1", "must be a finite number >= 0"),
        ("--ftol", "-1", "must be a finite number >= 0"),
        ("--eta", "-1", "must be a finite number > 0"),
        ("--memory", "-1", "must be a whole number >= 1, got -1"),
    ] {
        let o = downhill(&["minimize", "-f", "x^2", "--x0", "1", option, value]);
        assert_bad_input(&o, &format!("invalid value '{value}' for '{option} <"));
        assert_bad_input(&o, needle);
        assert!(
            !stderr(&o).contains("unexpected argument"),
            "{}",
            stderr(&o)
        );
    }
    let o = downhill(&["minimize", "-f", "x^2", "--x0", "-1", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = downhill(&["minimize", "-f", "x^2+y^2", "--x0", "-1,2", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = downhill(&[
        "minimize", "-f", "x^2+y^2", "--x0", "1,2", "--rotate", "-30", "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Invisible characters of a formula are shown escaped in the error, in the
/// message and in the echo, with the carets under the escape.
#[test]
fn formula_errors_show_invisible_characters_escaped() {
    let o = downhill(&["minimize", "-f", "x\u{200b}+1", "--x0", "1"]);
    assert_bad_input(&o, "unexpected character '\\u{200b}'");
    let err = stderr(&o);
    assert!(!err.contains('\u{200b}'), "{err:?}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[1], "  x\\u{200b}+1", "{err}");
    assert_eq!(lines[2], "   ^^^^^^^^", "{err}");
    let o = downhill(&["minimize", "-f", "x+\u{1}", "--x0", "1"]);
    assert_bad_input(&o, "'\\u{1}'");
    assert!(!stderr(&o).contains('\u{1}'), "{:?}", stderr(&o));
}

/// A long formula is echoed as a window around the error, not whole.
#[test]
fn long_formulas_are_echoed_around_the_error() {
    let formula = format!("{}$", "x+".repeat(18_500));
    let o = downhill(&["minimize", "-f", &formula, "--x0", "1"]);
    assert_bad_input(&o, "invalid --formula at column 37001");
    let err = stderr(&o);
    assert!(err.len() < 500, "{} bytes on stderr", err.len());
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[1].starts_with("  ...x+x+") && lines[1].ends_with("+$"),
        "{err}"
    );
    assert_eq!(lines[2].find('^'), lines[1].find('$'), "{err}");
    // A message that quotes a long name of the formula is cut in the middle.
    let name = "a".repeat(37_000);
    let o = downhill(&["minimize", "-f", &name, "--x0", "1"]);
    assert_bad_input(&o, "invalid --formula at column 1: unknown");
    let err = stderr(&o);
    assert!(err.len() < 600, "{} bytes on stderr", err.len());
}
