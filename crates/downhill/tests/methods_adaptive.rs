//! Momentum, AdaGrad, RMSProp, Adadelta, Adam and diagonal preconditioning:
//! the book's `train_2d` numbers through the library, a line-by-line
//! comparison with the book's trainers written out in plain f64, first steps
//! checked by hand, convergence, failure reporting and state reset.

use downhill::driver::{run, Options, RunResult, Status};
use downhill::formula::Formula;
use downhill::method::{
    AdaGrad, Adadelta, Adam, GradientDescent, Method, Momentum, Newton, Precond, RmsProp,
};
use downhill::objective::{Manual, Objective};
use downhill::report::epoch_line;

const BOOK_F: &str = "0.1*x1^2 + 2*x2^2";
const X0: [f64; 2] = [-5.0, -2.0];

fn last_line(result: &RunResult) -> String {
    epoch_line(&result.variables, result.iterations, &result.x)
}

/// Every line `train_2d` prints (iterations 1..=steps).
fn printout(result: &RunResult) -> Vec<String> {
    result
        .trace
        .records()
        .skip(1)
        .map(|rec| epoch_line(&result.variables, rec.iteration, rec.x))
        .collect()
}

fn run_formula(src: &str, method: &mut dyn Method, x0: &[f64], options: &Options) -> RunResult {
    let f = Formula::parse(src).expect("formula parses");
    run(&f, method, x0, options).expect("run starts")
}

fn run_book(method: &mut dyn Method) -> RunResult {
    run_formula(BOOK_F, method, &X0, &Options::book(20))
}

/// The book's `f_2d` with its hand-written gradient `(0.2 x1, 4 x2)`.
fn book_manual() -> impl Objective {
    Manual::new(
        2,
        |x: &[f64]| 0.1 * x[0] * x[0] + 2.0 * x[1] * x[1],
        |x: &[f64], g: &mut [f64]| {
            g[0] = 0.2 * x[0];
            g[1] = 4.0 * x[1];
        },
        |_: &[f64], h: &mut [f64]| h.copy_from_slice(&[0.2, 0.0, 0.0, 4.0]),
    )
}

fn reference_cases() -> Vec<(Box<dyn Method>, &'static str)> {
    vec![
        (
            Box::new(GradientDescent::new(0.4)),
            "epoch 20, x1: -0.943467, x2: -0.000073",
        ),
        (
            Box::new(GradientDescent::new(0.6)),
            "epoch 20, x1: -0.387814, x2: -1673.365109",
        ),
        (
            Box::new(Momentum::new(0.6, 0.5)),
            "epoch 20, x1: 0.007188, x2: 0.002553",
        ),
        (
            Box::new(Momentum::new(0.6, 0.25)),
            "epoch 20, x1: -0.126340, x2: -0.186632",
        ),
        (
            Box::new(AdaGrad::new(0.4)),
            "epoch 20, x1: -2.382563, x2: -0.158591",
        ),
        (
            Box::new(AdaGrad::new(2.0)),
            "epoch 20, x1: -0.002295, x2: -0.000000",
        ),
        (
            Box::new(RmsProp::new(0.4, 0.9)),
            "epoch 20, x1: -0.010599, x2: 0.000000",
        ),
    ]
}

#[test]
fn reference_lines_with_formula_derivatives() {
    for (mut method, expected) in reference_cases() {
        let r = run_book(method.as_mut());
        assert_eq!(last_line(&r), expected, "{}", method.describe());
        assert_eq!(r.status, Status::IterationLimit);
        assert_eq!(r.trace.len(), 21);
    }
}

#[test]
fn reference_lines_with_hand_written_derivatives() {
    let f = book_manual();
    for (mut method, expected) in reference_cases() {
        let r = run(&f, method.as_mut(), &X0, &Options::book(20)).unwrap();
        assert_eq!(last_line(&r), expected, "{}", method.describe());
    }
}

// The book's trainers, written out as in the chapter: a trainer maps
// (x1, x2, s1, s2) to the next (x1, x2, s1, s2); `train_2d` starts at
// (-5, -2, 0, 0) and prints after every step.

type Trainer = dyn Fn(f64, f64, f64, f64) -> (f64, f64, f64, f64);

fn book_train_2d(trainer: &Trainer, steps: usize) -> Vec<String> {
    let (mut x1, mut x2, mut s1, mut s2) = (-5.0, -2.0, 0.0, 0.0);
    let mut lines = Vec::new();
    for i in 0..steps {
        (x1, x2, s1, s2) = trainer(x1, x2, s1, s2);
        lines.push(format!("epoch {}, x1: {:.6}, x2: {:.6}", i + 1, x1, x2));
    }
    lines
}

fn book_momentum(eta: f64, beta: f64) -> Box<Trainer> {
    Box::new(move |x1, x2, v1, v2| {
        let v1 = beta * v1 + 0.2 * x1;
        let v2 = beta * v2 + 4.0 * x2;
        (x1 - eta * v1, x2 - eta * v2, v1, v2)
    })
}

fn book_adagrad(eta: f64) -> Box<Trainer> {
    Box::new(move |mut x1, mut x2, mut s1, mut s2| {
        let eps = 1e-6;
        let (g1, g2) = (0.2 * x1, 4.0 * x2);
        s1 += g1 * g1;
        s2 += g2 * g2;
        x1 -= eta / (s1 + eps).sqrt() * g1;
        x2 -= eta / (s2 + eps).sqrt() * g2;
        (x1, x2, s1, s2)
    })
}

fn book_rmsprop(eta: f64, gamma: f64) -> Box<Trainer> {
    Box::new(move |mut x1, mut x2, s1, s2| {
        let (g1, g2, eps) = (0.2 * x1, 4.0 * x2, 1e-6);
        let s1 = gamma * s1 + (1.0 - gamma) * g1 * g1;
        let s2 = gamma * s2 + (1.0 - gamma) * g2 * g2;
        x1 -= eta / (s1 + eps).sqrt() * g1;
        x2 -= eta / (s2 + eps).sqrt() * g2;
        (x1, x2, s1, s2)
    })
}

#[test]
fn full_printouts_match_the_books_trainers() {
    let cases: Vec<(Box<dyn Method>, Box<Trainer>)> = vec![
        (Box::new(Momentum::new(0.6, 0.5)), book_momentum(0.6, 0.5)),
        (Box::new(Momentum::new(0.6, 0.25)), book_momentum(0.6, 0.25)),
        (Box::new(AdaGrad::new(0.4)), book_adagrad(0.4)),
        (Box::new(AdaGrad::new(2.0)), book_adagrad(2.0)),
        (Box::new(RmsProp::new(0.4, 0.9)), book_rmsprop(0.4, 0.9)),
    ];
    for (mut method, trainer) in cases {
        let expected = book_train_2d(trainer.as_ref(), 20);
        let got = printout(&run_book(method.as_mut()));
        assert_eq!(got.len(), 20);
        for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g, e, "{}: line {}", method.describe(), k + 1);
        }
    }
    // The hand-rolled loop reproduces the reference too (it checks the test).
    assert_eq!(
        book_train_2d(book_rmsprop(0.4, 0.9).as_ref(), 20)[19],
        "epoch 20, x1: -0.010599, x2: 0.000000"
    );
}

#[test]
fn momentum_with_beta_zero_is_gradient_descent() {
    let a = run_book(&mut Momentum::new(0.4, 0.0));
    let b = run_book(&mut GradientDescent::new(0.4));
    for (p, q) in a.trace.iterates().zip(b.trace.iterates()) {
        assert_eq!(p, q);
    }
}

// Adam and Adadelta: first steps by hand on x1^2 + 2 x2^2 (gradient
// (2 x1, 4 x2)), then convergence.

fn assert_close(got: &[f64], expected: &[f64], what: &str) {
    for (g, e) in got.iter().zip(expected) {
        assert!(
            (g - e).abs() <= 1e-12 * (1.0 + e.abs()),
            "{what}: {got:?} vs {expected:?}"
        );
    }
}

fn iterates(result: &RunResult) -> Vec<Vec<f64>> {
    result.trace.iterates().map(|x| x.to_vec()).collect()
}

#[test]
fn adam_first_steps_by_hand() {
    let (eta, b1, b2, eps) = (0.1, 0.9, 0.999, 1e-6);
    let r = run_formula("x1^2 + 2*x2^2", &mut Adam::new(eta), &X0, &Options::book(3));
    let xs = iterates(&r);

    // Step 1: v = 0.1 g, s = 0.001 g^2, so v^ = g, s^ = g^2 and the step is
    // eta g / (|g| + eps): almost exactly eta per coordinate.
    let g = [-10.0, -8.0];
    let step1 = [
        -5.0 - eta * g[0] / (10.0 + eps),
        -2.0 - eta * g[1] / (8.0 + eps),
    ];
    assert_close(&xs[1], &step1, "Adam step 1");
    assert!((xs[1][0] - -4.9).abs() < 1e-7 && (xs[1][1] - -1.9).abs() < 1e-7);

    // Steps 2 and 3 written out per coordinate.
    let mut x = step1;
    let mut v = [(1.0 - b1) * g[0], (1.0 - b1) * g[1]];
    let mut s = [(1.0 - b2) * g[0] * g[0], (1.0 - b2) * g[1] * g[1]];
    for t in 2..=3 {
        let g = [2.0 * x[0], 4.0 * x[1]];
        for i in 0..2 {
            v[i] = b1 * v[i] + (1.0 - b1) * g[i];
            s[i] = b2 * s[i] + (1.0 - b2) * g[i] * g[i];
            let v_hat = v[i] / (1.0 - f64::powi(b1, t));
            let s_hat = s[i] / (1.0 - f64::powi(b2, t));
            x[i] -= eta * v_hat / (s_hat.sqrt() + eps);
        }
        assert_close(&xs[t as usize], &x, &format!("Adam step {t}"));
    }
}

#[test]
fn adam_converges_on_a_convex_quadratic() {
    let r = run_formula(
        "x1^2 + 2*x2^2",
        &mut Adam::new(0.1),
        &X0,
        &Options::default(),
    );
    assert_eq!(r.status, Status::Converged, "{}", r.status);
    assert!(r.grad_norm <= 1e-8);
    assert!(r.x.iter().all(|v| v.abs() < 1e-8), "{:?}", r.x);
    assert!(
        r.iterations > 100,
        "Adam's steps are about eta long: not a one-step method"
    );
}

#[test]
fn adadelta_first_steps_by_hand() {
    let (rho, eps): (f64, f64) = (0.9, 1e-5);
    let r = run_formula(
        "x1^2 + 2*x2^2",
        &mut Adadelta::new(rho),
        &X0,
        &Options::book(3),
    );
    let xs = iterates(&r);

    // Step 1: s = 0.1 g^2, delta = 0, update = sqrt(eps) / sqrt(s + eps) g,
    // about sqrt(eps / (1 - rho)) = 0.01 per coordinate.
    let g = [-10.0_f64, -8.0_f64];
    let u = [
        eps.sqrt() / ((1.0 - rho) * 100.0 + eps).sqrt() * g[0],
        eps.sqrt() / ((1.0 - rho) * 64.0 + eps).sqrt() * g[1],
    ];
    let step1 = [-5.0 - u[0], -2.0 - u[1]];
    assert_close(&xs[1], &step1, "Adadelta step 1");
    assert!((xs[1][0] - -4.99).abs() < 1e-5 && (xs[1][1] - -1.99).abs() < 1e-5);

    let mut x = step1;
    let mut s = [(1.0 - rho) * g[0] * g[0], (1.0 - rho) * g[1] * g[1]];
    let mut delta = [(1.0 - rho) * u[0] * u[0], (1.0 - rho) * u[1] * u[1]];
    for (t, expected) in xs.iter().enumerate().skip(2) {
        let g = [2.0 * x[0], 4.0 * x[1]];
        for i in 0..2 {
            s[i] = rho * s[i] + (1.0 - rho) * g[i] * g[i];
            let update = (delta[i] + eps).sqrt() / (s[i] + eps).sqrt() * g[i];
            x[i] -= update;
            delta[i] = rho * delta[i] + (1.0 - rho) * update * update;
        }
        assert_close(expected, &x, &format!("Adadelta step {t}"));
    }
}

#[test]
fn adadelta_converges_on_a_convex_quadratic() {
    let r = run_formula(
        "0.5*x1^2 + 0.5*x2^2",
        &mut Adadelta::new(0.9),
        &X0,
        &Options::default(),
    );
    assert_eq!(r.status, Status::Converged, "{}", r.status);
    assert!(r.x.iter().all(|v| v.abs() < 1e-8), "{:?}", r.x);
}

#[test]
fn adadelta_keeps_oscillating_where_the_curvature_exceeds_two() {
    // Documented in the module: near the minimum Adadelta's effective
    // learning rate tends to about 1, so with curvature 4 in x2 the iterates
    // cycle instead of converging (while x1, curvature 2, settles).
    let options = Options {
        grad_tol: 1e-8,
        ..Options::book(5000)
    };
    let r = run_formula("x1^2 + 2*x2^2", &mut Adadelta::new(0.9), &X0, &options);
    assert_eq!(r.status, Status::IterationLimit);
    assert!(r.x[0].abs() < 1e-8, "{:?}", r.x);
    assert!(r.x[1].abs() > 1e-3, "{:?}", r.x);
    assert!(
        r.f < 1e-2 * r.trace.get(0).f,
        "it still descends a long way first"
    );
}

// Diagonal preconditioning and the lightweight Newton of exercise 4.

#[test]
fn precond_fixes_mismatched_scales_in_one_step() {
    let f = "x1^2 + 100*x2^2";
    let r = run_formula(f, &mut Precond::new(1.0, false), &X0, &Options::default());
    assert_eq!(r.status, Status::Converged);
    assert_eq!(r.iterations, 1);
    assert_eq!(r.x, [0.0, 0.0]);
    let light = run_formula(
        f,
        &mut Precond::lightweight_newton(1.0),
        &X0,
        &Options::default(),
    );
    assert_eq!((light.iterations, light.x.clone()), (1, vec![0.0, 0.0]));

    // Gradient descent needs eta < 2/200 for x2 and then crawls in x1.
    let options = Options {
        max_iterations: 100,
        ..Options::default()
    };
    let gd = run_formula(f, &mut GradientDescent::new(0.009), &X0, &options);
    assert_eq!(gd.status, Status::IterationLimit);
    assert!(gd.x[0].abs() > 0.5, "{:?}", gd.x);
    let gd_big = run_formula(f, &mut GradientDescent::new(0.011), &X0, &options);
    assert!(
        gd_big.x[1].abs() > 2.0,
        "eta above 2/200 blows up x2: {:?}",
        gd_big.x
    );
}

#[test]
fn signed_precond_is_newton_in_one_dimension() {
    let f = "x*cos(0.15*pi*x)";
    let p = run_formula(
        f,
        &mut Precond::new(1.0, false),
        &[10.0],
        &Options::book(10),
    );
    let n = run_formula(f, &mut Newton::new(1.0), &[10.0], &Options::book(10));
    assert_eq!(last_line(&p), "epoch 10, x: 26.834133");
    for (a, b) in p.trace.iterates().zip(n.trace.iterates()) {
        assert_eq!(a, b);
    }
    let damped = run_formula(
        f,
        &mut Precond::new(0.5, false),
        &[10.0],
        &Options::book(10),
    );
    assert_eq!(last_line(&damped), "epoch 10, x: 7.269860");
}

#[test]
fn lightweight_newton_descends_where_newton_ascends() {
    let f = "x*cos(0.15*pi*x)";
    let newton = run_formula(f, &mut Newton::new(1.0), &[10.0], &Options::book(10));
    let light = run_formula(
        f,
        &mut Precond::lightweight_newton(1.0),
        &[10.0],
        &Options::book(10),
    );
    let f0 = newton.trace.get(0).f;
    assert!(newton.f > f0, "Newton climbs to {}", newton.f);
    assert!(
        light.f < f0,
        "lightweight Newton ends below f(x0): {}",
        light.f
    );
    assert!(light.f < newton.f);
    assert_eq!(last_line(&light), "epoch 10, x: 20.221876");
    assert_eq!(format!("{:.6}", light.f), "-20.111443");
    // At a stationary point (a local minimum, by the descent above).
    assert!(light.grad_norm < 1e-9, "{}", light.grad_norm);
}

#[test]
fn precond_zero_diagonal_is_a_reported_failure() {
    for src in ["x1*x2", "x1^2 + x2"] {
        let r = run_formula(src, &mut Precond::new(1.0, false), &X0, &Options::book(5));
        match &r.status {
            Status::MethodFailed { iteration, reason } => {
                assert_eq!(*iteration, 1, "{src}");
                assert!(reason.contains("singular"), "{src}: {reason}");
            }
            other => panic!("{src}: expected a method failure, got {other:?}"),
        }
        assert_eq!(r.x, X0, "the start is kept");
        assert_eq!(r.iterations, 0);
    }
    // The absolute variant floors the zero at 1e-8: huge steps (x1*x2 is
    // unbounded below) but no method failure and no panic.
    let r = run_formula(
        "x1*x2",
        &mut Precond::lightweight_newton(1.0),
        &X0,
        &Options::book(5),
    );
    assert!(
        !matches!(r.status, Status::MethodFailed { .. }),
        "{:?}",
        r.status
    );
    // A floor of zero turns the absolute variant's zero into a failure too.
    let mut zero_floor = Precond::lightweight_newton(1.0).with_floor(0.0);
    let r = run_formula("x1*x2", &mut zero_floor, &X0, &Options::book(5));
    assert!(
        matches!(r.status, Status::MethodFailed { iteration: 1, .. }),
        "{:?}",
        r.status
    );
}

#[test]
fn precond_non_finite_hessian_is_a_reported_failure() {
    // Finite at x0 = 10 (the driver checks the start), NaN afterwards.
    let f = Manual::new(
        1,
        |x: &[f64]| x[0] * x[0],
        |x: &[f64], g: &mut [f64]| g[0] = 2.0 * x[0],
        |x: &[f64], h: &mut [f64]| h[0] = if x[0] == 10.0 { 2.0 } else { f64::NAN },
    );
    for absolute in [false, true] {
        let r = run(
            &f,
            &mut Precond::new(0.5, absolute),
            &[10.0],
            &Options::book(5),
        )
        .unwrap();
        match &r.status {
            Status::MethodFailed { iteration, reason } => {
                assert_eq!(*iteration, 2);
                assert!(reason.contains("not finite"), "{reason}");
            }
            other => panic!("expected a method failure, got {other:?}"),
        }
        assert_eq!(r.x, [5.0]);
    }
}

// State: each run starts from zero state, also with a reused value.

fn all_methods() -> Vec<Box<dyn Method>> {
    vec![
        Box::new(Momentum::new(0.6, 0.5)),
        Box::new(AdaGrad::new(0.4)),
        Box::new(RmsProp::new(0.4, 0.9)),
        Box::new(Adadelta::new(0.9)),
        Box::new(Adam::new(0.1)),
        Box::new(Precond::new(0.5, false)),
        Box::new(Precond::lightweight_newton(0.5)),
    ]
}

#[test]
fn a_reused_method_value_starts_each_run_afresh() {
    for (mut fresh, mut reused) in all_methods().into_iter().zip(all_methods()) {
        let first = run_book(reused.as_mut());
        let second = run_book(reused.as_mut());
        let from_new = run_book(fresh.as_mut());
        let name = fresh.describe();
        assert_eq!(iterates(&first), iterates(&second), "{name}: reused");
        assert_eq!(iterates(&first), iterates(&from_new), "{name}: fresh");
        // A run of another dimension in between resizes the state.
        run_formula("x^2", reused.as_mut(), &[3.0], &Options::book(4));
        assert_eq!(
            iterates(&run_book(reused.as_mut())),
            iterates(&first),
            "{name}: after 1-d"
        );
    }
}

#[test]
fn a_cloned_method_value_is_independent() {
    let mut a = Momentum::new(0.6, 0.5);
    let first = run_book(&mut a);
    let mut b = a.clone();
    assert_eq!(iterates(&run_book(&mut b)), iterates(&first));
}

#[test]
fn descriptions_show_the_parameters() {
    assert_eq!(
        Momentum::new(0.6, 0.5).describe(),
        "momentum (eta = 0.6, beta = 0.5)"
    );
    assert_eq!(
        AdaGrad::new(0.4).describe(),
        "AdaGrad (eta = 0.4, eps = 1e-6)"
    );
    assert_eq!(
        RmsProp::new(0.4, 0.9).describe(),
        "RMSProp (eta = 0.4, gamma = 0.9, eps = 1e-6)"
    );
    assert_eq!(
        Adadelta::new(0.9).describe(),
        "Adadelta (rho = 0.9, eps = 1e-5)"
    );
    assert_eq!(
        Adam::new(0.1).describe(),
        "Adam (eta = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 1e-6)"
    );
    assert_eq!(
        Precond::new(1.0, false).describe(),
        "diagonal preconditioning (eta = 1)"
    );
    assert_eq!(
        Precond::lightweight_newton(1.0).describe(),
        "lightweight Newton (|diag H| preconditioning, eta = 1, floor = 1e-8)"
    );
    use downhill::method::HessianNeed::{Diagonal, None as NoHessian};
    let hessian_needs: Vec<_> = all_methods().iter().map(|m| m.hessian_need()).collect();
    assert_eq!(
        hessian_needs,
        [NoHessian, NoHessian, NoHessian, NoHessian, NoHessian, Diagonal, Diagonal]
    );
    let r = run_book(&mut RmsProp::new(0.4, 0.9));
    assert_eq!(r.method, "RMSProp (eta = 0.4, gamma = 0.9, eps = 1e-6)");
}

#[test]
fn builders_set_the_parameters() {
    assert_eq!(AdaGrad::new(1.0).with_eps(1e-8).eps, 1e-8);
    assert_eq!(RmsProp::new(1.0, 0.9).with_eps(1e-8).eps, 1e-8);
    assert_eq!(Adadelta::new(0.9).with_eps(1e-6).eps, 1e-6);
    let adam = Adam::new(0.01).with_betas(0.8, 0.99).with_eps(1e-8);
    assert_eq!((adam.beta1, adam.beta2, adam.eps), (0.8, 0.99, 1e-8));
    let p = Precond::lightweight_newton(0.5).with_floor(1e-3);
    assert_eq!((p.eta, p.absolute, p.floor), (0.5, true, 1e-3));
}
