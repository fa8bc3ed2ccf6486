//! `cargo bench -p downhill --bench solvers`: whole runs through the driver
//! (W1's gradient-descent loop, shortened; W5's Rosenbrock solves) and a
//! small basin-map sweep. The side-by-side comparisons with hand-written
//! loops, argmin and the Python peers are in `downhill-bench` (see
//! BENCHMARKS.md).

use divan::{black_box, Bencher};
use downhill::driver::{run, Options};
use downhill::formula::Formula;
use downhill::method::{Bfgs, GradientDescent, LineSearchKind, MethodName, MethodSpec, Newton};
use downhill::sweep::{self, Axis, Grid, SweepSpec};

fn main() {
    divan::main();
}

const ROSENBROCK: &str = "100*(x2-x1^2)^2+(1-x1)^2";

/// W1, 10^5 instead of 10^7 steps: fixed-step GD on x cos(0.15 π x).
#[divan::bench]
fn gd_100k_steps(bencher: Bencher) {
    let f = Formula::parse("x*cos(0.15*pi*x)").unwrap();
    let options = Options::book(100_000);
    bencher.bench_local(|| {
        run(
            &f,
            &mut GradientDescent::new(0.01),
            black_box(&[10.0]),
            &options,
        )
        .unwrap()
    });
}

/// W5: steepest descent with a Moré–Thuente line search, 2000 iterations.
#[divan::bench]
fn rosenbrock_sd_wolfe_2000(bencher: Bencher) {
    let f = Formula::parse(ROSENBROCK).unwrap();
    let options = Options::book(2000);
    bencher.bench_local(|| {
        let mut method = GradientDescent::new(1.0).with_line_search(LineSearchKind::Wolfe);
        run(&f, &mut method, black_box(&[-1.2, 1.0]), &options).unwrap()
    });
}

/// W5: Newton's method, 20 iterations.
#[divan::bench]
fn rosenbrock_newton_20(bencher: Bencher) {
    let f = Formula::parse(ROSENBROCK).unwrap();
    let options = Options::book(20);
    bencher
        .bench_local(|| run(&f, &mut Newton::new(1.0), black_box(&[-1.2, 1.0]), &options).unwrap());
}

/// W5: BFGS until ‖∇f‖ < 1e-5.
#[divan::bench]
fn rosenbrock_bfgs(bencher: Bencher) {
    let f = Formula::parse(ROSENBROCK).unwrap();
    let options = Options {
        grad_tol: 1e-5,
        ..Options::default()
    };
    bencher.bench_local(|| run(&f, &mut Bfgs::new(), black_box(&[-1.2, 1.0]), &options).unwrap());
}

/// W2 at 100 × 100 cells: 50 GD steps per cell.
#[divan::bench]
fn sweep_100x100(bencher: Bencher) {
    let f = Formula::parse("x*cos(0.15*pi*x)").unwrap();
    let grid = Grid::new(
        vec![Axis::linspace(-20.0, 20.0, 100).unwrap()],
        Some(Axis::linspace(0.01, 3.0, 100).unwrap()),
    )
    .unwrap();
    let mut spec = SweepSpec::new(f, MethodSpec::new(MethodName::Gd), grid);
    spec.steps = 50;
    bencher.bench(|| sweep::run(&spec, None).unwrap());
}
