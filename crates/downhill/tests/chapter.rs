//! Every number the chapter prints in sections 1 to 3, through the library:
//! once with formulas (automatic derivatives) and once with the chapter's
//! hand-written derivatives.

use downhill::driver::{run, Options, RunResult, Status};
use downhill::formula::Formula;
use downhill::method::{GradientDescent, Method, Newton};
use downhill::objective::{Manual, Objective};
use downhill::report::epoch_line;

fn last_line(result: &RunResult) -> String {
    epoch_line(&result.variables, result.iterations, &result.x)
}

fn run_formula(src: &str, method: &mut dyn Method, x0: &[f64], steps: usize) -> RunResult {
    let f = Formula::parse(src).expect("chapter formulas parse");
    run(&f, method, x0, &Options::book(steps)).expect("run starts")
}

#[test]
fn gd_eta_0_2() {
    let r = run_formula("x^2", &mut GradientDescent::new(0.2), &[10.0], 10);
    assert_eq!(last_line(&r), "epoch 10, x: 0.060466");
    assert_eq!(r.trace.len(), 11, "11 values including the start");
    assert_eq!(r.status, Status::IterationLimit);
}

#[test]
fn gd_eta_0_05_too_small() {
    let r = run_formula("x^2", &mut GradientDescent::new(0.05), &[10.0], 10);
    assert_eq!(last_line(&r), "epoch 10, x: 3.486784");
}

#[test]
fn gd_eta_1_1_too_large() {
    let r = run_formula("x^2", &mut GradientDescent::new(1.1), &[10.0], 10);
    assert_eq!(last_line(&r), "epoch 10, x: 61.917364");
    // Every step overshoots: the sign alternates and |x| grows.
    let xs: Vec<f64> = r.trace.iterates().map(|x| x[0]).collect();
    for w in xs.windows(2) {
        assert!(w[1].abs() > w[0].abs() && w[1].signum() != w[0].signum());
    }
}

#[test]
fn gd_local_minimum() {
    let r = run_formula(
        "x*cos(0.15*pi*x)",
        &mut GradientDescent::new(2.0),
        &[10.0],
        10,
    );
    assert_eq!(last_line(&r), "epoch 10, x: -1.528166");
}

#[test]
fn gd_2d_prints_twenty_lines() {
    let r = run_formula(
        "x1^2 + 2*x2^2",
        &mut GradientDescent::new(0.1),
        &[-5.0, -2.0],
        20,
    );
    let lines: Vec<String> = r
        .trace
        .records()
        .skip(1)
        .map(|rec| epoch_line(&r.variables, rec.iteration, rec.x))
        .collect();
    assert_eq!(lines.len(), 20);
    assert_eq!(lines[0], "epoch 1, x1: -4.000000, x2: -1.200000");
    assert_eq!(lines[19], "epoch 20, x1: -0.057646, x2: -0.000073");
}

#[test]
fn newton_cosh_reaches_exactly_zero() {
    let r = run_formula("cosh(0.5*x)", &mut Newton::new(1.0), &[10.0], 10);
    assert_eq!(last_line(&r), "epoch 10, x: 0.000000");
    assert_eq!(r.x[0], 0.0, "the book prints exactly 0.0");
}

#[test]
fn newton_nonconvex_ascends() {
    let r = run_formula("x*cos(0.15*pi*x)", &mut Newton::new(1.0), &[10.0], 10);
    assert_eq!(last_line(&r), "epoch 10, x: 26.834133");
    let f0 = r.trace.get(0).f;
    assert!(r.f > f0, "negative curvature: Newton climbs");
}

#[test]
fn newton_nonconvex_damped() {
    let r = run_formula("x*cos(0.15*pi*x)", &mut Newton::new(0.5), &[10.0], 10);
    assert_eq!(last_line(&r), "epoch 10, x: 7.269860");
}

#[test]
fn newton_quadratic_in_one_step() {
    let f = Formula::parse("x^2/2").unwrap();
    for x0 in [-1234.5, -3.0, 0.7, 10.0, 1e6] {
        let r = run(&f, &mut Newton::new(1.0), &[x0], &Options::default()).unwrap();
        assert_eq!(r.status, Status::Converged, "x0 = {x0}");
        assert_eq!(r.iterations, 1, "x0 = {x0}");
        assert_eq!(r.x[0], 0.0);
    }
}

// The same runs with the book's hand-written f, f_grad and f_hess.

const C_COS: f64 = 0.15 * std::f64::consts::PI;

fn book_cos() -> impl Objective {
    let c = C_COS;
    Manual::new(
        1,
        move |x: &[f64]| x[0] * (c * x[0]).cos(),
        move |x: &[f64], g: &mut [f64]| g[0] = (c * x[0]).cos() - c * x[0] * (c * x[0]).sin(),
        move |x: &[f64], h: &mut [f64]| {
            h[0] = -2.0 * c * (c * x[0]).sin() - x[0] * c * c * (c * x[0]).cos()
        },
    )
}

#[test]
fn hand_written_derivatives_give_the_same_lines() {
    let square = Manual::new(
        1,
        |x: &[f64]| x[0] * x[0],
        |x: &[f64], g: &mut [f64]| g[0] = 2.0 * x[0],
        |_: &[f64], h: &mut [f64]| h[0] = 2.0,
    );
    let cases: [(f64, &str); 3] = [
        (0.2, "epoch 10, x: 0.060466"),
        (0.05, "epoch 10, x: 3.486784"),
        (1.1, "epoch 10, x: 61.917364"),
    ];
    for (eta, expected) in cases {
        let r = run(
            &square,
            &mut GradientDescent::new(eta),
            &[10.0],
            &Options::book(10),
        )
        .unwrap();
        assert_eq!(last_line(&r), expected);
    }
    let cos = book_cos();
    let r = run(
        &cos,
        &mut GradientDescent::new(2.0),
        &[10.0],
        &Options::book(10),
    )
    .unwrap();
    assert_eq!(last_line(&r), "epoch 10, x: -1.528166");
    let r = run(&cos, &mut Newton::new(1.0), &[10.0], &Options::book(10)).unwrap();
    assert_eq!(last_line(&r), "epoch 10, x: 26.834133");
    let r = run(&cos, &mut Newton::new(0.5), &[10.0], &Options::book(10)).unwrap();
    assert_eq!(last_line(&r), "epoch 10, x: 7.269860");

    let c = 0.5;
    let cosh = Manual::new(
        1,
        move |x: &[f64]| (c * x[0]).cosh(),
        move |x: &[f64], g: &mut [f64]| g[0] = c * (c * x[0]).sinh(),
        move |x: &[f64], h: &mut [f64]| h[0] = c * c * (c * x[0]).cosh(),
    );
    let r = run(&cosh, &mut Newton::new(1.0), &[10.0], &Options::book(10)).unwrap();
    assert_eq!(r.x[0], 0.0);

    let book_2d = Manual::new(
        2,
        |x: &[f64]| x[0] * x[0] + 2.0 * x[1] * x[1],
        |x: &[f64], g: &mut [f64]| {
            g[0] = 2.0 * x[0];
            g[1] = 4.0 * x[1];
        },
        |_: &[f64], h: &mut [f64]| h.copy_from_slice(&[2.0, 0.0, 0.0, 4.0]),
    );
    let r = run(
        &book_2d,
        &mut GradientDescent::new(0.1),
        &[-5.0, -2.0],
        &Options::book(20),
    )
    .unwrap();
    assert_eq!(last_line(&r), "epoch 20, x1: -0.057646, x2: -0.000073");
}

#[test]
fn formula_iterates_agree_with_hand_written_ones() {
    // Automatic derivatives are exact: the whole gd-local-min path agrees
    // with the hand-written derivative to rounding.
    let f = Formula::parse("x*cos(0.15*pi*x)").unwrap();
    let a = run(
        &f,
        &mut GradientDescent::new(2.0),
        &[10.0],
        &Options::book(10),
    )
    .unwrap();
    let b = run(
        &book_cos(),
        &mut GradientDescent::new(2.0),
        &[10.0],
        &Options::book(10),
    )
    .unwrap();
    for (p, q) in a.trace.iterates().zip(b.trace.iterates()) {
        assert!(
            (p[0] - q[0]).abs() <= 1e-9 * (1.0 + q[0].abs()),
            "{p:?} vs {q:?}"
        );
    }
}
