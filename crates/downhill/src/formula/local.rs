//! The values and local derivatives of single operations, shared by every
//! evaluation mode so that all of them compute the bit-identical value.

use super::ast::{BinaryOperator, UnaryFunction};

/// `x^n` by repeated squaring, the algorithm of `f64::powi`'s runtime
/// routine (`__powidf2`), written out so that the compiler, the scalar
/// evaluators and the lane evaluator all round the same way: `x^2` is
/// exactly `x*x`, `x^3` is `x*(x*x)`, `x^-n` is `1/x^n`.
#[inline(always)]
pub(crate) fn powi(x: f64, n: i32) -> f64 {
    let mut base = x;
    let mut power = n.unsigned_abs();
    let mut result = 1.0;
    loop {
        if power & 1 != 0 {
            result *= base;
        }
        power >>= 1;
        if power == 0 {
            break;
        }
        base *= base;
    }
    if n < 0 {
        1.0 / result
    } else {
        result
    }
}

/// The first and second derivative of `x^n`: `n x^(n-1)`, `n (n-1) x^(n-2)`
/// (exact zeros where the power is constant or linear).
#[inline(always)]
pub(crate) fn powi_derivatives(x: f64, n: i32) -> (f64, f64) {
    match n {
        0 => (0.0, 0.0),
        1 => (1.0, 0.0),
        2 => (2.0 * x, 2.0),
        _ => {
            let m = f64::from(n);
            (m * powi(x, n - 1), m * (m - 1.0) * powi(x, n - 2))
        }
    }
}

/// The first and second derivative of `x^p` for a non-integer constant `p`
/// (so `x^2.5` is smooth at 0).
#[inline(always)]
pub(crate) fn powf_derivatives(x: f64, p: f64) -> (f64, f64) {
    (p * x.powf(p - 1.0), p * (p - 1.0) * x.powf(p - 2.0))
}

/// `f(x)` as plain `f64`.
#[inline(always)]
pub(crate) fn unary_value(function: UnaryFunction, x: f64) -> f64 {
    match function {
        UnaryFunction::Exp => x.exp(),
        UnaryFunction::Ln => x.ln(),
        UnaryFunction::Sqrt => x.sqrt(),
        UnaryFunction::Abs => x.abs(),
        UnaryFunction::Sin => x.sin(),
        UnaryFunction::Cos => x.cos(),
        UnaryFunction::Tan => x.tan(),
        UnaryFunction::Asin => x.asin(),
        UnaryFunction::Acos => x.acos(),
        UnaryFunction::Atan => x.atan(),
        UnaryFunction::Sinh => x.sinh(),
        UnaryFunction::Cosh => x.cosh(),
        UnaryFunction::Tanh => x.tanh(),
    }
}

/// `(f(x), f'(x), f''(x))`; the value is [`unary_value`] bit for bit. With
/// `SECOND` false the second derivative is left 0 (not computed).
#[inline(always)]
pub(crate) fn unary_local<const SECOND: bool>(function: UnaryFunction, x: f64) -> (f64, f64, f64) {
    match function {
        UnaryFunction::Exp => {
            let v = x.exp();
            (v, v, v)
        }
        UnaryFunction::Ln => {
            let r = 1.0 / x;
            (x.ln(), r, if SECOND { -(r * r) } else { 0.0 })
        }
        UnaryFunction::Sqrt => {
            let s = x.sqrt();
            let slope = 0.5 / s;
            (s, slope, if SECOND { -0.5 * slope / x } else { 0.0 })
        }
        UnaryFunction::Abs => (x.abs(), x.signum(), 0.0),
        UnaryFunction::Sin => {
            let (s, c) = x.sin_cos();
            (s, c, -s)
        }
        UnaryFunction::Cos => {
            let (s, c) = x.sin_cos();
            (c, -s, -c)
        }
        // tan' = 1 + tan^2 and tanh' = 1/cosh^2: no quotient of large
        // numbers (tanh of |x| > 710 stays finite).
        UnaryFunction::Tan => {
            let t = x.tan();
            let slope = 1.0 + t * t;
            (t, slope, 2.0 * t * slope)
        }
        UnaryFunction::Asin | UnaryFunction::Acos => {
            let r = 1.0 / (1.0 - x * x).sqrt();
            let curvature = if SECOND { x * (r * r * r) } else { 0.0 };
            if function == UnaryFunction::Asin {
                (x.asin(), r, curvature)
            } else {
                (x.acos(), -r, -curvature)
            }
        }
        UnaryFunction::Atan => {
            let r = 1.0 / (1.0 + x * x);
            (x.atan(), r, if SECOND { -2.0 * x * (r * r) } else { 0.0 })
        }
        UnaryFunction::Sinh => {
            let (sh, ch) = (x.sinh(), x.cosh());
            (sh, ch, sh)
        }
        UnaryFunction::Cosh => {
            let (sh, ch) = (x.sinh(), x.cosh());
            (ch, sh, ch)
        }
        UnaryFunction::Tanh => {
            let t = x.tanh();
            let cosh = x.cosh();
            let slope = 1.0 / (cosh * cosh);
            (t, slope, -2.0 * t * slope)
        }
    }
}

/// `min`/`max`: `true` if the result is `b` (`b < a` for min, `b > a` for
/// max; ties keep `a`). Either operand NaN makes the result NaN.
#[inline(always)]
pub(crate) fn takes_second(maximum: bool, a: f64, b: f64) -> bool {
    if maximum {
        b > a
    } else {
        b < a
    }
}

/// The value of a two-operand operation other than a power, as plain `f64`
/// (constant folding).
pub(crate) fn binary_value(operator: BinaryOperator, a: f64, b: f64) -> f64 {
    match operator {
        BinaryOperator::Add => a + b,
        BinaryOperator::Subtract => a - b,
        BinaryOperator::Multiply => a * b,
        BinaryOperator::Divide => a / b,
        BinaryOperator::Minimum | BinaryOperator::Maximum => {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else if takes_second(operator == BinaryOperator::Maximum, a, b) {
                b
            } else {
                a
            }
        }
        BinaryOperator::Power => a.powf(b),
    }
}

/// Local derivatives of `a^b` (variable base and exponent) given its value
/// `v`: `(d/da, d/db, d2/da2, d2/dadb, d2/db2)` of `exp(b ln a)`.
#[inline(always)]
pub(crate) fn pow_local<const SECOND: bool>(v: f64, a: f64, b: f64) -> [f64; 5] {
    let ln = a.ln();
    let ga = v * b / a;
    let gb = v * ln;
    if !SECOND {
        return [ga, gb, 0.0, 0.0, 0.0];
    }
    let gaa = v * b * (b - 1.0) / (a * a);
    let gab = v * (1.0 + b * ln) / a;
    let gbb = gb * ln;
    [ga, gb, gaa, gab, gbb]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powi_matches_the_standard_library() {
        for x in [1.1, -0.3, 7.25, 1e-3, -123.456, 0.0, -0.0, f64::INFINITY] {
            for n in [-7, -3, -2, -1, 0, 1, 2, 3, 4, 5, 10, 17, 64, 1023] {
                let (ours, std) = (powi(x, n), x.powi(std::hint::black_box(n)));
                assert!(
                    ours.to_bits() == std.to_bits() || (ours.is_nan() && std.is_nan()),
                    "{x}^{n}: {ours} vs {std}"
                );
            }
        }
        assert_eq!(powi(3.0, 2), 9.0);
    }
}
