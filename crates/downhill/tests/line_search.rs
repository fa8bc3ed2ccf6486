//! Line searches (chapter section 6 and exercise 2): each search's condition
//! is checked explicitly on convex and non-convex φ, including the test
//! functions of Moré & Thuente (1994), for first steps from 1e-3 to 1e3.

use downhill::line_search::{
    bisection_minimize, golden_minimize, Armijo, Exact, Golden, LineFunction, LineSearch,
    LineSearchError, LineSearchResult, MoreThuente, Ray,
};
use downhill::objective::{Manual, Problem};
use proptest::prelude::*;

const T_INITS: [f64; 7] = [1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3];

/// A one-dimensional test function with its known minimizer, if any.
struct Case {
    name: &'static str,
    phi: fn(f64) -> (f64, f64),
    minimizer: Option<f64>,
}

/// `log(exp(s) + exp(−2s − 3))`, the chapter's exercise function, and its slope.
fn book(s: f64) -> (f64, f64) {
    let (p, q) = (s.exp(), (-2.0 * s - 3.0).exp());
    ((p + q).ln(), (p - 2.0 * q) / (p + q))
}

/// Its minimizer `(ln 2 − 3)/3`.
fn book_minimizer() -> f64 {
    (2.0_f64.ln() - 3.0) / 3.0
}

fn quadratic(t: f64) -> (f64, f64) {
    ((t - 3.0).powi(2), 2.0 * (t - 3.0))
}

fn quartic(t: f64) -> (f64, f64) {
    ((t - 2.0).powi(4), 4.0 * (t - 2.0).powi(3))
}

/// The book's function moved so that its minimizer is at `5 − 0.768951 > 0`.
fn book_shifted(t: f64) -> (f64, f64) {
    book(t - 5.0)
}

/// Moré & Thuente's function 1: `φ(t) = −t/(t² + β)`, β = 2.
fn mt1(t: f64) -> (f64, f64) {
    let beta = 2.0;
    let q = t * t + beta;
    (-t / q, (t * t - beta) / (q * q))
}

/// Function 2: `φ(t) = (t + β)⁵ − 2(t + β)⁴`, β = 0.004.
fn mt2(t: f64) -> (f64, f64) {
    let s = t + 0.004;
    (
        s.powi(5) - 2.0 * s.powi(4),
        5.0 * s.powi(4) - 8.0 * s.powi(3),
    )
}

/// Function 3: a piecewise `φ₀` plus `2(1 − β)/(lπ) sin(lπt/2)`, β = 0.01, l = 39.
fn mt3(t: f64) -> (f64, f64) {
    let (beta, l) = (0.01, 39.0);
    let (phi0, dphi0) = if t <= 1.0 - beta {
        (1.0 - t, -1.0)
    } else if t >= 1.0 + beta {
        (t - 1.0, 1.0)
    } else {
        (
            (t - 1.0).powi(2) / (2.0 * beta) + beta / 2.0,
            (t - 1.0) / beta,
        )
    };
    let w = l * std::f64::consts::PI / 2.0;
    (
        phi0 + 2.0 * (1.0 - beta) / (l * std::f64::consts::PI) * (w * t).sin(),
        dphi0 + (1.0 - beta) * (w * t).cos(),
    )
}

/// Functions 4–6: `γ(β₁)√((1 − t)² + β₂²) + γ(β₂)√(t² + β₁²)`, `γ(β) = √(1 + β²) − β`.
fn mt_yanai(t: f64, b1: f64, b2: f64) -> (f64, f64) {
    let gamma = |b: f64| (1.0 + b * b).sqrt() - b;
    let (r1, r2) = (
        ((1.0 - t).powi(2) + b2 * b2).sqrt(),
        (t * t + b1 * b1).sqrt(),
    );
    (
        gamma(b1) * r1 + gamma(b2) * r2,
        gamma(b1) * (t - 1.0) / r1 + gamma(b2) * t / r2,
    )
}

fn mt4(t: f64) -> (f64, f64) {
    mt_yanai(t, 0.001, 0.001)
}

fn mt5(t: f64) -> (f64, f64) {
    mt_yanai(t, 0.01, 0.001)
}

fn mt6(t: f64) -> (f64, f64) {
    mt_yanai(t, 0.001, 0.01)
}

fn convex_cases() -> Vec<Case> {
    vec![
        Case {
            name: "(t-3)^2",
            phi: quadratic,
            minimizer: Some(3.0),
        },
        Case {
            name: "(t-2)^4",
            phi: quartic,
            minimizer: Some(2.0),
        },
        Case {
            name: "book(t-5)",
            phi: book_shifted,
            minimizer: Some(5.0 + book_minimizer()),
        },
    ]
}

/// Moré & Thuente's six functions with the (c₁, c₂) of their paper.
fn more_thuente_cases() -> Vec<(Case, f64, f64)> {
    let case = |name, phi| Case {
        name,
        phi,
        minimizer: None,
    };
    vec![
        (case("mt1", mt1 as fn(f64) -> (f64, f64)), 1e-3, 0.1),
        (case("mt2", mt2), 0.1, 0.1),
        (case("mt3", mt3), 0.1, 0.1),
        (case("mt4", mt4), 1e-3, 1e-3),
        (case("mt5", mt5), 1e-3, 1e-3),
        (case("mt6", mt6), 1e-3, 1e-3),
    ]
}

fn all_cases() -> Vec<Case> {
    let mut cases = convex_cases();
    cases.extend(more_thuente_cases().into_iter().map(|(case, _, _)| case));
    cases
}

/// Wraps a function and counts every call, by kind.
struct Counted<F> {
    phi: F,
    values: usize,
    derivatives: usize,
}

impl<F: FnMut(f64) -> (f64, f64)> Counted<F> {
    fn new(phi: F) -> Self {
        Counted {
            phi,
            values: 0,
            derivatives: 0,
        }
    }
    fn calls(&self) -> usize {
        self.values + self.derivatives
    }
}

impl<F: FnMut(f64) -> (f64, f64)> LineFunction for Counted<F> {
    fn value(&mut self, t: f64) -> f64 {
        self.values += 1;
        (self.phi)(t).0
    }
    fn value_derivative(&mut self, t: f64) -> (f64, f64) {
        self.derivatives += 1;
        (self.phi)(t)
    }
}

/// Runs `search` on `phi` from `t = 0`, checking the evaluation count.
fn run(
    search: &mut dyn LineSearch,
    phi: fn(f64) -> (f64, f64),
    t_init: f64,
) -> Result<LineSearchResult, LineSearchError> {
    let (phi0, dphi0) = phi(0.0);
    let mut counted = Counted::new(phi);
    let result = search.search(&mut counted, phi0, dphi0, t_init);
    if let Ok(step) = &result {
        assert_eq!(step.evaluations, counted.calls(), "{}", search.name());
        assert_eq!(step.phi, phi(step.t).0, "reported φ(t) is φ at t");
    }
    result
}

fn sufficient_decrease(phi: fn(f64) -> (f64, f64), c1: f64, t: f64) -> bool {
    let (phi0, dphi0) = phi(0.0);
    phi(t).0 <= phi0 + c1 * t * dphi0
}

fn strong_wolfe(phi: fn(f64) -> (f64, f64), c1: f64, c2: f64, t: f64) -> bool {
    let dphi0 = phi(0.0).1;
    sufficient_decrease(phi, c1, t) && phi(t).1.abs() <= c2 * dphi0.abs()
}

// ---------------------------------------------------------------- exact, golden

#[test]
fn exact_finds_the_minimizer_within_its_tolerance() {
    for case in convex_cases() {
        let minimizer = case.minimizer.unwrap();
        for t_init in T_INITS {
            let mut search = Exact::default();
            let step = run(&mut search, case.phi, t_init)
                .unwrap_or_else(|e| panic!("{} from {t_init}: {e}", case.name));
            // The final bracket [lo, hi] ∋ t* has hi − lo ≤ tol·hi and t ∈ {lo, hi}.
            let bound = search.tol * step.t * (1.0 + 1e-9);
            assert!(
                (step.t - minimizer).abs() <= bound,
                "{} from {t_init}: t = {}, error {:e}",
                case.name,
                step.t,
                (step.t - minimizer).abs()
            );
        }
    }
}

#[test]
fn golden_finds_the_minimizer_within_its_tolerance() {
    for case in convex_cases() {
        let minimizer = case.minimizer.unwrap();
        for t_init in T_INITS {
            let mut search = Golden::default();
            let step = run(&mut search, case.phi, t_init)
                .unwrap_or_else(|e| panic!("{} from {t_init}: {e}", case.name));
            // The final bracket ∋ t* has width ≤ tol·t when φ's comparisons are
            // exact; the book's function has a constant part, whose rounding
            // (~1e-16 in φ, so ~1e-8 in t where φ″ = 2) limits any value-only method.
            let bound = if case.name == "book(t-5)" {
                1e-7
            } else {
                search.tol * step.t
            };
            assert!(
                (step.t - minimizer).abs() <= bound,
                "{} from {t_init}: t = {}, error {:e}",
                case.name,
                step.t,
                (step.t - minimizer).abs()
            );
        }
    }
}

#[test]
fn golden_asks_for_values_only_and_exact_for_slopes() {
    let (phi0, dphi0) = quadratic(0.0);
    let mut counted = Counted::new(quadratic);
    Golden::default()
        .search(&mut counted, phi0, dphi0, 0.5)
        .unwrap();
    assert_eq!(counted.derivatives, 0);
    assert!(counted.values > 0);

    let mut counted = Counted::new(quadratic);
    Exact::default()
        .search(&mut counted, phi0, dphi0, 0.5)
        .unwrap();
    assert_eq!(counted.values, 0);
    assert!(counted.derivatives > 0);
}

#[test]
fn exact_and_golden_find_a_local_minimizer_of_non_convex_functions() {
    // mt1 has its minimizer at √2; mt2 at 1.6 − 0.004.
    for (phi, minimizer) in [(mt1 as fn(f64) -> (f64, f64), 2.0_f64.sqrt()), (mt2, 1.596)] {
        for t_init in T_INITS {
            let step = run(&mut Exact::default(), phi, t_init).unwrap();
            assert!((step.t - minimizer).abs() <= 1e-9, "exact: {step:?}");
            let step = run(&mut Golden::default(), phi, t_init).unwrap();
            assert!((step.t - minimizer).abs() <= 1e-6, "golden: {step:?}");
        }
    }
}

// ---------------------------------------------------------------- armijo

#[test]
fn armijo_returns_the_first_backtracked_step_with_sufficient_decrease() {
    for case in all_cases() {
        for t_init in T_INITS {
            let search = Armijo::default();
            let step = run(&mut search.clone(), case.phi, t_init)
                .unwrap_or_else(|e| panic!("{} from {t_init}: {e}", case.name));
            assert!(
                sufficient_decrease(case.phi, search.c1, step.t),
                "{} from {t_init}: {step:?}",
                case.name
            );
            // t = t₀ ρᵏ after k + 1 evaluations, and every earlier trial failed.
            let k = step.evaluations - 1;
            assert_eq!(step.t, t_init * search.shrink.powi(k as i32));
            for j in 0..k {
                let earlier = t_init * search.shrink.powi(j as i32);
                assert!(
                    !sufficient_decrease(case.phi, search.c1, earlier),
                    "{} from {t_init}: trial {earlier} should have been accepted",
                    case.name
                );
            }
        }
    }
}

#[test]
fn armijo_uses_values_only() {
    let (phi0, dphi0) = quartic(0.0);
    let mut counted = Counted::new(quartic);
    let step = Armijo::default()
        .search(&mut counted, phi0, dphi0, 100.0)
        .unwrap();
    assert_eq!(counted.derivatives, 0);
    assert_eq!(counted.values, step.evaluations);
}

// ---------------------------------------------------------------- more-thuente

#[test]
fn more_thuente_satisfies_strong_wolfe_with_the_papers_parameters() {
    // Evaluations reported in Tables I–VI of Moré & Thuente (1994) for
    // t₀ = 1e-3, 1e-1, 1e1, 1e3; a faithful implementation reproduces them.
    let papers_counts = [
        [6, 3, 1, 4],
        [12, 8, 8, 11],
        [12, 12, 10, 13],
        [4, 1, 3, 4],
        [6, 3, 7, 8],
        [13, 11, 8, 11],
    ];
    for ((case, c1, c2), counts) in more_thuente_cases().into_iter().zip(papers_counts) {
        for (t_init, count) in [1e-3, 1e-1, 1e1, 1e3].into_iter().zip(counts) {
            let mut search = MoreThuente {
                c1,
                c2,
                ..MoreThuente::default()
            };
            let step = run(&mut search, case.phi, t_init)
                .unwrap_or_else(|e| panic!("{} from {t_init}: {e}", case.name));
            assert!(
                strong_wolfe(case.phi, c1, c2, step.t),
                "{} from {t_init}: {step:?}, φ′(t) = {:e}",
                case.name,
                (case.phi)(step.t).1
            );
            assert_eq!(
                step.evaluations, count,
                "{} from {t_init}: {step:?}",
                case.name
            );
        }
    }
}

#[test]
fn more_thuente_steps_match_the_papers_tables() {
    // Function 1 (Table I): t = 1.4, 1.4, 10, 37; functions 2 and 3: t = 1.6, 1.0.
    let mt = |phi, c1, c2, t_init| {
        let mut search = MoreThuente {
            c1,
            c2,
            ..MoreThuente::default()
        };
        run(&mut search, phi, t_init).unwrap().t
    };
    // (the paper prints one decimal)
    let rounded = |t: f64| format!("{t:.1}");
    assert_eq!(rounded(mt(mt1, 1e-3, 0.1, 1e-3)), "1.4");
    assert_eq!(rounded(mt(mt1, 1e-3, 0.1, 1e-1)), "1.4");
    assert_eq!(mt(mt1, 1e-3, 0.1, 1e1), 10.0);
    assert_eq!(format!("{:.0}", mt(mt1, 1e-3, 0.1, 1e3)), "37");
    for t_init in [1e-3, 1e-1, 1e1, 1e3] {
        assert_eq!(rounded(mt(mt2, 0.1, 0.1, t_init)), "1.6");
        assert_eq!(rounded(mt(mt3, 0.1, 0.1, t_init)), "1.0");
    }
}

#[test]
fn more_thuente_satisfies_strong_wolfe_with_default_parameters() {
    for case in all_cases() {
        for t_init in T_INITS {
            let mut search = MoreThuente::default();
            let step = run(&mut search, case.phi, t_init)
                .unwrap_or_else(|e| panic!("{} from {t_init}: {e}", case.name));
            assert!(
                strong_wolfe(case.phi, search.c1, search.c2, step.t),
                "{} from {t_init}: {step:?}",
                case.name
            );
            assert!(
                step.evaluations <= 30,
                "{} from {t_init}: {step:?}",
                case.name
            );
        }
    }
}

#[test]
fn more_thuente_with_tight_curvature_lands_near_the_minimizer() {
    // c₂ = 1e-6 forces │φ′(t)│ ≤ 1e-6 │φ′(0)│: t is within 1e-6·6/2 of 3 on (t − 3)².
    for t_init in T_INITS {
        let mut search = MoreThuente {
            c2: 1e-6,
            ..MoreThuente::default()
        };
        let step = run(&mut search, quadratic, t_init).unwrap();
        assert!((step.t - 3.0).abs() <= 3e-6, "{step:?}");
        let step = run(&mut search, book_shifted, t_init).unwrap();
        let dphi0 = book_shifted(0.0).1;
        assert!(
            book_shifted(step.t).1.abs() <= 1e-6 * dphi0.abs(),
            "{step:?}"
        );
    }
}

#[test]
fn more_thuente_accepts_the_first_step_when_it_is_already_acceptable() {
    // φ(t) = (t − 3)²: t = 2.5 has φ′ = −1, within 0.9·6.
    let step = run(&mut MoreThuente::default(), quadratic, 2.5).unwrap();
    assert_eq!((step.t, step.evaluations), (2.5, 1));
}

// ---------------------------------------------------------------- failures

#[test]
fn every_search_reports_a_non_descent_direction_without_evaluating() {
    let searches: Vec<Box<dyn LineSearch>> = vec![
        Box::new(Exact::default()),
        Box::new(Golden::default()),
        Box::new(Armijo::default()),
        Box::new(MoreThuente::default()),
    ];
    for mut search in searches {
        for slope in [0.0, 1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut counted = Counted::new(quadratic);
            let result = search.search(&mut counted, 9.0, slope, 1.0);
            match result {
                Err(LineSearchError::NotDescent { slope: s }) => {
                    assert!(s == slope || (s.is_nan() && slope.is_nan()))
                }
                other => panic!("{}: slope {slope}: {other:?}", search.name()),
            }
            assert_eq!(counted.calls(), 0);
        }
        let mut counted = Counted::new(quadratic);
        assert_eq!(
            search.search(&mut counted, f64::NAN, -6.0, 1.0),
            Err(LineSearchError::NonFinite)
        );
    }
}

/// (t − 3)² on t ≤ 1 and a non-finite value beyond.
fn with_hole(t: f64, beyond: f64) -> (f64, f64) {
    if t > 1.0 {
        (beyond, beyond)
    } else {
        quadratic(t)
    }
}

#[test]
fn non_finite_values_beyond_one_make_every_search_stay_below_one() {
    let holes: [fn(f64) -> (f64, f64); 3] = [
        |t| with_hole(t, f64::NAN),
        |t| with_hole(t, f64::INFINITY),
        |t| with_hole(t, f64::NEG_INFINITY),
    ];
    for phi in holes {
        for t_init in T_INITS {
            let mut armijo = Armijo::default();
            let step = run(&mut armijo, phi, t_init).unwrap();
            assert!(step.t <= 1.0 && sufficient_decrease(phi, armijo.c1, step.t));

            let mut mt = MoreThuente::default();
            let step = run(&mut mt, phi, t_init).unwrap();
            assert!(step.t <= 1.0, "{step:?}");
            assert!(strong_wolfe(phi, mt.c1, mt.c2, step.t), "{step:?}");

            // The minimizer is cut off at the edge of the finite region.
            let step = run(&mut Exact::default(), phi, t_init).unwrap();
            assert!(step.t <= 1.0 && step.t > 1.0 - 1e-9, "{step:?}");
            let step = run(&mut Golden::default(), phi, t_init).unwrap();
            assert!(step.t <= 1.0 && step.t > 1.0 - 1e-7, "{step:?}");
        }
    }
}

#[test]
fn searches_end_with_an_error_on_unbounded_or_hopeless_functions() {
    let unbounded: fn(f64) -> (f64, f64) = |t| (-t, -1.0);
    let nowhere: fn(f64) -> (f64, f64) = |t| {
        if t > 0.0 {
            (f64::NAN, 0.0)
        } else {
            (0.0, -1.0)
        }
    };
    let searches: Vec<Box<dyn LineSearch>> = vec![
        Box::new(Exact::default()),
        Box::new(Golden::default()),
        Box::new(MoreThuente::default()),
    ];
    for mut search in searches {
        // Still decreasing at the last trial: unbounded, with where.
        match run(search.as_mut(), unbounded, 1.0) {
            Err(LineSearchError::Unbounded { t, phi }) => {
                assert!(phi == -t && t > 1e6, "{}: {t} {phi}", search.name())
            }
            other => panic!("{}: {other:?}", search.name()),
        }
        assert_eq!(
            run(search.as_mut(), nowhere, 1.0),
            Err(LineSearchError::NonFinite),
            "{}",
            search.name()
        );
    }
    assert_eq!(
        run(&mut Armijo::default(), nowhere, 1.0),
        Err(LineSearchError::NonFinite)
    );
    // Armijo accepts any step along an unbounded descent.
    assert_eq!(run(&mut Armijo::default(), unbounded, 1.0).unwrap().t, 1.0);
}

#[test]
fn evaluation_limits_are_respected() {
    let mut counted = Counted::new(mt3);
    let (phi0, dphi0) = mt3(0.0);
    let mut search = MoreThuente {
        c1: 0.1,
        c2: 1e-12,
        max_iter: 7,
        ..MoreThuente::default()
    };
    let result = search.search(&mut counted, phi0, dphi0, 1e-3);
    assert_eq!(result, Err(LineSearchError::NoProgress));
    assert!(counted.calls() <= 7);

    let mut counted = Counted::new(quadratic);
    let mut search = Exact {
        tol: 0.0,
        max_iter: 12,
    };
    let result = search.search(&mut counted, 9.0, -6.0, 1.0);
    assert!(counted.calls() <= 12, "{result:?}");
}

// ---------------------------------------------------------------- ray

/// `f(x) = x1² + 2 x2²` with hand-written derivatives.
type Book2d = Manual<fn(&[f64]) -> f64, fn(&[f64], &mut [f64]), fn(&[f64], &mut [f64])>;

fn book_2d() -> Book2d {
    fn value(x: &[f64]) -> f64 {
        x[0] * x[0] + 2.0 * x[1] * x[1]
    }
    fn gradient(x: &[f64], g: &mut [f64]) {
        g[0] = 2.0 * x[0];
        g[1] = 4.0 * x[1];
    }
    fn hessian(_: &[f64], h: &mut [f64]) {
        h.copy_from_slice(&[2.0, 0.0, 0.0, 4.0]);
    }
    Manual::new(2, value, gradient, hessian)
}

#[test]
fn ray_evaluates_phi_and_its_slope_and_counts_the_calls() {
    let f = book_2d();
    let problem = Problem::new(&f);
    // From (−5, −2) along −∇f = (10, 8):
    // φ(t) = (10t − 5)² + 2(8t − 2)², φ′(t) = 456t − 164.
    let mut ray = Ray::new(&problem, &[-5.0, -2.0], &[10.0, 8.0]);
    assert_eq!(ray.last_gradient(), None);
    assert_eq!(ray.value_derivative(0.0), (33.0, -164.0)); // φ′(0) = −‖∇f‖²
    assert_eq!(ray.value(0.25), 2.5 * 2.5 + 2.0 * 0.0); // (−2.5, 0)
    assert_eq!(ray.value_derivative(1.0), (25.0 + 72.0, 456.0 - 164.0));
    assert_eq!(ray.last_gradient(), Some((1.0, &[10.0, 24.0][..])));
    assert_eq!(ray.last_evaluation(), Some((1.0, 97.0, &[10.0, 24.0][..])));
    let e = problem.evaluations();
    assert_eq!((e.f, e.grad, e.hess), (3, 2, 0));

    // value() does not touch the kept value and gradient.
    ray.value(0.5);
    assert_eq!(ray.last_gradient(), Some((1.0, &[10.0, 24.0][..])));
    assert_eq!(ray.last_evaluation(), Some((1.0, 97.0, &[10.0, 24.0][..])));
    let mut point = [0.0; 2];
    ray.point_at(0.5, &mut point);
    assert_eq!(point, [0.0, 2.0]);
}

#[test]
fn searches_on_a_ray_count_through_the_problem() {
    let f = book_2d();
    let x = [-5.0, -2.0];
    let d = [10.0, 8.0];
    let exact_step = 164.0 / 456.0;

    let problem = Problem::new(&f);
    let mut ray = Ray::new(&problem, &x, &d);
    let step = Exact::default()
        .search(&mut ray, 33.0, -164.0, 1.0)
        .unwrap();
    assert!((step.t - exact_step).abs() <= 1e-10 * exact_step);
    let e = problem.evaluations();
    assert_eq!((e.f, e.grad), (step.evaluations, step.evaluations));

    let problem = Problem::new(&f);
    let mut ray = Ray::new(&problem, &x, &d);
    let step = Armijo::default()
        .search(&mut ray, 33.0, -164.0, 1.0)
        .unwrap();
    let e = problem.evaluations();
    assert_eq!((e.f, e.grad), (step.evaluations, 0));
    assert!(ray.last_gradient().is_none());

    // More–Thuente's last trial is the step it returns: its gradient is kept.
    let problem = Problem::new(&f);
    let mut ray = Ray::new(&problem, &x, &d);
    let step = MoreThuente::default()
        .search(&mut ray, 33.0, -164.0, 1.0)
        .unwrap();
    let (t, grad) = ray.last_gradient().unwrap();
    assert_eq!(t, step.t);
    let point = [x[0] + t * d[0], x[1] + t * d[1]];
    assert_eq!(grad, &[2.0 * point[0], 4.0 * point[1]][..]);
    assert_eq!(problem.evaluations().grad, step.evaluations);
}

#[test]
fn steepest_descent_with_exact_line_search_contracts_by_the_kantorovich_factor() {
    // On a quadratic with Hessian condition number κ = 2 each exact step
    // shrinks f by at least ((κ − 1)/(κ + 1))² = 1/9 (Boyd & Vandenberghe §9.3).
    let f = book_2d();
    let problem = Problem::new(&f);
    let mut x = vec![-5.0, -2.0];
    let mut g = vec![0.0; 2];
    let mut value = problem.value_gradient(&x, &mut g);
    for _ in 0..10 {
        let d: Vec<f64> = g.iter().map(|v| -v).collect();
        let slope: f64 = g.iter().zip(&d).map(|(a, b)| a * b).sum();
        let mut ray = Ray::new(&problem, &x, &d);
        let step = Exact::default()
            .search(&mut ray, value, slope, 1.0)
            .unwrap();
        x = x.iter().zip(&d).map(|(a, b)| a + step.t * b).collect();
        let next = problem.value_gradient(&x, &mut g);
        assert!(next <= value / 9.0 * (1.0 + 1e-6), "{next} vs {value}");
        value = next;
    }
    // Ten exact steps beat the book's twenty fixed steps (x1 = −0.057646).
    assert!(x[0].abs() < 1e-4 && x[1].abs() < 1e-4, "{x:?}");
}

// ---------------------------------------------------------------- exercise 2

fn book_derivative(x: f64) -> f64 {
    book(x).1
}

fn book_value(x: f64) -> f64 {
    book(x).0
}

#[test]
fn bisection_minimizes_the_exercise_function_halving_each_step() {
    let mut calls = 0;
    let mut df = |x: f64| {
        calls += 1;
        book_derivative(x)
    };
    let trace = bisection_minimize(&mut df, -3.0, 2.0, 1e-9, 100);
    assert_eq!(format!("{:.6}", trace.minimizer), "-0.768951");
    assert!((trace.minimizer - book_minimizer()).abs() <= 0.5e-9);
    assert_eq!(format!("{:.6}", book_value(trace.minimizer)), "-0.363486");
    // Width 5/2ᵏ ≤ 1e-9 first at k = 33, one f′ evaluation per step.
    assert_eq!(trace.evaluations, 33);
    assert_eq!(calls, 33);
    assert_eq!(trace.widths.len(), 34);
    assert_eq!(trace.widths[0], 5.0);
    for pair in trace.widths.windows(2) {
        assert_eq!(pair[1], pair[0] / 2.0);
    }
    assert!(trace.widths[32] > 1e-9 && trace.widths[33] <= 1e-9);
}

#[test]
fn bisection_stops_after_max_steps() {
    let trace = bisection_minimize(&mut book_derivative, -3.0, 2.0, 1e-9, 5);
    assert_eq!(trace.evaluations, 5);
    assert_eq!(trace.widths, vec![5.0, 2.5, 1.25, 0.625, 0.3125, 0.15625]);
}

#[test]
fn golden_section_minimizes_the_exercise_function_with_values_only() {
    let mut calls = 0;
    let mut f = |x: f64| {
        calls += 1;
        book_value(x)
    };
    let trace = golden_minimize(&mut f, -3.0, 2.0, 1e-9, 100);
    assert_eq!(format!("{:.6}", trace.minimizer), "-0.768951");
    assert!((trace.minimizer - book_minimizer()).abs() <= 1e-7);
    assert_eq!(calls, trace.evaluations);
    assert_eq!(trace.widths.len(), trace.evaluations - 1);
    let ratio = (5.0_f64.sqrt() - 1.0) / 2.0;
    for pair in trace.widths.windows(2) {
        assert!((pair[1] / pair[0] - ratio).abs() <= 1e-6, "{pair:?}");
    }
}

#[test]
fn golden_section_needs_about_1_44_times_the_evaluations_of_bisection() {
    for tol in [1e-3, 1e-6, 1e-9] {
        let bisection = bisection_minimize(&mut book_derivative, -3.0, 2.0, tol, 200);
        let golden = golden_minimize(&mut book_value, -3.0, 2.0, tol, 200);
        assert_eq!(
            bisection.evaluations,
            (5.0 / tol).log2().ceil() as usize,
            "tol {tol}"
        );
        // Derivative evaluations for bisection, value evaluations for golden section.
        let ratio = golden.evaluations as f64 / bisection.evaluations as f64;
        let expected = 2.0_f64.ln() / ((1.0 + 5.0_f64.sqrt()) / 2.0).ln();
        assert!(golden.evaluations > bisection.evaluations);
        assert!(
            (ratio - expected).abs() < 0.2,
            "tol {tol}: {} vs {} evaluations",
            golden.evaluations,
            bisection.evaluations
        );
        assert!((golden.minimizer - bisection.minimizer).abs() <= tol.max(1e-7));
    }
}

// ---------------------------------------------------------------- properties

proptest! {
    #[test]
    fn strong_wolfe_and_sufficient_decrease_on_random_quadratics(
        curvature in 1e-3_f64..1e3,
        minimizer in 1e-2_f64..1e2,
        offset in -10.0_f64..10.0,
        log_t_init in -3.0_f64..3.0,
    ) {
        let t_init = 10f64.powf(log_t_init);
        let mut phi = move |t: f64| {
            (curvature * (t - minimizer).powi(2) + offset, 2.0 * curvature * (t - minimizer))
        };
        let (phi0, dphi0) = phi(0.0);

        let mt = MoreThuente::default();
        let step = mt.clone().search(&mut phi, phi0, dphi0, t_init).unwrap();
        let (value, slope) = phi(step.t);
        prop_assert!(value <= phi0 + mt.c1 * step.t * dphi0);
        prop_assert!(slope.abs() <= mt.c2 * dphi0.abs());

        let armijo = Armijo::default();
        let step = armijo.clone().search(&mut phi, phi0, dphi0, t_init).unwrap();
        prop_assert!(phi(step.t).0 <= phi0 + armijo.c1 * step.t * dphi0);

        let exact = Exact::default();
        let step = exact.clone().search(&mut phi, phi0, dphi0, t_init).unwrap();
        prop_assert!((step.t - minimizer).abs() <= 1.001 * exact.tol * step.t);
    }

    #[test]
    fn more_thuente_on_the_papers_first_function_from_any_start(
        log_t_init in -3.0_f64..3.0,
        beta in 0.1_f64..10.0,
    ) {
        let t_init = 10f64.powf(log_t_init);
        let mut phi = move |t: f64| {
            let q = t * t + beta;
            (-t / q, (t * t - beta) / (q * q))
        };
        let (phi0, dphi0) = phi(0.0);
        let mt = MoreThuente { c1: 1e-3, c2: 0.1, ..MoreThuente::default() };
        let step = mt.clone().search(&mut phi, phi0, dphi0, t_init).unwrap();
        let (value, slope) = phi(step.t);
        prop_assert!(value <= phi0 + mt.c1 * step.t * dphi0);
        prop_assert!(slope.abs() <= mt.c2 * dphi0.abs());
    }
}
