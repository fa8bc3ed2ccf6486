//! The lane API against the scalar one: `value_gradient_lanes` at random
//! points must agree with `value_gradient` lane by lane, on every SIMD
//! level this CPU has (levels it lacks fall back to the best it has).
//!
//! Tolerance: `|lane - scalar| <= 1e-13 * max(1, |scalar|)` for formulas
//! with `sin`, `cos`, `exp`, `ln` (the vectorized kernels are within 2 ulp
//! of the standard library, and a few ulp grow a little through the chain
//! rule); bit-for-bit equality for formulas of `+ - * /`, integer powers,
//! `sqrt`, `abs`, `min`, `max` and the functions that lanes take from the
//! standard library.

use downhill::formula::{Formula, Simd, LANES};

const LEVELS: [Simd; 3] = [Simd::Portable, Simd::Avx2, Simd::Avx512];
const TOLERANCE: f64 = 1e-13;

/// Deterministic uniform numbers in `[0, 1)` (xorshift).
struct Random(u64);

impl Random {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn parse(source: &str) -> Formula {
    Formula::parse(source).unwrap_or_else(|error| panic!("{}", error.render()))
}

/// Scalar results at lane `lane` of `x`.
fn scalar(formula: &Formula, x: &[[f64; LANES]], lane: usize) -> (f64, Vec<f64>) {
    let point: Vec<f64> = x.iter().map(|xi| xi[lane]).collect();
    let mut grad = vec![0.0; formula.dim()];
    let value = formula.value_gradient(&point, &mut grad);
    (value, grad)
}

/// Equal, both NaN, or within the tolerance (`exact` demands bits).
fn agree(lane: f64, scalar: f64, exact: bool) -> bool {
    if lane.to_bits() == scalar.to_bits() || (lane.is_nan() && scalar.is_nan()) {
        return true;
    }
    !exact && (lane - scalar).abs() <= TOLERANCE * scalar.abs().max(1.0)
}

/// Compares all lanes at `x` on every level.
fn check(formula: &Formula, x: &[[f64; LANES]], exact: bool) {
    let n = formula.dim();
    for level in LEVELS {
        let mut value = [f64::NAN; LANES];
        let mut grad = vec![[f64::NAN; LANES]; n];
        formula.value_gradient_lanes_with(level, x, &mut value, &mut grad);
        for lane in 0..LANES {
            let (v, g) = scalar(formula, x, lane);
            let point: Vec<f64> = x.iter().map(|xi| xi[lane]).collect();
            assert!(
                agree(value[lane], v, exact),
                "{} at {point:?} ({level:?}): value {} vs scalar {v}",
                formula.source(),
                value[lane]
            );
            for i in 0..n {
                assert!(
                    agree(grad[i][lane], g[i], exact),
                    "{} at {point:?} ({level:?}): d/dx{i} {} vs scalar {}",
                    formula.source(),
                    grad[i][lane],
                    g[i]
                );
            }
        }
    }
}

/// `rounds` random lane batches in `[low, high]^dim`.
fn check_random(source: &str, low: f64, high: f64, exact: bool) {
    let formula = parse(source);
    let mut random = Random(0x9E37_79B9_7F4A_7C15 ^ source.len() as u64);
    for _ in 0..200 {
        let x: Vec<[f64; LANES]> = (0..formula.dim())
            .map(|_| std::array::from_fn(|_| low + (high - low) * random.next()))
            .collect();
        check(&formula, &x, exact);
    }
}

#[test]
fn chapter_formulas_agree_with_scalar() {
    for (source, low, high) in [
        ("x*cos(0.15*pi*x)", -20.0, 20.0),
        ("cosh(0.5*x)", -10.0, 10.0),
        ("log(exp(x)+exp(-2*x-3))", -5.0, 5.0),
        ("x*cos(0.15*pi*x) + sin(0.15*pi*x)", -1e4, 1e4),
        ("exp(-x^2) + log(1 + x^2)", -30.0, 30.0),
        (
            "sin(x)*cos(y) + exp(x*y/10) - log(2 + sin(x - y))",
            -6.0,
            6.0,
        ),
        ("x*y*z + sin(x)*exp(-y^2) + z^3/3", -2.0, 2.0),
        (
            "sqrt(1 + x^2 + y^2) + atan(x - 2*y) - z/(2 + cos(z))",
            -3.0,
            3.0,
        ),
        ("tan(0.4*x) + tanh(y)*sinh(0.5*y)", -3.0, 3.0),
        ("asin(x/2) + acos(y/3) + atan(x*y)", -1.5, 1.5),
        ("2^x + x^y + pow(y^2 + 1, 0.5)", 0.5, 3.0),
        ("x^2.5 + x^-1.5 + sqrt(x)*ln(x) + e^(-x)", 0.2, 4.0),
        ("x1 + x2 + x3 + x4 - x1*x4 + cosh(x2)/(1 + x3^2)", -2.0, 2.0),
    ] {
        check_random(source, low, high, false);
    }
}

#[test]
fn arithmetic_formulas_agree_bit_for_bit() {
    for (source, low, high) in [
        ("x^2", -10.0, 10.0),
        ("x^2/2", -10.0, 10.0),
        ("x1^2+2*x2^2", -5.0, 5.0),
        ("0.1*x1^2+2*x2^2", -5.0, 5.0),
        ("100*(y-x^2)^2+(1-x)^2", -2.0, 2.0),
        ("1/x - 3/(x*y) + x/y", 0.5, 4.0),
        ("-x^3 + --y^4 - (x - y)^-2 + x^7", -3.0, 3.0),
        (
            "min(x^2, 1) + max(y, -0.5) + abs(x*y - 1) + sqrt(x^2 + y^2)",
            -3.0,
            3.0,
        ),
        ("(x - 1)*(x + 2)*(y - 3)/(1 + x^2 + y^2) - 7", -5.0, 5.0),
        ("tanh(x) + atan(y) + x^1.5", 0.0, 3.0),
    ] {
        check_random(source, low, high, true);
    }
}

#[test]
fn many_variables_fall_back_to_scalar_exactly() {
    check_random(
        "x1^2 + x2*x3 - sin(x4*x5) + exp(0.1*x1*x5) + x2^3/(1 + x4^2)",
        -2.0,
        2.0,
        true,
    );
    check_random("x1*x2*x3*x4*x5*x6 + tanh(x1 - x6)", -1.5, 1.5, true);
}

#[test]
fn special_values_match_scalar() {
    let specials = [
        0.0,
        -0.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e300,
        -1e300,
        5e-324,
        f64::MIN_POSITIVE,
        1e6,
        -1e7,
        709.5,
        -745.5,
        800.0,
        1e-300,
        std::f64::consts::PI,
    ];
    for source in [
        "x*cos(0.15*pi*x)",
        "sin(x) + cos(x)",
        "exp(x)",
        "log(x)",
        "log(exp(x)+exp(-2*x-3))",
        "sqrt(x) + abs(x)",
        "1/x + x^2",
        "min(x, 0) + max(x, 1)",
        "x^2.5 + 2^x",
    ] {
        let formula = parse(source);
        for chunk in specials.chunks(LANES) {
            let mut lanes = [1.0; LANES];
            lanes[..chunk.len()].copy_from_slice(chunk);
            check(&formula, &[lanes], false);
        }
    }
    // Two variables: every tangent a pass of its own (one variable fuses
    // the value and its tangent in one pass), with lanes outside the fast
    // kernels' ranges. Finite, nonzero arguments: at 0 or ±inf the modes
    // legitimately differ (`0 * inf` in a structurally zero term).
    let specials = [
        1e300,
        -1e300,
        1e6,
        -1e7,
        709.5,
        -745.5,
        800.0,
        1e-300,
        -2.0,
        3e5,
        0.5,
        std::f64::consts::PI,
    ];
    for source in ["sin(x)*cos(y) + exp(x - y)", "log(x) + log(y) + sqrt(x*y)"] {
        let formula = Formula::parse_with_vars(source, &["x", "y"]).unwrap();
        for chunk in specials.chunks(LANES) {
            let mut first = [1.0; LANES];
            first[..chunk.len()].copy_from_slice(chunk);
            let mut second = first;
            second.reverse();
            check(&formula, &[first, second], false);
        }
    }
}

#[test]
fn unused_variables_and_constants() {
    let formula = Formula::parse_with_vars("y^2 + sin(y)", &["x", "y", "z"]).unwrap();
    let x = [
        [1.0; LANES],
        std::array::from_fn(|l| l as f64 - 3.5),
        [7.0; LANES],
    ];
    check(&formula, &x, false);
    let mut value = [0.0; LANES];
    let mut grad = [[f64::NAN; LANES]; 3];
    formula.value_gradient_lanes(&x, &mut value, &mut grad);
    assert_eq!(grad[0], [0.0; LANES]);
    assert_eq!(grad[2], [0.0; LANES]);

    let constant = parse("3*pi - 1");
    let mut value = [0.0; LANES];
    constant.value_gradient_lanes(&[], &mut value, &mut []);
    assert_eq!(value, [3.0 * std::f64::consts::PI - 1.0; LANES]);

    let declared = Formula::parse_with_vars("2", &["x"]).unwrap();
    let mut grad = [[f64::NAN; LANES]];
    declared.value_gradient_lanes(&[[5.0; LANES]], &mut value, &mut grad);
    assert_eq!((value, grad), ([2.0; LANES], [[0.0; LANES]]));
}

#[test]
fn simd_level_is_reported() {
    let level = Simd::detected();
    assert!(["portable", "avx2", "avx512"].contains(&level.name()));
    assert_eq!(level, Simd::detected(), "detection is cached and stable");
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "has 2 variables")]
fn wrong_lengths_are_caller_bugs() {
    let formula = parse("x*y");
    let mut value = [0.0; LANES];
    let mut grad = [[0.0; LANES]; 2];
    formula.value_gradient_lanes(&[[1.0; LANES]], &mut value, &mut grad);
}
