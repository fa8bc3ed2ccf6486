//! `downhill sweep`, run as a user would: the summary, CSV, JSON, maps and
//! bad input (exit 2).

mod common;

use common::{scratch, stderr, stdout};
use std::process::{Command, Output};

const BOOK: &str = "x*cos(0.15*pi*x)";

fn downhill(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_downhill"))
        .arg("sweep")
        .args(args)
        .output()
        .expect("the binary runs")
}

fn ok(o: &Output) {
    assert!(o.status.success(), "stderr: {}", stderr(o));
    // No progress bar when stdout and stderr are not terminals.
    assert_eq!(stderr(o), "", "stderr should be empty");
}

fn assert_bad_input(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "stderr: {}", stderr(o));
    let err = stderr(o);
    assert!(
        err.contains(needle),
        "expected {needle:?} in stderr:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn summary_tables_line_up() {
    let o = downhill(&[
        "--formula",
        BOOK,
        "--x0",
        "-20:20:201",
        "--eta",
        "0.01:3:100",
        "--steps",
        "50",
    ]);
    ok(&o);
    let text = stdout(&o);
    assert!(text
        .starts_with("sweep: x*cos(0.15*pi*x), gradient descent (eta swept), 50 steps (fixed)\n"));
    assert!(text.contains(
        "grid: x0 in [-20, 20] (201 values) x eta in [0.01, 3] (100 values) = 20100 cells\n"
    ));
    assert!(text.contains("engine: lanes of 8 cells, "));
    let lines: Vec<&str> = text.lines().collect();
    let block = |header: &str, end: &str| -> Vec<&str> {
        lines
            .iter()
            .skip_while(|l| !l.starts_with(header))
            .take_while(|l| !l.is_empty() && !l.starts_with(end))
            .copied()
            .collect()
    };
    let outcomes = block("outcome", "minima");
    assert!(outcomes.len() >= 3, "{text}");
    assert!(
        outcomes.iter().all(|l| l.len() == outcomes[0].len()),
        "{outcomes:#?}"
    );
    let minima = block("id ", "not settled");
    assert_eq!(minima.len(), 5, "four minima in [-20, 20]: {text}");
    assert!(
        minima.iter().all(|l| l.len() == minima[0].len()),
        "{minima:#?}"
    );
    assert!(minima[0]
        .split_whitespace()
        .eq(["id", "x", "f", "kind", "cells", "share"]));
    assert!(minima[1..].iter().all(|l| l.contains(" minimum ")));
    assert!(
        text.contains("\nnot settled: ") && text.contains(" oscillating (f rose at some step), ")
    );
}

#[test]
fn csv_has_a_row_per_cell() {
    let dir = scratch("csv");
    let csv = dir.join("map.csv");
    let o = downhill(&[
        "--formula",
        BOOK,
        "--x0",
        "-20:20:30",
        "--eta",
        "0.1:1:20",
        "--steps",
        "50",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    ok(&o);
    assert!(stdout(&o).contains(&format!("wrote {} (600 rows)", csv.display())));
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("x0,eta,outcome,iterations,x,f,grad_norm,f_rose,minimum")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 600);
    assert!(rows[0].starts_with("-20.0,0.1,limit,50,"));
    assert!(rows[599].starts_with("20.0,1.0,"));
}

#[test]
fn json_is_one_object_with_outcomes_and_minima() {
    let o = downhill(&[
        "--formula",
        BOOK,
        "--x0",
        "-20:20:50",
        "--eta",
        "0.05:1.5:30",
        "--steps",
        "60",
        "--json",
    ]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON object");
    assert_eq!(v["cells"], 1500);
    let sum: u64 = v["outcomes"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(sum, 1500);
    let minima = v["minima"].as_array().unwrap();
    assert!(minima.len() >= 4);
    let settled: u64 = minima.iter().map(|m| m["cells"].as_u64().unwrap()).sum();
    assert_eq!(
        settled + v["unsettled"].as_u64().unwrap() + v["outcomes"]["diverged"].as_u64().unwrap(),
        1500
    );
    assert_eq!(v["method"], "gradient descent (eta swept)");
    assert_eq!(v["axes"][0]["name"], "x0");
}

#[test]
fn maps_are_drawn_for_two_varying_axes() {
    let dir = scratch("plot");
    let png = dir.join("map.png");
    let o = downhill(&[
        "--formula",
        BOOK,
        "--x0",
        "-20:20:80",
        "--eta",
        "0.01:3:60",
        "--steps",
        "50",
        "--plot",
        png.to_str().unwrap(),
    ]);
    ok(&o);
    assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");

    // 2-D start grid, coloured by the final x2, as SVG.
    let svg = dir.join("map2d.svg");
    let o = downhill(&[
        "--formula",
        "(x1^2 - 1)^2 + x2^2",
        "--x0",
        "-2:2:41,-1:1:30",
        "--eta",
        "0.05",
        "--steps",
        "200",
        "--color",
        "x2",
        "--plot",
        svg.to_str().unwrap(),
        "--title",
        "2-D",
    ]);
    ok(&o);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<image") && text.contains("final x2") && text.contains("2-D"));
    assert!(stdout(&o).contains("saddle"));
}

#[test]
fn other_methods_run_through_the_driver() {
    let o = downhill(&[
        "--formula",
        BOOK,
        "--x0",
        "-20:20:21",
        "--method",
        "newton",
        "--hessian",
        "shift",
        "--line-search",
        "wolfe",
        "--steps",
        "100",
        "--tol",
        "1e-10",
    ]);
    ok(&o);
    let text = stdout(&o);
    assert!(text.contains("engine: driver"), "{text}");
    assert!(text.contains("converged"), "{text}");

    let o = downhill(&[
        "--formula",
        BOOK,
        "--x0",
        "-20:20:21",
        "--eta",
        "0.01:0.3:5",
        "--method",
        "momentum",
        "--beta",
        "0.5",
        "--exact",
    ]);
    ok(&o);
    assert!(stdout(&o).contains("momentum (eta swept, beta = 0.5)"));
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let dir = scratch("bad");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--x0".into(), "-20:20".into()], "'-20:20'"),
        (vec!["--x0".into(), "-20:20:0".into()], "at least 1"),
        (vec!["--x0".into(), "-20:20:abc".into()], "'abc'"),
        (
            vec!["--x0".into(), "1".into(), "--eta".into(), "0:1:5".into()],
            "> 0",
        ),
        (vec!["--x0".into(), "1,2".into()], "1 variable"),
        (
            vec!["--x0".into(), "1".into(), "--beta".into(), "0.5".into()],
            "--beta does not apply",
        ),
        (
            vec![
                "--x0".into(),
                "-20:20:100000".into(),
                "--eta".into(),
                "0.1:1:10000".into(),
            ],
            "--force",
        ),
        (
            vec![
                "--x0".into(),
                "-20:20:10".into(),
                "--plot".into(),
                dir.join("m.png").to_str().unwrap().into(),
            ],
            "two axes",
        ),
        (
            vec![
                "--x0".into(),
                "-20:20:10".into(),
                "--eta".into(),
                "0.1:1:3".into(),
                "--plot".into(),
                dir.join("m.jpg").to_str().unwrap().into(),
            ],
            ".jpg",
        ),
        (
            vec![
                "--x0".into(),
                "-20:20:10".into(),
                "--csv".into(),
                dir.join("no/such/m.csv").to_str().unwrap().into(),
            ],
            "does not exist",
        ),
        (
            vec![
                "--x0".into(),
                "1".into(),
                "--color".into(),
                "purple".into(),
                "--plot".into(),
                "m.svg".into(),
            ],
            "unknown map colour 'purple'",
        ),
        (
            vec![
                "--x0".into(),
                "1".into(),
                "--method".into(),
                "newton".into(),
                "--engine".into(),
                "lanes".into(),
            ],
            "lanes engine",
        ),
        (
            vec!["--x0".into(), "1".into(), "--steps".into(), "0".into()],
            "--steps",
        ),
    ];
    for (args, needle) in cases {
        let mut all = vec!["--formula".to_string(), BOOK.to_string()];
        all.extend(args);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        assert_bad_input(&downhill(&refs), needle);
    }
    // More than two ranges over x.
    assert_bad_input(
        &downhill(&["--formula", "x1^2+x2^2+x3^2", "--x0", "0:1:2,0:1:2,0:1:2"]),
        "at most 2",
    );
    // A bad formula points at the offending characters.
    assert_bad_input(&downhill(&["--formula", "x*cos(", "--x0", "1"]), "^");
}

/// A formula may start with a minus sign, as a separate argument.
#[test]
fn formulas_may_start_with_a_minus() {
    let o = downhill(&["--formula", "-exp(-x^2)", "--x0", "-1:1:5", "--json"]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["cells"], 5, "{v}");
    ok(&downhill(&["-f", "-x^2", "--x0", "1", "--steps", "3"]));
}

/// A negative value of a numeric option reaches the option's own check,
/// whose message names the option.
#[test]
fn negative_numbers_are_checked_by_their_option() {
    for (option, value, needle) in [
        ("--bound", "-1", "must be a finite number > 0"),
        (
            "--steps",
            "-5",
            "must be a whole number from 1 to 4294967295, got -5",
        ),
        ("--tol", "-1", "must be a finite number >= 0"),
        ("--settle", "-1", "must be a finite number >= 0"),
        ("--cluster-tol", "-1", "must be a finite number > 0"),
        (
            "--threads",
            "-2",
            "must be a whole number from 1 to 1024, got -2",
        ),
        ("--eta", "-1", "learning rates must be > 0"),
        ("--memory", "-1", "must be a whole number >= 1, got -1"),
    ] {
        let o = downhill(&["--formula", BOOK, "--x0", "1", option, value]);
        assert_bad_input(&o, &format!("invalid value '{value}' for '{option} <"));
        assert_bad_input(&o, needle);
    }
}

/// `| head` closes stdout early: the lines after it are dropped, not a
/// panic ("failed printing to stdout"), and the files are still written.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    use std::process::Stdio;
    let dir = scratch("closed-stdout");
    let (csv, svg, tour) = (dir.join("m.csv"), dir.join("m.svg"), dir.join("tour"));
    let runs: [Vec<&str>; 2] = [
        vec![
            "sweep",
            "--formula",
            "x^2",
            "--x0",
            "-1:1:5",
            "--eta",
            "0.1:1:3",
            "--csv",
            csv.to_str().unwrap(),
            "--plot",
            svg.to_str().unwrap(),
        ],
        vec!["tour", "--out", tour.to_str().unwrap()],
    ];
    for args in runs {
        let mut child = Command::new(env!("CARGO_BIN_EXE_downhill"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        // Closing the read end makes every write to stdout fail.
        drop(child.stdout.take());
        let o = child.wait_with_output().expect("the binary ends");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
    assert!(csv.exists() && svg.exists() && tour.join("index.html").exists());
}

/// `--title` and `--color` shape the map: without `--plot` they would be
/// ignored, so they are errors that name `--plot`.
#[test]
fn map_options_need_a_map() {
    for option in [["--title", "hi"], ["--color", "outcome"]] {
        let mut args = vec!["--formula", "x^2", "--x0", "-1:1:5"];
        args.extend(option);
        let o = downhill(&args);
        assert_eq!(o.status.code(), Some(2), "{option:?}");
        assert!(stderr(&o).contains("--plot <FILE>"), "{}", stderr(&o));
    }
}
