//! `downhill minimize` on large objectives: --separable, --quadratic,
//! --least-squares, as a user runs them, and their errors (exit 2).

mod common;

use common::{assert_bad_input, downhill, stderr, stdout};
use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

fn bad(o: &Output, needle: &str) {
    assert_eq!(
        o.status.code(),
        Some(2),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
    let err = stderr(o);
    assert!(err.starts_with("downhill: error: "), "{err}");
    assert!(err.contains(needle), "expected '{needle}' in:\n{err}");
}

/// A fresh folder with the given files.
fn files(entries: &[(&str, &str)]) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "downhill-cli-large-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in entries {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

fn path(dir: &std::path::Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[test]
fn separable_gd_on_many_variables_prints_short_epoch_lines() {
    let out = ok(&downhill(&[
        "minimize",
        "--separable",
        "a*x^2",
        "--dim",
        "200000",
        "--coef",
        "a=linspace:1:2",
        "--x0",
        "1",
        "--method",
        "gd",
        "--eta",
        "0.1",
        "--steps",
        "5",
        "--tol",
        "0",
    ]));
    let lines: Vec<&str> = out.lines().collect();
    // x1 has a = 1: x ← 0.8 x per step.
    assert_eq!(
        lines[0],
        "epoch 1, x1: 0.800000, x2: 0.799999, x3: 0.799998, ... (200000 variables), |x|: 314.113"
    );
    assert!(
        lines[4].starts_with("epoch 5, x1: 0.327680, "),
        "{}",
        lines[4]
    );
    assert!(out.contains("outcome      iteration limit"), "{out}");
    assert!(
        out.contains("method       gradient descent (eta = 0.1)"),
        "{out}"
    );
    assert!(out.contains("... (200000 variables), |x| = "), "{out}");
    assert!(
        out.contains("evaluations  f: 6, gradient: 6, Hessian: 0"),
        "{out}"
    );
    assert!(
        out.lines().all(|l| l.len() < 200),
        "no line lists every coordinate"
    );
}

#[test]
fn separable_quiet_and_json() {
    let out = ok(&downhill(&[
        "minimize",
        "--separable",
        "a*(x-b)^2",
        "--dim",
        "50000",
        "--coef",
        "a=2",
        "--coef",
        "b=uniform:-1:1:3",
        "--x0",
        "0",
        "--method",
        "precond",
        "--eta",
        "0.5",
        "--json",
    ]));
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["status"], "converged");
    assert_eq!(json["dim"], 50000);
    assert_eq!(json["method"], "diagonal preconditioning (eta = 0.5)");
    assert!(json.get("x").is_none(), "no 50000-number array");
    assert_eq!(json["x_head"].as_array().unwrap().len(), 3);
    let quiet = ok(&downhill(&[
        "minimize",
        "--separable",
        "a*x^2",
        "--dim",
        "1000",
        "--coef",
        "a=1",
        "--x0",
        "1",
        "--method",
        "gd",
        "--quiet",
    ]));
    assert!(quiet.starts_with("outcome      converged"), "{quiet}");
}

#[test]
fn small_separables_keep_the_book_format() {
    let out = ok(&downhill(&[
        "minimize",
        "--separable",
        "a*x^2",
        "--dim",
        "2",
        "--coef",
        "a=linspace:1:2",
        "--x0",
        "-5,-2",
        "--method",
        "gd",
        "--eta",
        "0.2",
        "--steps",
        "2",
        "--tol",
        "0",
    ]));
    let lines: Vec<&str> = out.lines().collect();
    // a = (1, 2): the book's x1^2 + 2 x2^2.
    assert_eq!(lines[0], "epoch 1, x1: -3.000000, x2: -0.400000");
    assert_eq!(lines[1], "epoch 2, x1: -1.800000, x2: -0.080000");
    assert!(
        out.contains("final x      x1 = -1.80000, x2 = -0.0800000"),
        "{out}"
    );
}

#[test]
fn quadratic_and_least_squares_from_files() {
    let dir = files(&[
        (
            "A.mtx",
            "%%MatrixMarket matrix coordinate real symmetric\n% 1-D Laplacian plus 2 I\n4 4 7\n1 1 4\n2 2 4\n3 3 4\n4 4 4\n2 1 -1\n3 2 -1\n4 3 -1\n",
        ),
        ("b.txt", "1\n2\n3\n4\n"),
        (
            "M.mtx",
            "%%MatrixMarket matrix array real general\n3 2\n1\n0\n1\n0\n2\n1\n",
        ),
        ("c.txt", "1\n2\n3\n"),
    ]);
    let out = ok(&downhill(&[
        "minimize",
        "--quadratic",
        &path(&dir, "A.mtx"),
        "--rhs",
        &path(&dir, "b.txt"),
        "--x0",
        "0",
        "--method",
        "gd",
        "--eta",
        "0.2",
    ]));
    assert!(out.contains("outcome      converged"), "{out}");
    // A x = b: x = (0.488038, 0.952153, 1.320574, 1.330144).
    assert!(
        out.contains("final x      x1 = 0.488038, x2 = 0.952153, x3 = 1.32057, x4 = 1.33014"),
        "{out}"
    );
    let newton = ok(&downhill(&[
        "minimize",
        "--quadratic",
        &path(&dir, "A.mtx"),
        "--rhs",
        &path(&dir, "b.txt"),
        "--x0",
        "0",
        "--method",
        "newton",
        "--json",
    ]));
    let json: serde_json::Value = serde_json::from_str(newton.trim()).unwrap();
    assert_eq!(json["iterations"], 1);
    assert_eq!(json["x"].as_array().unwrap().len(), 4);
    let ls = ok(&downhill(&[
        "minimize",
        "--least-squares",
        &format!("{},{}", path(&dir, "M.mtx"), path(&dir, "c.txt")),
        "--x0",
        "1,1",
        "--method",
        "gd",
        "--eta",
        "0.1",
        "--json",
    ]));
    let json: serde_json::Value = serde_json::from_str(ls.trim()).unwrap();
    assert_eq!(json["status"], "converged");
    // Rows (1, 0), (0, 2), (1, 1); normal equations [[2, 1], [1, 5]] x = (4, 7):
    // x = (13/9, 10/9).
    let x = json["x"].as_array().unwrap();
    assert!((x[0].as_f64().unwrap() - 13.0 / 9.0).abs() < 1e-8, "{ls}");
    assert!((x[1].as_f64().unwrap() - 10.0 / 9.0).abs() < 1e-8, "{ls}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn file_errors_name_the_file_and_line() {
    let dir = files(&[
        (
            "bad.mtx",
            "%%MatrixMarket matrix coordinate real general\n% comment\n2 2 2\n1 1 1\n1 x 2\n",
        ),
        (
            "header.mtx",
            "%%MatrixMarket matrix coordinate complex general\n",
        ),
        (
            "A.mtx",
            "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1\n",
        ),
        ("b3.txt", "1\n2\n3\n"),
    ]);
    bad(
        &downhill(&[
            "minimize",
            "--quadratic",
            &path(&dir, "missing.mtx"),
            "--x0",
            "0",
        ]),
        &format!("{}: cannot open: no such file", path(&dir, "missing.mtx")),
    );
    bad(
        &downhill(&[
            "minimize",
            "--quadratic",
            &path(&dir, "bad.mtx"),
            "--x0",
            "0",
        ]),
        &format!(
            "{}:5: the column index 'x' is not a positive whole number",
            path(&dir, "bad.mtx")
        ),
    );
    bad(
        &downhill(&[
            "minimize",
            "--quadratic",
            &path(&dir, "header.mtx"),
            "--x0",
            "0",
        ]),
        &format!(
            "{}:1: complex matrices are not supported",
            path(&dir, "header.mtx")
        ),
    );
    bad(
        &downhill(&[
            "minimize",
            "--quadratic",
            &path(&dir, "A.mtx"),
            "--rhs",
            &path(&dir, "b3.txt"),
            "--x0",
            "0",
        ]),
        "the right-hand side has 3 values but the matrix",
    );
    bad(
        &downhill(&[
            "minimize",
            "--least-squares",
            &format!("{},{}", path(&dir, "A.mtx"), path(&dir, "b3.txt")),
            "--x0",
            "0",
        ]),
        "b has 3 values but the matrix",
    );
    // A usage error: clap's message, exit 2.
    let o = downhill(&[
        "minimize",
        "--least-squares",
        &path(&dir, "A.mtx"),
        "--x0",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("expected two files separated by a comma"));
    bad(
        &downhill(&[
            "minimize",
            "--quadratic",
            &path(&dir, "A.mtx"),
            "--x0",
            "1,2,3",
        ]),
        "--x0 has 3 values but the objective has 2 variables",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn separable_errors() {
    let base = [
        "minimize",
        "--separable",
        "a*x^2",
        "--dim",
        "10",
        "--x0",
        "1",
    ];
    let with = |extra: &[&str]| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        downhill(&args)
    };
    bad(&with(&[]), "unknown variable 'a'");
    bad(&with(&["--coef", "a"]), "--coef 'a': expected NAME=SOURCE");
    bad(
        &with(&["--coef", "a=linspace:1"]),
        "--coef a: linspace needs a start and an end",
    );
    bad(
        &with(&["--coef", "a=1", "--coef", "a=2"]),
        "--coef a is given twice",
    );
    bad(
        &with(&["--coef", "a=file:/no/such/a.txt"]),
        "/no/such/a.txt: cannot open: no such file",
    );
    bad(
        &with(&["--coef", "a=1", "--coef", "b=2"]),
        "--coef b: the --separable term has no coefficient named b (its coefficients: a)",
    );
    bad(
        &with(&["--coef", "a=1", "--coef", "b=file:/no/such/b.txt"]),
        "no coefficient named b",
    );
    bad(
        &with(&["--coef", "a=uniform:2:1"]),
        "--coef a: 'uniform:2:1' has its lower bound above its upper bound",
    );
    ok(&with(&["--coef", "a=uniform:1:1", "-q"]));
    bad(
        &with(&["--coef", "a=1", "--plot", "p.svg"]),
        "--plot does not apply",
    );
    bad(
        &with(&["--coef", "a=1", "--method", "gd", "--memory", "3"]),
        "--memory does not apply",
    );
    let o = downhill(&[
        "minimize",
        "--separable",
        "a*x^2",
        "--x0",
        "1",
        "--coef",
        "a=1",
    ]);
    assert_eq!(o.status.code(), Some(2), "--dim is required");
    assert!(stderr(&o).contains("--dim"), "{}", stderr(&o));
    let o = downhill(&[
        "minimize",
        "--formula",
        "x^2",
        "--separable",
        "x^2",
        "--dim",
        "3",
        "--x0",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2), "one objective at a time");
    bad(
        &downhill(&[
            "minimize",
            "--separable",
            "x^2",
            "--dim",
            "3",
            "--x0",
            "1",
            "--coef",
            "a=1",
        ]),
        "no coefficient named a (its coefficients: none)",
    );
    // A term with a leading minus, written as a separate argument.
    let out = ok(&downhill(&[
        "minimize",
        "--separable",
        "-a*exp(-x^2)",
        "--dim",
        "3",
        "--x0",
        "1",
        "--coef",
        "a=2",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "converged", "{v}");
    bad(
        &downhill(&[
            "minimize",
            "--separable",
            "x^4",
            "--dim",
            "30000",
            "--x0",
            "1",
            "--method",
            "newton",
        ]),
        "needs the full 30000 x 30000 Hessian",
    );
}

/// Options of one kind of objective are errors with every other kind, never
/// silently ignored: `--rhs` belongs to `--quadratic`, `--dim` and `--coef`
/// to `--separable`.
#[test]
fn options_of_another_objective_are_rejected() {
    let dir = files(&[
        (
            "a.mtx",
            "%%MatrixMarket matrix coordinate real symmetric\n2 2 2\n1 1 2\n2 2 2\n",
        ),
        ("b.txt", "1\n2\n"),
    ]);
    let (a, b) = (path(&dir, "a.mtx"), path(&dir, "b.txt"));
    let pair = format!("{a},{b}");
    let cases: [(&[&str], &str, &str); 7] = [
        (
            &["--formula", "x^2", "--rhs", "/nonexistent.txt"],
            "--rhs",
            "--formula",
        ),
        (
            &[
                "--separable",
                "a*x^2",
                "--dim",
                "2",
                "--coef",
                "a=1",
                "--rhs",
                &b,
            ],
            "--rhs",
            "--separable",
        ),
        (
            &["--least-squares", &pair, "--rhs", &b],
            "--rhs",
            "--least-squares",
        ),
        (&["--formula", "x^2", "--dim", "3"], "--dim", "--formula"),
        (&["--quadratic", &a, "--dim", "3"], "--dim", "--quadratic"),
        (
            &["--formula", "x^2", "--coef", "a=1"],
            "--coef",
            "--formula",
        ),
        (
            &["--least-squares", &pair, "--coef", "a=1"],
            "--coef",
            "--least-squares",
        ),
    ];
    for (objective, option, other) in cases {
        let mut args = vec!["minimize", "-q", "--x0", "1"];
        args.extend_from_slice(objective);
        let o = downhill(&args);
        assert_bad_input(&o, "cannot be used with");
        assert_bad_input(&o, &format!("'{option} <"));
        assert_bad_input(&o, &format!("'{other} <"));
    }
    ok(&downhill(&[
        "minimize",
        "-q",
        "--x0",
        "1",
        "--quadratic",
        &a,
        "--rhs",
        &b,
    ]));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A `--dim` beyond memory is an error naming the size, not an abort
/// (10^15 variables: 8 PB, beyond any address space).
#[test]
fn dimensions_beyond_memory_are_errors() {
    let o = downhill(&[
        "minimize",
        "-q",
        "--separable",
        "x^2",
        "--dim",
        "1000000000000000",
        "--x0",
        "1",
        "--method",
        "gd",
    ]);
    bad(
        &o,
        "--dim 1000000000000000: x alone needs 8000000.0 GB, more than can be allocated",
    );
}
