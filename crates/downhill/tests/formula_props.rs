//! Derivatives: exact (num-dual) gradients and Hessians against central
//! finite differences at random points, and against the chapter's
//! hand-written derivatives.

use downhill::formula::Formula;
use proptest::prelude::*;
use std::f64::consts::PI;

/// A formula with a box to sample points from and a guard that keeps the
/// points away from kinks and singularities.
struct Case {
    source: &'static str,
    dim: usize,
    low: f64,
    high: f64,
    smooth_at: fn(&[f64]) -> bool,
}

const fn case(source: &'static str, dim: usize, low: f64, high: f64) -> Case {
    Case {
        source,
        dim,
        low,
        high,
        smooth_at: |_| true,
    }
}

fn cases() -> Vec<Case> {
    vec![
        // The chapter's objectives.
        case("x^2", 1, -10.0, 10.0),
        case("x*cos(0.15*pi*x)", 1, -10.0, 10.0),
        case("cosh(0.5*x)", 1, -10.0, 10.0),
        case("x^2/2", 1, -10.0, 10.0),
        case("x1^2+2*x2^2", 2, -5.0, 5.0),
        case("0.1*x1^2+2*x2^2", 2, -5.0, 5.0),
        case("log(exp(x)+exp(-2*x-3))", 1, -5.0, 5.0),
        case("100*(y-x^2)^2+(1-x)^2", 2, -2.0, 2.0),
        // Three variables (static duals) and five and six (dynamic duals).
        case("x*y*z + sin(x)*exp(-y^2) + z^3/3", 3, -2.0, 2.0),
        case(
            "sqrt(1 + x^2 + y^2) + atan(x - 2*y) - z/(2 + cos(z))",
            3,
            -3.0,
            3.0,
        ),
        case(
            "x1^2 + x2*x3 - sin(x4*x5) + exp(0.1*x1*x5) + x2^3/(1 + x4^2)",
            5,
            -2.0,
            2.0,
        ),
        case("x1*x2*x3*x4*x5*x6 + tanh(x1 - x6)", 6, -1.5, 1.5),
        case(
            "x1 + x2 + x3 + x4 - x1*x4 + cosh(x2)/(1 + x3^2)",
            4,
            -2.0,
            2.0,
        ),
        // Individual functions, away from kinks and singularities.
        case("tan(0.4*x) + tanh(y)*sinh(0.5*y)", 2, -3.0, 3.0),
        case("asin(x/2) + acos(y/3) + atan(x*y)", 2, -1.5, 1.5),
        case("min(x^2, 100) + max(y, -50) + abs(x*y - 10)", 2, -3.0, 3.0),
        case("2^x + x^y + pow(y^2 + 1, 0.5)", 2, 0.5, 3.0),
        case("x^2.5 + x^-1.5 + sqrt(x)*ln(x) + e^(-x)", 1, 0.2, 4.0),
        case("1/x - 3/(x*y) + x/y", 2, 0.5, 4.0),
        Case {
            source: "-x^3 + --y^4 - (x - y)^-2",
            dim: 2,
            low: -3.0,
            high: -0.1,
            smooth_at: |p| (p[0] - p[1]).abs() > 0.5,
        },
        Case {
            source: "max(x, y) - 2*min(x*y, 1) + abs(sin(x))",
            dim: 2,
            low: -3.0,
            high: 3.0,
            smooth_at: |p| {
                (p[0] - p[1]).abs() > 0.05 && (p[0] * p[1] - 1.0).abs() > 0.05 && p[0].abs() > 0.05
            },
        },
    ]
}

fn parse(source: &str) -> Formula {
    Formula::parse(source).unwrap_or_else(|error| panic!("{}", error.render()))
}

/// The gradient by the exact path.
fn gradient(formula: &Formula, x: &[f64]) -> Vec<f64> {
    let mut grad = vec![0.0; formula.dim()];
    formula.value_gradient(x, &mut grad);
    grad
}

/// Derivative of `g` along coordinate `i` by central differences with
/// Richardson extrapolation: `(4 D(h/2) - D(h)) / 3` cancels the `h^2` term
/// of the central difference `D(h)`, leaving an `h^4` error. (The plain
/// central difference's error `h^2/6 g'''` exceeded the tolerance near the
/// singularity of `(x - y)^-2`, where `g'''` is in the thousands: one point
/// in a few thousand random ones.)
fn central_difference(g: impl Fn(&[f64]) -> Vec<f64>, x: &[f64], i: usize) -> Vec<f64> {
    let difference = |h: f64| -> Vec<f64> {
        let (mut plus, mut minus) = (x.to_vec(), x.to_vec());
        plus[i] += h;
        minus[i] -= h;
        let (up, down) = (g(&plus), g(&minus));
        let step = plus[i] - minus[i];
        up.iter().zip(&down).map(|(u, d)| (u - d) / step).collect()
    };
    let h = 1e-4 * (1.0 + x[i].abs());
    let (coarse, fine) = (difference(h), difference(0.5 * h));
    coarse
        .iter()
        .zip(&fine)
        .map(|(c, f)| (4.0 * f - c) / 3.0)
        .collect()
}

/// `|exact - approximate| <= tolerance * (1 + |exact| + scale)`.
fn assert_close(exact: f64, approximate: f64, scale: f64, tolerance: f64, what: &str) {
    let allowed = tolerance * (1.0 + exact.abs() + scale.abs());
    assert!(
        (exact - approximate).abs() <= allowed,
        "{what}: exact {exact} vs finite difference {approximate} (allowed {allowed:e})"
    );
}

/// Checks value, gradient and Hessian of one case at one point.
fn check_against_finite_differences(case: &Case, x: &[f64]) {
    let formula = parse(case.source);
    assert_eq!(formula.dim(), case.dim, "{}", case.source);
    let n = case.dim;
    let (mut grad, mut hess) = (vec![0.0; n], vec![0.0; n * n]);
    let value = formula.value_gradient_hessian(x, &mut grad, &mut hess);
    assert_eq!(
        value.to_bits(),
        formula.value(x).to_bits(),
        "{}",
        case.source
    );
    // First- and second-order duals round differently (e.g. in divisions),
    // so the two gradient paths agree to rounding, not bit for bit.
    for (from_hessian, from_gradient) in grad.iter().zip(gradient(&formula, x)) {
        let what = format!("{}: gradient paths at {x:?}", case.source);
        assert_relative(*from_hessian, from_gradient, 1e-14, &what);
    }
    assert!(value.is_finite(), "{} at {x:?}", case.source);
    for i in 0..n {
        let by_value = central_difference(|p| vec![formula.value(p)], x, i)[0];
        let what = format!("{} d/dx{i} at {x:?}", case.source);
        assert_close(grad[i], by_value, value, 1e-6, &what);
        let by_gradient = central_difference(|p| gradient(&formula, p), x, i);
        for j in 0..n {
            let what = format!("{} d2/dx{j}dx{i} at {x:?}", case.source);
            assert_close(hess[j * n + i], by_gradient[j], 0.0, 1e-6, &what);
            assert_eq!(
                hess[i * n + j],
                hess[j * n + i],
                "{}: Hessian symmetry",
                case.source
            );
        }
    }
}

/// A random point in the case's box, from unit coordinates.
fn point(case: &Case, unit: &[f64]) -> Vec<f64> {
    unit[..case.dim]
        .iter()
        .map(|u| case.low + u * (case.high - case.low))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn derivatives_match_finite_differences(unit in prop::collection::vec(0.0..1.0f64, 6)) {
        for case in cases() {
            let x = point(&case, &unit);
            if (case.smooth_at)(&x) {
                check_against_finite_differences(&case, &x);
            }
        }
    }

    #[test]
    fn static_and_dynamic_duals_agree_exactly(x in -2.0..2.0f64, y in -2.0..2.0f64) {
        let source = "100*(y-x^2)^2 + (1-x)^2 + sin(x*y)/(2 + cos(y))";
        let small = Formula::parse_with_vars(source, &["x", "y"]).unwrap();
        let large = Formula::parse_with_vars(source, &["x", "y", "a", "b", "c"]).unwrap();
        let (mut g2, mut h2) = ([0.0; 2], [0.0; 4]);
        let (mut g5, mut h5) = ([f64::NAN; 5], [f64::NAN; 25]);
        let v2 = small.value_gradient_hessian(&[x, y], &mut g2, &mut h2);
        let v5 = large.value_gradient_hessian(&[x, y, 1.0, 2.0, 3.0], &mut g5, &mut h5);
        prop_assert_eq!(v2.to_bits(), v5.to_bits());
        prop_assert_eq!(&g5[..2], &g2[..]);
        prop_assert_eq!(&g5[2..], &[0.0; 3][..]);
        for i in 0..5 {
            for j in 0..5 {
                let expected = if i < 2 && j < 2 { h2[i * 2 + j] } else { 0.0 };
                prop_assert_eq!(h5[i * 5 + j], expected, "H[{}][{}]", i, j);
            }
        }
    }

    #[test]
    fn chapter_cosine_matches_hand_derivatives(x in -20.0..20.0f64) {
        check_cosine(x);
    }

    #[test]
    fn chapter_cosh_matches_hand_derivatives(x in -20.0..20.0f64) {
        let f = parse("cosh(0.5*x)");
        let (mut g, mut h) = ([0.0], [0.0]);
        let value = f.value_gradient_hessian(&[x], &mut g, &mut h);
        prop_assert_eq!(value, (0.5 * x).cosh());
        assert_relative(g[0], 0.5 * (0.5 * x).sinh(), 1e-14, "f'");
        assert_relative(h[0], 0.25 * (0.5 * x).cosh(), 1e-14, "f''");
    }

    #[test]
    fn chapter_quadratics_are_exact(x1 in -10.0..10.0f64, x2 in -10.0..10.0f64) {
        let f = parse("x1^2 + 2*x2^2");
        let (mut g, mut h) = ([0.0; 2], [0.0; 4]);
        let value = f.value_gradient_hessian(&[x1, x2], &mut g, &mut h);
        prop_assert_eq!(value, x1 * x1 + 2.0 * (x2 * x2));
        prop_assert_eq!(g, [2.0 * x1, 4.0 * x2]);
        prop_assert_eq!(h, [2.0, 0.0, 0.0, 4.0]);

        let half = parse("x^2/2");
        let (mut g, mut h) = ([0.0], [0.0]);
        half.value_gradient_hessian(&[x1], &mut g, &mut h);
        prop_assert_eq!((g[0], h[0]), (x1, 1.0));
    }

    #[test]
    fn rosenbrock_matches_hand_derivatives(x in -2.0..2.0f64, y in -1.0..3.0f64) {
        let f = parse("100*(y-x^2)^2+(1-x)^2");
        let (mut g, mut h) = ([0.0; 2], [0.0; 4]);
        f.value_gradient_hessian(&[x, y], &mut g, &mut h);
        let scale = 1.0 + 400.0 * (x.abs() * (y.abs() + x * x)) + 2.0 * (1.0 + x.abs());
        assert_relative(g[0] / scale, (-400.0 * x * (y - x * x) - 2.0 * (1.0 - x)) / scale, 1e-14, "df/dx");
        assert_relative(g[1], 200.0 * (y - x * x), 1e-13, "df/dy");
        let hxx_scale = 1200.0 * x * x + 400.0 * y.abs() + 2.0;
        assert_relative(h[0] / hxx_scale, (1200.0 * x * x - 400.0 * y + 2.0) / hxx_scale, 1e-14, "fxx");
        assert_relative(h[1], -400.0 * x, 1e-14, "fxy");
        assert_relative(h[2], -400.0 * x, 1e-14, "fyx");
        assert_relative(h[3], 200.0, 1e-14, "fyy");
    }

    #[test]
    fn log_sum_exp_matches_hand_derivatives(x in -5.0..5.0f64) {
        let f = parse("log(exp(x)+exp(-2*x-3))");
        let (mut g, mut h) = ([0.0], [0.0]);
        f.value_gradient_hessian(&[x], &mut g, &mut h);
        let (u, v) = (x.exp(), (-2.0 * x - 3.0).exp());
        let slope = (u - 2.0 * v) / (u + v);
        assert_relative(g[0], slope, 1e-13, "f'");
        assert_relative(h[0], (u + 4.0 * v) / (u + v) - slope * slope, 1e-13, "f''");
    }
}

/// `|a - b| <= tolerance * max(1, |b|)`.
fn assert_relative(a: f64, b: f64, tolerance: f64, what: &str) {
    assert!(
        (a - b).abs() <= tolerance * b.abs().max(1.0),
        "{what}: {a} vs {b} (difference {:e})",
        (a - b).abs()
    );
}

/// `x*cos(c x)` with `c = 0.15 pi`: f' = cos(cx) - c x sin(cx),
/// f'' = -2c sin(cx) - x c^2 cos(cx).
fn check_cosine(x: f64) {
    let f = parse("x*cos(0.15*pi*x)");
    let c = 0.15 * PI;
    let (mut g, mut h) = ([0.0], [0.0]);
    let value = f.value_gradient_hessian(&[x], &mut g, &mut h);
    assert_eq!(value.to_bits(), (x * (c * x).cos()).to_bits());
    let (sin, cos) = (c * x).sin_cos();
    let scale = 1.0 + c * x.abs();
    assert_relative(g[0] / scale, (cos - c * x * sin) / scale, 1e-12, "f'");
    let curvature_scale = 2.0 * c + x.abs() * c * c;
    assert_relative(
        h[0] / curvature_scale,
        (-2.0 * c * sin - x * c * c * cos) / curvature_scale,
        1e-12,
        "f''",
    );
}

#[test]
fn chapter_cosine_at_ten() {
    let f = parse("x*cos(0.15*pi*x)");
    let expected = 10.0 * (0.15 * PI * 10.0).cos();
    assert_eq!(f.value(&[10.0]).to_bits(), expected.to_bits());
    let mut g = [0.0];
    assert_eq!(
        f.value_gradient(&[10.0], &mut g).to_bits(),
        expected.to_bits()
    );
    check_cosine(10.0);
    // At x = 10 the values are not near zero, so plain relative error works.
    let c = 0.15 * PI;
    let slope = (c * 10.0).cos() - c * 10.0 * (c * 10.0).sin();
    assert!(
        ((g[0] - slope) / slope).abs() <= 1e-12,
        "{} vs {slope}",
        g[0]
    );
}

#[test]
fn log_sum_exp_gradient_vanishes_at_its_minimum() {
    let f = parse("log(exp(x)+exp(-2*x-3))");
    let minimum = (2f64.ln() - 3.0) / 3.0;
    let (mut g, mut h) = ([f64::NAN], [f64::NAN]);
    f.value_gradient_hessian(&[minimum], &mut g, &mut h);
    assert!(g[0].abs() <= 1e-15, "f'({minimum}) = {}", g[0]);
    assert!(h[0] > 0.0, "a minimum: f'' = {}", h[0]);
    assert_relative(h[0], 2.0, 1e-14, "f'' at the minimum");
}

#[test]
fn constant_formula_has_empty_gradient() {
    let f = parse("3*pi - 1");
    assert_eq!(f.dim(), 0);
    let value = f.value_gradient_hessian(&[], &mut [], &mut []);
    assert_eq!(value, 3.0 * PI - 1.0);
    assert_eq!(f.value_gradient(&[], &mut []), 3.0 * PI - 1.0);
}

#[test]
fn tanh_stays_finite_for_large_arguments() {
    let f = parse("tanh(x)");
    for x in [-1000.0, -30.0, -2.0, 0.0, 0.5, 30.0, 1000.0] {
        let (mut g, mut h) = ([f64::NAN], [f64::NAN]);
        let value = f.value_gradient_hessian(&[x], &mut g, &mut h);
        assert_eq!(value, f64::tanh(x));
        // Relative to the (possibly tiny) exact values themselves.
        let sech2 = 1.0 / (x.cosh() * x.cosh());
        let curvature = -2.0 * x.tanh() * sech2;
        assert!(
            (g[0] - sech2).abs() <= 1e-14 * sech2,
            "tanh'({x}) = {} vs {sech2}",
            g[0]
        );
        assert!(
            (h[0] - curvature).abs() <= 1e-14 * curvature.abs(),
            "tanh''({x}) = {} vs {curvature}",
            h[0]
        );
    }
}

#[test]
fn powers_are_smooth_at_zero_where_the_function_is() {
    let f = parse("x^2.5 + x^3");
    let (mut g, mut h) = ([f64::NAN], [f64::NAN]);
    let value = f.value_gradient_hessian(&[0.0], &mut g, &mut h);
    assert_eq!((value, g[0], h[0]), (0.0, 0.0, 0.0));
}

#[test]
fn kinks_and_singularities_do_not_panic() {
    for source in [
        "abs(x)",
        "sqrt(x)",
        "log(x)",
        "1/x",
        "x^0.5",
        "x^-2",
        "x^y",
        "max(x, y)",
    ] {
        let f = parse(source);
        let n = f.dim();
        let x = vec![0.0; n];
        let (mut g, mut h) = (vec![0.0; n], vec![0.0; n * n]);
        let value = f.value_gradient_hessian(&x, &mut g, &mut h);
        assert_eq!(value.to_bits(), f.value(&x).to_bits(), "{source}");
    }
}

/// Points near the singularity of `(x - y)^-2` where the plain central
/// difference's error exceeded the tolerance (found by the property test).
#[test]
fn finite_differences_hold_near_a_singularity() {
    let case = cases()
        .into_iter()
        .find(|c| c.source == "-x^3 + --y^4 - (x - y)^-2")
        .expect("the case exists");
    for x in [
        [-2.2450138783055995, -2.7518592739672947],
        [-2.2072490470149195, -2.7167451749718405],
    ] {
        assert!((case.smooth_at)(&x));
        check_against_finite_differences(&case, &x);
    }
}
