//! Newton with Hessian repair, line searches along any direction, BFGS,
//! L-BFGS, the robust default, stagnation rules, coordinate transforms and
//! the diagnostics (convergence order, learning-rate stability).

use downhill::analysis::{convergence_order, stability, Order};
use downhill::driver::{run, Options, Stall, Status};
use downhill::formula::Formula;
use downhill::method::{
    default_method, Bfgs, GradientDescent, HessianRepair, Lbfgs, LineSearchKind, MethodName,
    MethodSpec, Newton, RobustNewton, FELL_BACK, NOTE_ABS, NOTE_SHIFT,
};
use downhill::objective::{Objective, Transformed};

fn formula(src: &str) -> Formula {
    Formula::parse(src).unwrap()
}

const WAVY: &str = "x*cos(0.15*pi*x)";

#[test]
fn abs_repair_descends_where_plain_newton_climbs() {
    let f = formula(WAVY);
    let plain = run(&f, &mut Newton::new(1.0), &[10.0], &Options::book(10)).unwrap();
    // At x0 = 3, f''(3) < 0: the very first step needs the repair.
    let repaired = run(
        &f,
        &mut Newton::new(1.0).with_repair(HessianRepair::Abs),
        &[3.0],
        &Options::default(),
    )
    .unwrap();
    assert!(plain.f > plain.trace.get(0).f, "plain Newton climbs");
    assert_eq!(repaired.status, Status::Converged);
    assert!(repaired.f < repaired.trace.get(0).f);
    // It stops at a minimum: f'' > 0 there.
    let (mut g, mut h) = ([0.0], [0.0]);
    f.value_gradient_hessian(&repaired.x, &mut g, &mut h);
    assert!(h[0] > 0.0 && g[0].abs() <= 1e-8);
    // The first step is made on negative curvature and says so in the trace.
    let (mut g0, mut h0) = ([0.0], [0.0]);
    f.value_gradient_hessian(&[3.0], &mut g0, &mut h0);
    assert!(h0[0] < 0.0);
    assert_eq!(repaired.trace.get(1).note, Some(NOTE_ABS));
}

#[test]
fn shift_repair_makes_the_saddle_step_descend() {
    // At (1, 0.1) the Hessian of x^2 - y^2 + y^4 is diag(2, -2 + 0.12): indefinite.
    let f = formula("x^2 - y^2 + y^4");
    let r = run(
        &f,
        &mut Newton::new(1.0)
            .with_repair(HessianRepair::Shift)
            .with_line_search(LineSearchKind::Wolfe),
        &[1.0, 0.1],
        &Options::default(),
    )
    .unwrap();
    assert_eq!(r.status, Status::Converged);
    assert_eq!(r.trace.get(1).note, Some(NOTE_SHIFT));
    // The minima are at y = ±1/sqrt(2), f = -1/4; plain Newton goes to the saddle.
    assert!((r.f + 0.25).abs() < 1e-10, "{}", r.f);
    let plain = run(&f, &mut Newton::new(1.0), &[1.0, 0.1], &Options::default()).unwrap();
    assert!(
        plain.f > -0.01,
        "plain Newton is attracted by the saddle at 0"
    );
}

#[test]
fn every_line_search_solves_the_book_quadratic() {
    let f = formula("x1^2 + 2*x2^2");
    let fixed = run(
        &f,
        &mut GradientDescent::new(0.1),
        &[-5.0, -2.0],
        &Options::default(),
    )
    .unwrap();
    for search in [
        LineSearchKind::Exact,
        LineSearchKind::Golden,
        LineSearchKind::Armijo,
        LineSearchKind::Wolfe,
    ] {
        let r = run(
            &f,
            &mut GradientDescent::new(0.1).with_line_search(search),
            &[-5.0, -2.0],
            &Options::default(),
        )
        .unwrap();
        assert_eq!(r.status, Status::Converged, "{search:?}");
        // Monotone: a line search never accepts an increase.
        for w in r.trace.records().collect::<Vec<_>>().windows(2) {
            assert!(w[1].f <= w[0].f, "{search:?}");
        }
        if search == LineSearchKind::Exact {
            // Exact search on a quadratic with condition number 2 contracts f by (1/3)^2 per step.
            assert!(
                r.iterations < fixed.iterations / 2,
                "{} vs {}",
                r.iterations,
                fixed.iterations
            );
            assert!(
                r.evaluations.f > 5 * r.iterations,
                "many evaluations per iteration"
            );
        }
    }
}

#[test]
fn a_non_descent_direction_falls_back_to_minus_gradient() {
    // Plain Newton on negative curvature points uphill; with a line search
    // the step is taken along -grad instead and noted.
    let f = formula(WAVY);
    // At x0 = 3 the curvature is negative, so -f'/f'' points uphill.
    let r = run(
        &f,
        &mut Newton::new(1.0).with_line_search(LineSearchKind::Armijo),
        &[3.0],
        &Options::default(),
    )
    .unwrap();
    assert_eq!(r.trace.get(1).note, Some(FELL_BACK));
    assert!(r.trace.records().any(|rec| rec.note == Some(FELL_BACK)));
    assert!(r.f < r.trace.get(0).f);
}

#[test]
fn quasi_newton_methods_solve_rosenbrock() {
    let f = formula("100*(y - x^2)^2 + (1 - x)^2");
    for (name, result) in [
        (
            "bfgs",
            run(&f, &mut Bfgs::new(), &[-1.2, 1.0], &Options::default()).unwrap(),
        ),
        (
            "lbfgs",
            run(&f, &mut Lbfgs::new(5), &[-1.2, 1.0], &Options::default()).unwrap(),
        ),
    ] {
        assert_eq!(result.status, Status::Converged, "{name}");
        assert!(
            (result.x[0] - 1.0).abs() < 1e-7 && (result.x[1] - 1.0).abs() < 1e-7,
            "{name}"
        );
        assert_eq!(result.evaluations.hess, 0, "{name} needs no Hessian");
        assert!(result.iterations < 100, "{name}: {}", result.iterations);
    }
}

/// BFGS as `Bfgs` documents it, written out with plain vectors: `B = I` and
/// the trial step `min(1, 1/‖∇f‖∞)` at the start, `B` rescaled by `yᵀs/yᵀy`
/// at the second iterate, the expanded update, pairs without positive
/// curvature skipped, a Moré–Thuente search from the trial step 1.
/// Returns the final iterate and the iterations taken.
fn hand_written_bfgs(f: &Formula, x0: &[f64], grad_tol: f64) -> (Vec<f64>, usize) {
    use downhill::line_search::{LineSearch, MoreThuente};
    let dot = |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(p, q)| p * q).sum() };
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut g = vec![0.0; n];
    let mut fx = f.value_gradient(&x, &mut g);
    let mut b = vec![0.0; n * n];
    let (mut x_prev, mut g_prev) = (x.clone(), g.clone());
    let mut k = 0;
    while dot(&g, &g).sqrt() > grad_tol {
        let mut trial = 1.0;
        if k == 0 {
            for i in 0..n {
                b[i * n + i] = 1.0;
            }
            let largest = g.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            if largest > 1.0 {
                trial = 1.0 / largest;
            }
        } else {
            let s: Vec<f64> = x.iter().zip(&x_prev).map(|(a, p)| a - p).collect();
            let y: Vec<f64> = g.iter().zip(&g_prev).map(|(a, p)| a - p).collect();
            let ys = dot(&y, &s);
            if ys > 1e-10 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() && ys.is_finite() {
                if k == 1 {
                    let scale = ys / dot(&y, &y);
                    b.fill(0.0);
                    for i in 0..n {
                        b[i * n + i] = scale;
                    }
                }
                let rho = 1.0 / dot(&y, &s);
                let by: Vec<f64> = b.chunks(n).map(|row| dot(row, &y)).collect();
                let c = rho * rho * dot(&y, &by) + rho;
                for i in 0..n {
                    for j in 0..n {
                        b[i * n + j] += c * s[i] * s[j] - rho * (by[i] * s[j] + s[i] * by[j]);
                    }
                }
            }
        }
        let d: Vec<f64> = b.chunks(n).map(|row| -dot(row, &g)).collect();
        let slope = dot(&g, &d);
        assert!(slope < 0.0, "a descent direction at iteration {k}");
        let along = |t: f64| -> Vec<f64> { x.iter().zip(&d).map(|(a, e)| a + t * e).collect() };
        let mut phi = |t: f64| {
            let mut gt = vec![0.0; n];
            let v = f.value_gradient(&along(t), &mut gt);
            (v, dot(&gt, &d))
        };
        let found = MoreThuente::default()
            .search(&mut phi, fx, slope, trial)
            .expect("the search succeeds");
        x_prev.clone_from(&x);
        g_prev.clone_from(&g);
        x = along(found.t);
        fx = f.value_gradient(&x, &mut g);
        k += 1;
    }
    (x, k)
}

#[test]
fn bfgs_iterates_are_those_of_the_algorithm_written_out() {
    // Two variables take the small-n path (stack vectors, unrolled loops),
    // five the general one; both must do exactly the written-out arithmetic.
    let cases: [(&str, &[f64]); 2] = [
        ("100*(x2 - x1^2)^2 + (1 - x1)^2", &[-1.2, 1.0]),
        (
            "100*(x2 - x1^2)^2 + (1 - x1)^2 + 100*(x3 - x2^2)^2 + (1 - x2)^2 \
             + 100*(x4 - x3^2)^2 + (1 - x3)^2 + 100*(x5 - x4^2)^2 + (1 - x4)^2",
            &[-1.2, 1.0, -1.2, 1.0, -1.2],
        ),
    ];
    for (src, x0) in cases {
        let f = formula(src);
        let options = Options {
            grad_tol: 1e-8,
            max_iterations: 500,
            x_tol: 0.0,
            f_tol: 0.0,
            ..Options::default()
        };
        let r = run(&f, &mut Bfgs::new(), x0, &options).unwrap();
        assert_eq!(r.status, Status::Converged, "{src}");
        let (x, iterations) = hand_written_bfgs(&f, x0, options.grad_tol);
        assert_eq!(r.iterations, iterations, "{src}");
        assert_eq!(r.x, x, "{src}: the same bits");
    }
}

#[test]
fn bfgs_is_exact_on_a_quadratic_in_n_steps_with_exact_search() {
    // With exact line searches BFGS terminates on an n-dimensional quadratic in n steps.
    let f = formula("x1^2 + 2*x2^2 + 3*x3^2 + x1*x2");
    let r = run(
        &f,
        &mut Bfgs::new().with_line_search(LineSearchKind::Exact),
        &[1.0, -2.0, 3.0],
        &Options::default(),
    )
    .unwrap();
    assert_eq!(r.status, Status::Converged);
    assert!(r.iterations <= 4, "{}", r.iterations);
}

#[test]
fn robust_default_solves_non_convex_problems() {
    let cases: [(&str, &[f64], f64); 4] = [
        // The local minimum nearest to 10 is at 7.27 with f = -6.978.
        (WAVY, &[10.0], -6.97),
        ("100*(y - x^2)^2 + (1 - x)^2", &[-1.2, 1.0], 0.0),
        ("x^2 - y^2 + y^4", &[1.0, 0.1], -0.25),
        (
            "(x1 + 10*x2)^2 + 5*(x3 - x4)^2 + (x2 - 2*x3)^4 + 10*(x1 - x4)^4",
            &[3.0, -1.0, 0.0, 1.0],
            0.0,
        ),
    ];
    for (src, x0, f_at_most) in cases {
        let f = formula(src);
        let (mut method, why) = default_method(f.dim());
        assert!(why.contains("Newton"));
        let r = run(&f, method.as_mut(), x0, &Options::robust()).unwrap();
        assert!(
            matches!(r.status, Status::Converged | Status::Stalled(_)),
            "{src}: {:?}",
            r.status
        );
        assert!(r.f <= f_at_most + 1e-6, "{src}: f = {}", r.f);
    }
    let (_, why) = default_method(10_000);
    assert!(why.contains("L-BFGS"));
}

#[test]
fn robust_newton_replaces_a_non_finite_hessian_by_minus_gradient() {
    // |x|^1.5 has f''(x) = 0.75 |x|^-0.5: infinite at 0, finite elsewhere;
    // from x0 = 1 Newton lands near 0 where the Hessian blows up.
    let f = formula("abs(x)^1.5 + (x - 1)^2");
    let r = run(&f, &mut RobustNewton::new(), &[3.0], &Options::robust()).unwrap();
    assert!(
        !matches!(
            r.status,
            Status::MethodFailed { .. } | Status::Diverged { .. }
        ),
        "{:?}",
        r.status
    );
}

#[test]
fn stagnation_stops_with_its_own_status() {
    // f = |x|^3 + 1: the gradient tolerance 1e-30 is never reached; steps shrink to nothing.
    let f = formula("abs(x)^3 + 1");
    let options = Options {
        grad_tol: 1e-300,
        x_tol: 1e-6,
        max_iterations: 100_000,
        ..Options::default()
    };
    let r = run(&f, &mut GradientDescent::new(0.1), &[1.0], &options).unwrap();
    assert_eq!(r.status, Status::Stalled(Stall::Step));
    assert_eq!(r.status.code(), "stalled");
    let options = Options {
        grad_tol: 1e-300,
        f_tol: 1e-12,
        max_iterations: 100_000,
        ..Options::default()
    };
    let r = run(&f, &mut GradientDescent::new(0.1), &[1.0], &options).unwrap();
    assert_eq!(r.status, Status::Stalled(Stall::Value));
}

#[test]
fn rotation_and_scaling_transform_value_gradient_and_hessian() {
    let f = formula("0.1*x1^2 + 2*x2^2");
    let t = Transformed::rotate_scale(&f, Some(45.0), Some(&[2.0, 0.5])).unwrap();
    // The same objective written out: x = R diag(2, 0.5) y.
    let c = std::f64::consts::FRAC_1_SQRT_2;
    let written = Formula::parse(&format!(
        "0.1*({c}*2*x1 - {c}*0.5*x2)^2 + 2*({c}*2*x1 + {c}*0.5*x2)^2"
    ))
    .unwrap();
    let y = [0.7, -1.3];
    let (mut g1, mut h1, mut g2, mut h2) = ([0.0; 2], [0.0; 4], [0.0; 2], [0.0; 4]);
    let v1 = t.value_gradient_hessian(&y, &mut g1, &mut h1);
    let v2 = written.value_gradient_hessian(&y, &mut g2, &mut h2);
    assert!((v1 - v2).abs() < 1e-12);
    for i in 0..2 {
        assert!((g1[i] - g2[i]).abs() < 1e-12);
    }
    for i in 0..4 {
        assert!((h1[i] - h2[i]).abs() < 1e-12);
    }
    // The rotated Hessian is full: the off-diagonal entries are not zero.
    assert!(h1[1].abs() > 0.1);
    assert!(
        Transformed::rotate_scale(&formula("x+y+z"), Some(45.0), None)
            .unwrap_err()
            .contains("2 variables")
    );
    assert!(Transformed::rotate_scale(&f, None, Some(&[1.0]))
        .unwrap_err()
        .contains("--scale has 1 value"));
    assert!(Transformed::rotate_scale(&f, None, Some(&[1.0, 0.0])).is_err());
}

#[test]
fn convergence_order_tells_linear_from_quadratic() {
    let square = formula("x^2");
    let gd = run(
        &square,
        &mut GradientDescent::new(0.2),
        &[10.0],
        &Options::book(20),
    )
    .unwrap();
    let estimate = convergence_order(&gd.trace, None).unwrap();
    match estimate.order {
        Order::Linear { rate } => assert!((rate - 0.6).abs() < 1e-9, "{rate}"),
        other => panic!("{other:?}"),
    }
    let softplus = formula("log(exp(x)+exp(-2*x-3))");
    let x_star = (2f64.ln() - 3.0) / 3.0;
    let newton = run(
        &softplus,
        &mut Newton::new(1.0),
        &[-0.25],
        &Options::book(8),
    )
    .unwrap();
    let estimate = convergence_order(&newton.trace, Some(&[x_star])).unwrap();
    assert_eq!(estimate.order, Order::Quadratic, "{estimate:?}");
    assert!((estimate.q - 2.0).abs() < 0.3, "{estimate:?}");
    let diverging = run(
        &square,
        &mut GradientDescent::new(1.1),
        &[10.0],
        &Options::book(10),
    )
    .unwrap();
    assert_eq!(
        convergence_order(&diverging.trace, None).unwrap().order,
        Order::NotConverging
    );
}

#[test]
fn stability_reports_the_curvature_bound() {
    let f = formula("x1^2 + 2*x2^2");
    let s = stability(&f, 0.5, &[-5.0, -2.0], &[0.0, 0.0]).unwrap();
    assert_eq!((s.lambda_start, s.lambda_end), (4.0, 4.0));
    assert!(s.exceeded_at_end(), "eta 0.5 >= 2/4");
    let s = stability(&f, 0.1, &[-5.0, -2.0], &[0.0, 0.0]).unwrap();
    assert!(!s.exceeded_at_end());
    assert!(s.to_string().contains("2/lambda_max = 0.5000"));
}

#[test]
fn method_spec_validates_parameters() {
    let mut spec = MethodSpec::new(MethodName::Gd);
    spec.beta = Some(0.5);
    let err = spec.build(2).err().unwrap();
    assert!(
        err.contains("--beta does not apply to --method gd"),
        "{err}"
    );
    let mut spec = MethodSpec::new(MethodName::Momentum);
    spec.beta = Some(1.5);
    assert!(spec.build(2).err().unwrap().contains("[0, 1)"));
    let mut spec = MethodSpec::new(MethodName::Precond);
    spec.hessian = Some(HessianRepair::Shift);
    assert!(spec.build(2).is_err());
    let mut spec = MethodSpec::new(MethodName::Lbfgs);
    spec.memory = Some(0);
    assert!(spec.build(2).is_err());
    assert!(MethodName::parse("sgd")
        .unwrap_err()
        .contains("unknown method 'sgd'"));
    for name in MethodName::ALL {
        let (method, why) = MethodSpec::new(name).build(2).unwrap();
        assert!(!method.describe().is_empty());
        assert_eq!(why.is_some(), name == MethodName::Auto);
    }
}

/// `Σ cᵢ xᵢ²` with its Hessian diagonal, whose full Hessian must never be
/// asked for (it panics): diagonal preconditioning needs only the diagonal.
struct DiagonalOnly {
    c: Vec<f64>,
    full_hessians: std::cell::Cell<usize>,
}

impl Objective for DiagonalOnly {
    fn dim(&self) -> usize {
        self.c.len()
    }
    fn value(&self, x: &[f64]) -> f64 {
        self.c.iter().zip(x).map(|(c, x)| c * x * x).sum()
    }
    fn value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        for ((g, c), x) in grad.iter_mut().zip(&self.c).zip(x) {
            *g = 2.0 * c * x;
        }
        self.value(x)
    }
    fn value_gradient_hessian(&self, _: &[f64], _: &mut [f64], _: &mut [f64]) -> f64 {
        self.full_hessians.set(self.full_hessians.get() + 1);
        panic!("the full Hessian was evaluated")
    }
    fn hessian_diagonal(&self, _: &[f64], diag: &mut [f64]) -> Option<()> {
        for (d, c) in diag.iter_mut().zip(&self.c) {
            *d = 2.0 * c;
        }
        Some(())
    }
}

#[test]
fn precond_uses_only_the_hessian_diagonal() {
    use downhill::method::{HessianNeed, Method, Precond};
    assert_eq!(
        Precond::new(1.0, false).hessian_need(),
        HessianNeed::Diagonal
    );
    assert_eq!(Newton::new(1.0).hessian_need(), HessianNeed::Full);
    assert_eq!(Bfgs::new().hessian_need(), HessianNeed::None);
    let f = DiagonalOnly {
        c: vec![1.0, 100.0, 0.5],
        full_hessians: Default::default(),
    };
    for mut method in [
        Precond::new(1.0, false),
        Precond::lightweight_newton(0.5),
        Precond::new(1.0, true).with_line_search(LineSearchKind::Armijo),
    ] {
        let r = run(&f, &mut method, &[1.0, -2.0, 3.0], &Options::default()).unwrap();
        assert_eq!(r.status, Status::Converged, "{}", r.method);
        assert!(r.x.iter().all(|v| v.abs() < 1e-8), "{:?}", r.x);
        // One diagonal per iterate, counted as a Hessian evaluation.
        assert_eq!(r.evaluations.hess, r.iterations + 1);
    }
    assert_eq!(f.full_hessians.get(), 0);
}

#[test]
fn precond_without_a_diagonal_takes_the_full_hessians_diagonal() {
    use downhill::method::Precond;
    // A formula has no separate diagonal: the driver evaluates the full
    // Hessian and keeps its diagonal; off-diagonal terms are ignored.
    let f = formula("x1^2 + 100*x2^2 + x1*x2");
    let r = run(
        &f,
        &mut Precond::new(1.0, false),
        &[1.0, 1.0],
        &Options::book(1),
    )
    .unwrap();
    // x - g / diag(H): g = (2 + 1, 200 + 1), diag(H) = (2, 200).
    assert_eq!(r.x, vec![1.0 - 3.0 / 2.0, 1.0 - 201.0 / 200.0]);
    assert_eq!(r.evaluations.hess, 2);
}
