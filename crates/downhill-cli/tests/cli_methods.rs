//! `downhill minimize` with every method: the reference runs of the
//! optimization chapters, the robust default, transforms and bad input.

mod common;

use common::{assert_bad_input, downhill};
use std::process::Output;

fn last_epoch(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .rfind(|l| l.starts_with("epoch "))
        .unwrap_or_default()
        .to_string()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("one JSON object")
}

const BOOK: [&str; 6] = [
    "minimize",
    "--formula",
    "0.1*x1^2 + 2*x2^2",
    "--x0=-5,-2",
    "--steps",
    "20",
];

fn book_run(extra: &[&str]) -> Output {
    let mut args: Vec<&str> = BOOK.to_vec();
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--tol", "0"]);
    downhill(&args)
}

#[test]
fn reference_runs_print_the_books_last_line() {
    let cases: [(&[&str], &str); 7] = [
        (
            &["--method", "gd", "--eta", "0.4"],
            "epoch 20, x1: -0.943467, x2: -0.000073",
        ),
        (
            &["--method", "gd", "--eta", "0.6"],
            "epoch 20, x1: -0.387814, x2: -1673.365109",
        ),
        (
            &["--method", "momentum", "--eta", "0.6", "--beta", "0.5"],
            "epoch 20, x1: 0.007188, x2: 0.002553",
        ),
        (
            &["--method", "momentum", "--eta", "0.6", "--beta", "0.25"],
            "epoch 20, x1: -0.126340, x2: -0.186632",
        ),
        (
            &["--method", "adagrad", "--eta", "0.4"],
            "epoch 20, x1: -2.382563, x2: -0.158591",
        ),
        (
            &["--method", "adagrad", "--eta", "2"],
            "epoch 20, x1: -0.002295, x2: -0.000000",
        ),
        (
            &["--method", "rmsprop", "--eta", "0.4", "--gamma", "0.9"],
            "epoch 20, x1: -0.010599, x2: 0.000000",
        ),
    ];
    for (flags, expected) in cases {
        let o = book_run(flags);
        assert!(
            o.status.success(),
            "{flags:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(last_epoch(&o), expected, "{flags:?}");
    }
}

#[test]
fn default_method_says_what_it_chose_and_why_it_stopped() {
    let o = downhill(&[
        "minimize",
        "-f",
        "100*(y - x^2)^2 + (1 - x)^2",
        "--x0=-1.2,1",
        "-q",
    ]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("chosen       2 variables: Newton's method"),
        "{text}"
    );
    assert!(text.contains("outcome      converged"), "{text}");
    assert!(text.contains("convergence  "), "{text}");
    let v = json(&downhill(&[
        "minimize",
        "-f",
        "100*(y - x^2)^2 + (1 - x)^2",
        "--x0=-1.2,1",
        "--json",
    ]));
    assert_eq!(v["status"], "converged");
    assert!(v["f"].as_f64().unwrap() < 1e-12);
    assert!(v["chosen_because"].as_str().unwrap().contains("Newton"));
}

/// A learning rate without a method means gradient descent (the issue's
/// own W1 command line): the same run as with `--method gd`, bit for bit.
#[test]
fn eta_without_a_method_is_gradient_descent() {
    let run = |method: &[&str]| {
        let mut args = vec![
            "minimize",
            "--formula",
            "x*cos(0.15*pi*x)",
            "--x0",
            "10",
            "--eta",
            "0.01",
            "--steps",
            "1000",
            "--json",
        ];
        args.extend_from_slice(method);
        json(&downhill(&args))
    };
    let implied = run(&[]);
    let named = run(&["--method", "gd"]);
    assert_eq!(implied["method"], named["method"]);
    assert!(implied["method"]
        .as_str()
        .unwrap()
        .contains("gradient descent"));
    assert_eq!(implied["x"], named["x"]);
    assert_eq!(implied["iterations"], named["iterations"]);
    assert!(implied.get("chosen_because").is_none_or(|v| v.is_null()));
}

#[test]
fn every_method_runs_from_the_command_line() {
    for method in [
        "gd", "newton", "precond", "momentum", "adagrad", "rmsprop", "adadelta", "adam", "bfgs",
        "lbfgs", "auto",
    ] {
        // Curvatures 0.75 and 1.25: below 2, where Adadelta's self-scaled
        // step (about 1 near a minimum) is stable.
        let v = json(&downhill(&[
            "minimize",
            "-f",
            "0.5*(x1^2 + x2^2) + 0.25*x1*x2",
            "--x0=-5,-2",
            "--method",
            method,
            "--json",
            "--steps",
            "5000",
        ]));
        assert!(v["f"].as_f64().unwrap() < 1e-3, "{method}: {v}");
    }
    for search in ["none", "exact", "golden", "armijo", "wolfe"] {
        let v = json(&downhill(&[
            "minimize",
            "-f",
            "x1^2 + 2*x2^2",
            "--x0=-5,-2",
            "--method",
            "gd",
            "--line-search",
            search,
            "--json",
        ]));
        assert_eq!(v["status"], "converged", "{search}");
    }
    for repair in ["exact", "abs", "shift"] {
        let v = json(&downhill(&[
            "minimize",
            "-f",
            "x*cos(0.15*pi*x)",
            "--x0",
            "10",
            "--method",
            "newton",
            "--hessian",
            repair,
            "--json",
            "--steps",
            "10",
            "--tol",
            "0",
        ]));
        assert_eq!(v["iterations"], 10, "{repair}");
    }
}

#[test]
fn stability_warning_for_too_large_a_learning_rate() {
    let o = downhill(&[
        "minimize", "-f", "x^2", "--x0", "10", "--method", "gd", "--eta", "1.1", "--steps", "10",
        "-q",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("2/lambda_max = 1.0000"), "{text}");
    assert!(text.contains("eta is too large"), "{text}");
    let v = json(&downhill(&[
        "minimize", "-f", "x^2", "--x0", "10", "--method", "gd", "--eta", "0.2", "--json",
    ]));
    assert_eq!(v["stability"]["eta_too_large"], false);
    assert_eq!(v["convergence_order"]["description"], "linear, rate 0.600");
}

#[test]
fn rotation_changes_what_diagonal_methods_see() {
    // Axis-aligned: diagonal preconditioning solves the quadratic in one step;
    // rotated by 45 degrees it no longer can.
    let plain = json(&downhill(&[
        "minimize",
        "-f",
        "0.1*x1^2 + 2*x2^2",
        "--x0=-5,-2",
        "--method",
        "precond",
        "--json",
    ]));
    assert_eq!(plain["iterations"], 1);
    let rotated = json(&downhill(&[
        "minimize",
        "-f",
        "0.1*x1^2 + 2*x2^2",
        "--x0=-5,-2",
        "--method",
        "precond",
        "--rotate",
        "45",
        "--json",
    ]));
    assert!(rotated["iterations"].as_u64().unwrap() > 1 || rotated["status"] != "converged");
    let scaled = json(&downhill(&[
        "minimize",
        "-f",
        "x1^2 + x2^2",
        "--x0=1,1",
        "--scale",
        "1,100",
        "--method",
        "newton",
        "--json",
    ]));
    assert_eq!(scaled["iterations"], 1);
}

#[test]
fn bad_method_options_are_explained() {
    assert_bad_input(
        &downhill(&["minimize", "-f", "x^2", "--x0", "1", "--method", "sgd"]),
        "unknown method 'sgd'",
    );
    assert_bad_input(
        &downhill(&[
            "minimize",
            "-f",
            "x^2",
            "--x0",
            "1",
            "--line-search",
            "fast",
        ]),
        "unknown line search 'fast'",
    );
    assert_bad_input(
        &downhill(&[
            "minimize",
            "-f",
            "x^2",
            "--x0",
            "1",
            "--method",
            "newton",
            "--hessian",
            "fix",
        ]),
        "unknown hessian option 'fix'",
    );
    assert_bad_input(
        &downhill(&[
            "minimize", "-f", "x^2", "--x0", "1", "--method", "gd", "--beta", "0.5",
        ]),
        "--beta does not apply to --method gd",
    );
    assert_bad_input(
        &downhill(&[
            "minimize", "-f", "x^2", "--x0", "1", "--method", "momentum", "--beta", "1.5",
        ]),
        "--beta must be in [0, 1)",
    );
    assert_bad_input(
        &downhill(&["minimize", "-f", "x+y+z", "--x0", "1,2,3", "--rotate", "45"]),
        "--rotate applies to objectives of 2 variables",
    );
    assert_bad_input(
        &downhill(&["minimize", "-f", "x^2+y^2", "--x0", "1,2", "--scale", "1,0"]),
        "--scale",
    );
    // Newton needs the Hessian, which is infinite at 0 for |x|^1.5.
    assert_bad_input(
        &downhill(&[
            "minimize",
            "-f",
            "abs(x)^1.5",
            "--x0",
            "0",
            "--method",
            "newton",
        ]),
        "Hessian is not finite at the start point",
    );
}

/// `problems --steps` checks its value, negative ones too.
#[test]
fn problems_steps_must_be_a_positive_whole_number() {
    for value in ["-5", "0", "2.5"] {
        assert_bad_input(
            &downhill(&["problems", "--steps", value]),
            &format!("invalid value '{value}' for '--steps <N>': must be a whole number >= 1"),
        );
    }
}
