//! The driver's stopping rules, divergence detection, counting and errors.

use downhill::driver::{run, DivergenceReason, Options, RunError, Status};
use downhill::formula::Formula;
use downhill::method::{Bfgs, GradientDescent, Lbfgs, LineSearchKind, Method, Newton};
use downhill::trace::TracePolicy;

fn formula(src: &str) -> Formula {
    Formula::parse(src).unwrap()
}

#[test]
fn eta_1_1_for_1000_steps_is_reported_as_divergence() {
    let f = formula("x^2");
    let options = Options {
        max_iterations: 1000,
        grad_tol: 0.0,
        ..Options::default()
    };
    let r = run(&f, &mut GradientDescent::new(1.1), &[10.0], &options).unwrap();
    // x_k = 10 (-1.2)^k passes the default bound 1e10 * 10 at k = 127.
    match &r.status {
        Status::Diverged {
            iteration,
            reason: DivergenceReason::OutOfBounds { bound, .. },
        } => {
            assert_eq!(*iteration, 127);
            assert_eq!(*bound, 1e11);
        }
        other => panic!("expected divergence, got {other:?}"),
    }
    assert_eq!(r.iterations, 126, "the result keeps the last good iterate");
    assert!(r.x[0].is_finite() && r.f.is_finite());
    assert_eq!(r.status.code(), "diverged");
}

/// `-x^2` has no minimum: a line search that finds `f` still falling
/// steeply at its largest step reports the run as diverged (not as stalled
/// at the start), keeping the last iterate. In two variables with one
/// direction of negative curvature, every method ends diverged too.
#[test]
fn unbounded_below_is_divergence_for_line_search_methods() {
    let methods = || -> Vec<Box<dyn Method>> {
        vec![
            Box::new(Bfgs::new()),
            Box::new(Lbfgs::new(5)),
            Box::new(GradientDescent::new(1.0).with_line_search(LineSearchKind::Wolfe)),
            Box::new(GradientDescent::new(1.0).with_line_search(LineSearchKind::Exact)),
            Box::new(GradientDescent::new(1.0).with_line_search(LineSearchKind::Golden)),
        ]
    };
    let f = formula("-x^2");
    for mut method in methods() {
        let r = run(&f, method.as_mut(), &[1.0], &Options::default()).unwrap();
        match &r.status {
            Status::Diverged {
                iteration: 1,
                reason: DivergenceReason::UnboundedBelow { f: value, t },
            } => assert!(*value < -1e6 && *t > 1e3, "f {value} at {t}"),
            other => panic!("{}: {other:?}", r.method),
        }
        assert_eq!(r.status.code(), "diverged");
        assert_eq!((r.iterations, r.x.as_slice(), r.f), (0, &[1.0][..], -1.0));
        assert!(r.status.to_string().contains("without bound"));
    }
    let f = formula("-(x - 1)^2 + 3*y^2");
    for mut method in methods() {
        let r = run(&f, method.as_mut(), &[0.5, 0.2], &Options::default()).unwrap();
        assert_eq!(r.status.code(), "diverged", "{}: {:?}", r.method, r.status);
        assert!(r.x.iter().all(|v| v.is_finite()) && r.f.is_finite());
    }
}

#[test]
fn overflow_to_infinity_is_divergence_not_a_result() {
    // x <- x - 4 x^3 from 10 grows like x^3 per step and overflows within a
    // few steps; with the bound out of the way the overflow itself is caught.
    let f = formula("x^4");
    let options = Options {
        max_iterations: 100,
        grad_tol: 0.0,
        max_abs_x: Some(f64::MAX),
        ..Options::default()
    };
    let r = run(&f, &mut GradientDescent::new(1.0), &[10.0], &options).unwrap();
    match &r.status {
        Status::Diverged { iteration, reason } => {
            assert!(*iteration < 10, "overflow happens within a few steps");
            assert!(matches!(
                reason,
                DivergenceReason::NonFiniteValue | DivergenceReason::NonFiniteIterate
            ));
        }
        other => panic!("expected divergence, got {other:?}"),
    }
    assert!(r.x.iter().all(|v| v.is_finite()));
    assert!(r.f.is_finite() && r.grad_norm.is_finite());
}

#[test]
fn gradient_tolerance_stops_early_and_zero_turns_it_off() {
    let f = formula("x^2");
    let tol = Options {
        max_iterations: 1000,
        grad_tol: 1e-6,
        ..Options::default()
    };
    let r = run(&f, &mut GradientDescent::new(0.2), &[10.0], &tol).unwrap();
    assert_eq!(r.status, Status::Converged);
    assert!(r.grad_norm <= 1e-6);
    // |grad| = 20 * 0.6^k <= 1e-6  <=>  k >= 32.9
    assert_eq!(r.iterations, 33);
    let off = Options {
        max_iterations: 50,
        grad_tol: 0.0,
        ..Options::default()
    };
    let r = run(&f, &mut GradientDescent::new(0.2), &[10.0], &off).unwrap();
    assert_eq!(r.iterations, 50);
    assert_eq!(r.status, Status::IterationLimit);
}

#[test]
fn evaluations_are_counted() {
    let f = formula("x1^2 + 2*x2^2");
    let r = run(
        &f,
        &mut GradientDescent::new(0.1),
        &[-5.0, -2.0],
        &Options::book(20),
    )
    .unwrap();
    assert_eq!(
        (r.evaluations.f, r.evaluations.grad, r.evaluations.hess),
        (21, 21, 0)
    );
    let r = run(&f, &mut Newton::new(1.0), &[-5.0, -2.0], &Options::book(3)).unwrap();
    assert_eq!(
        (r.evaluations.f, r.evaluations.grad, r.evaluations.hess),
        (4, 4, 4)
    );
}

#[test]
fn newton_in_two_dimensions_solves_the_quadratic_in_one_step() {
    let f = formula("x1^2 + 2*x2^2 + x1*x2 - 3*x1");
    let r = run(&f, &mut Newton::new(1.0), &[4.0, -7.0], &Options::default()).unwrap();
    assert_eq!(r.status, Status::Converged);
    assert_eq!(r.iterations, 1);
    // grad = (2 x1 + x2 - 3, 4 x2 + x1) = 0  =>  x1 = 12/7, x2 = -3/7
    assert!((r.x[0] - 12.0 / 7.0).abs() < 1e-12 && (r.x[1] + 3.0 / 7.0).abs() < 1e-12);
}

#[test]
fn newton_with_an_indefinite_hessian_still_steps() {
    // Saddle: H = diag(2, -2) is not positive definite; LU solves it.
    let f = formula("x^2 - y^2");
    let r = run(&f, &mut Newton::new(1.0), &[1.0, 1.0], &Options::default()).unwrap();
    assert_eq!(r.status, Status::Converged);
    assert_eq!(r.x, vec![0.0, 0.0]);
}

#[test]
fn singular_hessian_is_a_reported_outcome() {
    let f = formula("x^3");
    // f''(0) = 0 at the start.
    let r = run(&f, &mut Newton::new(1.0), &[0.0], &Options::book(5)).unwrap();
    // The gradient is 0 too, but with the tolerance off the step is tried.
    assert_eq!(r.status.code(), "method_failed");
    assert_eq!(r.status.iteration(), Some(1));
    let g = formula("x1^2 + 0*x2");
    let r = run(&g, &mut Newton::new(1.0), &[1.0, 1.0], &Options::default()).unwrap();
    assert!(
        matches!(r.status, Status::MethodFailed { .. }),
        "{:?}",
        r.status
    );
}

#[test]
fn bad_starts_are_errors_not_runs() {
    let f = formula("x1^2 + x2^2");
    let e = run(
        &f,
        &mut GradientDescent::new(0.1),
        &[1.0],
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        RunError::DimensionMismatch {
            expected: 2,
            given: 1
        }
    );
    assert!(e
        .to_string()
        .contains("1 value but the objective has 2 variables"));
    let g = formula("log(x)");
    let e = run(
        &g,
        &mut GradientDescent::new(0.1),
        &[-1.0],
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        RunError::NotFiniteAtStart {
            what: "value",
            detail: "f = nan".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "the objective's value is not finite at the start point (f = nan)"
    );
    let e = run(
        &formula("x + sqrt(y)"),
        &mut GradientDescent::new(0.1),
        &[1.0, 0.0],
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the objective's gradient is not finite at the start point (∂f/∂y = inf)"
    );
    let e = run(
        &g,
        &mut GradientDescent::new(0.1),
        &[f64::NAN],
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(e, RunError::NonFiniteStart);
}

#[test]
fn trace_policy_bounds_the_records() {
    let f = formula("x^2");
    let options = Options {
        max_iterations: 10_000,
        grad_tol: 0.0,
        trace: TracePolicy::Every(1000),
        ..Options::default()
    };
    let r = run(&f, &mut GradientDescent::new(0.001), &[1.0], &options).unwrap();
    assert_eq!(r.trace.len(), 11);
    assert_eq!(r.trace.get(10).iteration, 10_000);
    assert_eq!(r.trace.get(10).x, r.x.as_slice());
}

/// Steepest descent with a Moré–Thuente search through the driver (for
/// n ≤ 4 the direction and the ray live on the stack) takes exactly the
/// steps of a plain loop calling the public search on a closure, with one
/// gradient per search trial plus one per accepted iterate where the
/// search's last trial was another step (at its last trial, the driver takes
/// the search's `f` and `∇f` instead of evaluating them again).
#[test]
fn small_line_search_steps_match_a_plain_loop() {
    use downhill::line_search::{LineSearch, MoreThuente};
    use downhill::method::LineSearchKind;

    for n in [2usize, 3, 5] {
        let names: Vec<String> = (1..=n).map(|i| format!("x{i}")).collect();
        let text: Vec<String> = (1..n)
            .map(|i| format!("100*(x{}-x{}^2)^2+(1-x{})^2", i + 1, i, i))
            .collect();
        let f = Formula::parse(&text.join("+")).unwrap();
        assert_eq!(f.variables(), &names[..]);
        let x0: Vec<f64> = (0..n)
            .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
            .collect();
        let iters = 50;
        let mut method = GradientDescent::new(1.0).with_line_search(LineSearchKind::Wolfe);
        let r = run(&f, &mut method, &x0, &Options::book(iters)).unwrap();
        assert_eq!(r.iterations, iters);

        let mut x = x0.clone();
        let mut g = vec![0.0; n];
        let mut value = f.value_gradient(&x, &mut g);
        let mut gradients = 1;
        let mut reused = 0;
        for _ in 0..iters {
            let d: Vec<f64> = g.iter().map(|v| -v).collect();
            let slope: f64 = g.iter().zip(&d).map(|(a, b)| a * b).sum();
            let mut trial = vec![0.0; n];
            let mut grad_t = vec![0.0; n];
            let mut last = (f64::NAN, f64::NAN);
            let mut phi = |t: f64| {
                for ((p, a), b) in trial.iter_mut().zip(&x).zip(&d) {
                    *p = a + t * b;
                }
                gradients += 1;
                let v = f.value_gradient(&trial, &mut grad_t);
                last = (t, v);
                (v, grad_t.iter().zip(&d).map(|(a, b)| a * b).sum())
            };
            let found = MoreThuente::default()
                .search(&mut phi, value, slope, 1.0)
                .unwrap();
            for (a, b) in x.iter_mut().zip(&d) {
                *a += found.t * b;
            }
            if last.0 == found.t {
                value = last.1;
                g.copy_from_slice(&grad_t);
                reused += 1;
            } else {
                value = f.value_gradient(&x, &mut g);
                gradients += 1;
            }
        }
        // Moré–Thuente mostly returns its last trial.
        assert!(reused > iters / 2, "n = {n}: {reused} of {iters}");
        assert_eq!(
            x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            r.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "n = {n}"
        );
        assert_eq!(value.to_bits(), r.f.to_bits());
        assert_eq!(r.evaluations.grad, gradients, "n = {n}");
    }
}

/// Where a line search's last trial is the step it returns, the driver takes
/// that trial's `f` and `∇f` instead of evaluating them again: the iterates
/// are those of a loop calling `Method::step` and evaluating every iterate,
/// bit for bit, with fewer gradients. Both ray paths: n = 2 (stack) and
/// n = 6 (kept buffers); a method needing `∇²f` evaluates as before.
#[test]
fn line_search_methods_hand_over_their_last_trial() {
    use downhill::method::{Bfgs, LineSearchKind, Method, State};
    use downhill::objective::Problem;

    /// Iterates and gradient count of a loop over `Method::step`.
    fn plain_loop(
        f: &Formula,
        method: &mut dyn Method,
        x0: &[f64],
        steps: usize,
        need_hessian: bool,
    ) -> (Vec<Vec<f64>>, Vec<f64>, usize) {
        let n = x0.len();
        let problem = Problem::new(f);
        let hess_len = if need_hessian { n * n } else { 0 };
        let evaluate = |state: &mut State| {
            state.f = if need_hessian {
                problem.value_gradient_hessian(&state.x, &mut state.grad, &mut state.hess)
            } else {
                problem.value_gradient(&state.x, &mut state.grad)
            };
        };
        let mut state = State {
            iteration: 0,
            x: x0.to_vec(),
            f: 0.0,
            grad: vec![0.0; n],
            hess: vec![0.0; hess_len],
        };
        evaluate(&mut state);
        let (mut xs, mut fs) = (vec![state.x.clone()], vec![state.f]);
        for k in 1..=steps {
            let mut x_next = vec![0.0; n];
            method.step(&problem, &state, &mut x_next).unwrap();
            state.x = x_next;
            state.iteration = k;
            evaluate(&mut state);
            xs.push(state.x.clone());
            fs.push(state.f);
        }
        (xs, fs, problem.evaluations().grad)
    }

    let rosenbrock = |n: usize| {
        let terms: Vec<String> = (1..n)
            .map(|i| format!("100*(x{}-x{}^2)^2+(1-x{})^2", i + 1, i, i))
            .collect();
        formula(&terms.join("+"))
    };
    type Make = fn() -> Box<dyn Method>;
    let methods: [(&str, Make, bool); 6] = [
        (
            "gd wolfe",
            || Box::new(GradientDescent::new(1.0).with_line_search(LineSearchKind::Wolfe)),
            true,
        ),
        (
            "gd exact",
            || Box::new(GradientDescent::new(1.0).with_line_search(LineSearchKind::Exact)),
            true,
        ),
        ("bfgs", || Box::new(Bfgs::new()), true),
        ("lbfgs", || Box::new(downhill::method::Lbfgs::new(5)), true),
        (
            "gd armijo (value only)",
            || Box::new(GradientDescent::new(1.0).with_line_search(LineSearchKind::Armijo)),
            false,
        ),
        (
            "newton wolfe (needs the Hessian)",
            || Box::new(Newton::new(1.0).with_line_search(LineSearchKind::Wolfe)),
            false,
        ),
    ];
    for n in [2usize, 6] {
        let f = rosenbrock(n);
        let x0: Vec<f64> = (0..n)
            .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
            .collect();
        for (name, make, hands_over) in methods {
            let steps = 12;
            let options = Options {
                grad_tol: 0.0,
                ..Options::book(steps)
            };
            let r = run(&f, &mut *make(), &x0, &options).unwrap();
            assert_eq!(r.iterations, steps, "{name}, n = {n}: {:?}", r.status);
            let need_hessian = name.starts_with("newton");
            let (xs, fs, gradients) = plain_loop(&f, &mut *make(), &x0, steps, need_hessian);
            for (k, (x, value)) in xs.iter().zip(&fs).enumerate() {
                let record = r.trace.get(k);
                let bits = |v: &[f64]| v.iter().map(|c| c.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(record.x), bits(x), "{name}, n = {n}, iterate {k}");
                assert_eq!(
                    record.f.to_bits(),
                    value.to_bits(),
                    "{name}, n = {n}, iterate {k}"
                );
            }
            if hands_over {
                assert!(
                    r.evaluations.grad < gradients && r.evaluations.grad + steps >= gradients,
                    "{name}, n = {n}: {} gradients, the plain loop {gradients}",
                    r.evaluations.grad
                );
            } else {
                assert_eq!(r.evaluations.grad, gradients, "{name}, n = {n}");
            }
        }
    }
}

/// `‖∇f‖` is computed without overflow or underflow in the squares: a huge
/// but finite gradient has a finite norm in the result and every record.
#[test]
fn gradient_norms_do_not_overflow() {
    use downhill::driver::norm;
    assert_eq!(norm(&[3e300, 4e300]), 5e300);
    assert_eq!(norm(&[3e-300, -4e-300]), 5e-300);
    assert_eq!(norm(&[3.0, 4.0]), 5.0);
    assert_eq!(norm(&[0.0, 0.0]), 0.0);
    assert_eq!(norm(&[-0.0, 0.0]), 0.0);
    // Squares that underflow to a zero sum are not the zero vector.
    assert_eq!(norm(&[0.0, 1e-170]), 1e-170);
    assert_eq!(norm(&[1e-200, 0.0, 0.0]), 1e-200);
    // One component: |x|, also where x² over- or underflows.
    for x in [3.0, -2.5e300, 1e-200, -4.9e-324, 0.1, -0.0] {
        assert_eq!(norm(&[x]), x.abs(), "{x}");
    }
    assert!(norm(&[f64::NAN]).is_nan());
    // ... the bits the general path gives: [x, 0] takes the sum of squares.
    let mut bits = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..100_000 {
        bits ^= bits << 13;
        bits ^= bits >> 7;
        bits ^= bits << 17;
        let x = f64::from_bits(bits);
        if x.is_finite() {
            assert_eq!(norm(&[x]), norm(&[x, 0.0]), "{x:e}");
        }
    }
    assert_eq!(norm(&[]), 0.0);
    assert_eq!(norm(&[f64::INFINITY, 1.0]), f64::INFINITY);
    assert!(norm(&[f64::NAN, 1e300]).is_nan());

    // x <- x - 1e-301 * 2e300 x = 0.8 x: the gradient 2e300 x stays finite.
    let f = formula("1e300*x^2");
    let options = Options {
        max_iterations: 3,
        ..Options::default()
    };
    let r = run(&f, &mut GradientDescent::new(1e-301), &[1.0], &options).unwrap();
    assert_eq!(r.status, Status::IterationLimit);
    let expected = 2e300 * r.x[0];
    assert!(
        (r.grad_norm - expected).abs() <= 1e-12 * expected,
        "{}",
        r.grad_norm
    );
    assert!(r.trace.records().all(|record| record.grad_norm.is_finite()));
}

/// A method whose `n × n` matrix cannot be allocated ends with an error
/// naming the matrix and its size, not an abort. (n = 5·10⁶: the matrix
/// would be 200 TB, beyond any address space, whatever the overcommit.)
#[test]
fn matrices_beyond_memory_are_errors_not_aborts() {
    use downhill::objective::Manual;
    let n = 5_000_000;
    let f = Manual::new(
        n,
        |x: &[f64]| x.iter().map(|v| v * v).sum(),
        |x: &[f64], g: &mut [f64]| {
            for (g, v) in g.iter_mut().zip(x) {
                *g = 2.0 * v;
            }
        },
        |_: &[f64], _: &mut [f64]| unreachable!("no Hessian is evaluated"),
    );
    let x0 = vec![1.0; n];
    let options = Options {
        max_iterations: 3,
        ..Options::default()
    };
    let error = run(&f, &mut Newton::new(1.0), &x0, &options).unwrap_err();
    assert!(matches!(error, RunError::TooLarge(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("5000000 x 5000000 Hessian (200000.0 GB)"),
        "{error}"
    );
    let r = run(&f, &mut Bfgs::new(), &x0, &options).unwrap();
    match &r.status {
        Status::MethodFailed {
            iteration: 1,
            reason,
        } => {
            assert!(
                reason.contains("5000000 x 5000000 inverse Hessian"),
                "{reason}"
            );
            assert!(reason.contains("L-BFGS"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.iterations, 0);
}

/// The human summary: a space between the label and the point, no `-0`,
/// extreme parameters in scientific notation.
#[test]
fn summaries_read_cleanly() {
    use downhill::report::{format_value, summary};
    assert_eq!(format_value(-0.0), "0");
    assert_eq!(format_value(0.0), "0");
    let options = Options {
        max_iterations: 1000,
        grad_tol: 0.0,
        ..Options::default()
    };
    let r = run(
        &formula("x^2"),
        &mut GradientDescent::new(1.1),
        &[10.0],
        &options,
    )
    .unwrap();
    let text = summary(&r, &options);
    assert!(text.contains("\nlast finite x x = "), "{text}");
    assert_eq!(
        GradientDescent::new(1e308).describe(),
        "gradient descent (eta = 1e308)"
    );
    assert_eq!(
        GradientDescent::new(1e-308).describe(),
        "gradient descent (eta = 1e-308)"
    );
}

/// A converged run says when its stationary point is not a minimum:
/// Newton's method jumps to the maximum of `-x^2` and the saddle of
/// `x^2 - y^2` in one step, as readily as to the minimum of `x^2`.
#[test]
fn converged_runs_name_maxima_and_saddles() {
    use downhill::method::{MethodName, MethodSpec};
    use downhill::report::Diagnostics;
    use downhill::sweep::StationaryKind;
    let spec = MethodSpec::new(MethodName::Newton);
    let cases: [(&str, &[f64], StationaryKind, Option<&str>); 3] = [
        (
            "-x^2",
            &[1.0],
            StationaryKind::Maximum,
            Some("a maximum, not a minimum"),
        ),
        (
            "x^2 - y^2",
            &[1.0, 1.0],
            StationaryKind::Saddle,
            Some("a saddle point, not a minimum"),
        ),
        ("x^2 + y^2", &[1.0, 1.0], StationaryKind::Minimum, None),
    ];
    for (source, x0, kind, line) in cases {
        let f = formula(source);
        let r = run(&f, &mut Newton::new(1.0), x0, &Options::default()).unwrap();
        assert_eq!(r.status, Status::Converged, "{source}");
        let diagnostics = Diagnostics::compute(&f, &spec, &r, None);
        assert_eq!(diagnostics.stationary, Some(kind), "{source}");
        let lines = diagnostics.lines();
        match line {
            Some(text) => assert!(lines.contains(&format!("stationary   {text}")), "{lines}"),
            None => assert!(!lines.contains("stationary"), "{lines}"),
        }
        assert_eq!(diagnostics.to_json()["stationary_point"], kind.name());
    }
}

/// Steps of one length (gradient descent on `f = x`, marching off) show no
/// order of convergence, not a "linear rate" read from rounding noise.
#[test]
fn equal_steps_show_no_convergence_order() {
    use downhill::analysis::{convergence_order, Order};
    let options = Options {
        max_iterations: 100,
        grad_tol: 0.0,
        ..Options::default()
    };
    for x0 in [1.0, 1e3, 1e6] {
        let r = run(
            &formula("x"),
            &mut GradientDescent::new(0.1),
            &[x0],
            &options,
        )
        .unwrap();
        let order = convergence_order(&r.trace, None);
        assert!(
            !matches!(order.map(|o| o.order), Some(Order::Linear { .. })),
            "from {x0}: {order:?}"
        );
    }
}
