//! Formulas typed by a user, parsed once and differentiated exactly.
//!
//! A [`Formula`] is parsed into a syntax tree, compiled into a flat register
//! program with constant folding, and then evaluated without re-parsing on
//! plain `f64` (for values) or on `num-dual` dual numbers (for exact
//! gradients and Hessians: no finite differences anywhere).
//!
//! ```
//! use downhill::formula::Formula;
//! let f = Formula::parse("x1^2 + 2*x2^2").unwrap();
//! assert_eq!(f.variables(), ["x1", "x2"]);
//! let (mut grad, mut hess) = ([0.0; 2], [0.0; 4]);
//! let value = f.value_gradient_hessian(&[1.0, -2.0], &mut grad, &mut hess);
//! assert_eq!((value, grad, hess), (9.0, [2.0, -8.0], [2.0, 0.0, 0.0, 4.0]));
//! ```
//!
//! # Grammar
//!
//! Whitespace separates tokens and is otherwise ignored.
//!
//! ```text
//! formula    = expression END
//! expression = term { ("+" | "-") term }
//! term       = unary { ("*" | "/") unary }
//! unary      = ("-" | "+") unary | power
//! power      = primary [ "^" unary ]                  (* right-associative *)
//! primary    = number | constant | variable
//!            | function "(" expression { "," expression } ")"
//!            | "(" expression ")"
//! number     = ( digits [ "." [ digits ] ] | "." digits ) [ ("e" | "E") [ "+" | "-" ] digits ]
//! constant   = "pi" | "e"
//! function   = "exp" | "log" | "ln" | "sqrt" | "abs" | "sin" | "cos" | "tan"
//!            | "asin" | "acos" | "atan" | "sinh" | "cosh" | "tanh"   (* one argument *)
//!            | "pow" | "min" | "max"                                 (* two arguments *)
//! variable   = "x" | "y" | "z" | "x1" | "x2" | ...    (* or the declared names *)
//! ```
//!
//! This is mathematical convention: `-x^2` is `-(x^2)`, `-2^2` is `-4`,
//! `2^3^2` is `2^9 = 512`, `2*-3` and `x^-1` are allowed, `log` is the
//! natural logarithm. Implicit multiplication (`2x`) is an error.
//!
//! Without declared variables the variables are ordered `x, y, z` first, then
//! `x1, x2, ...` by number (`x10` after `x2`); any other name is an error.
//!
//! Every error is a [`FormulaError`] whose span points at the offending
//! characters; no input makes the parser panic.
//!
//! # Why a hand-written parser
//!
//! The expression crates on crates.io did not fit: `exmex`, `fasteval`,
//! `meval` and `evalexpr` each break a mathematical convention this project
//! relies on (the precedence of unary minus against `^`, or the
//! associativity of `^`), report errors without a position, or are licensed
//! AGPL. Differentiation through `num-dual` also needs an evaluator generic
//! over the number type, which none of them offers.
//!
//! # Evaluation
//!
//! `value` runs the program on `f64`. Derivatives use `num-dual`: `Dual64` /
//! `Dual2_64` for one variable, the stack-allocated `DualSVec64<N>` /
//! `Dual2SVec64<N>` for two to four, and the heap-allocated `DualDVec64` /
//! `Dual2DVec64` beyond. All paths return the bit-identical value. Integer
//! constant exponents use `powi` (`x^2` is exactly `x*x`); other constant
//! exponents use `powf`; a variable exponent `a^b` has the value
//! `a.powf(b)` and the derivatives of `exp(b ln a)`, which need `a > 0`.
//! Non-finite results (`sqrt` or `abs` differentiated at 0, `log` of a
//! negative number, ...) are returned as they come, never as a panic.

mod ast;
mod error;
mod eval;
mod lexer;
mod parser;
mod program;

pub use error::FormulaError;

use program::Program;

/// A parsed and compiled formula in a fixed list of variables.
///
/// Cheap to evaluate many times; `Clone`, `Send` and `Sync`.
#[derive(Clone, Debug)]
pub struct Formula {
    source: String,
    variables: Vec<String>,
    program: Program,
}

impl Formula {
    /// Parses `src`, taking the variables from the text: `x`, `y`, `z`,
    /// `x1`, `x2`, ..., ordered `x, y, z` then `x1, x2, ...` numerically.
    /// Any other name that is not a function or constant is an error.
    pub fn parse(src: &str) -> Result<Formula, FormulaError> {
        Self::build(src, None)
    }

    /// Parses `src` with exactly the variables `vars`, in that order. A
    /// declared variable may be absent from the formula; a name used in the
    /// formula but not declared is an error at its position. Declared names
    /// must be identifiers, distinct, and not function or constant names.
    pub fn parse_with_vars(src: &str, vars: &[&str]) -> Result<Formula, FormulaError> {
        Self::build(src, Some(vars))
    }

    fn build(src: &str, vars: Option<&[&str]>) -> Result<Formula, FormulaError> {
        let parsed = parser::parse(src, vars)?;
        let program = Program::compile(&parsed.expr, &parsed.variables);
        Ok(Formula {
            source: src.to_string(),
            variables: parsed.variables,
            program,
        })
    }

    /// The formula text as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The variable names, in the order of the coordinates of `x`.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// The number of variables.
    pub fn dim(&self) -> usize {
        self.variables.len()
    }

    /// `f(x)`. `x.len()` must equal [`dim`](Self::dim); a mismatch is a
    /// caller bug: it debug-asserts, and returns NaN in release builds.
    pub fn value(&self, x: &[f64]) -> f64 {
        if !self.lengths_fit(x.len(), self.dim(), None) {
            return f64::NAN;
        }
        self.program.evaluate::<f64>(x)
    }

    /// `f(x)`, with the exact gradient written into `grad` (length `dim`).
    /// A length mismatch debug-asserts, and in release fills `grad` with NaN
    /// and returns NaN.
    pub fn value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        if !self.lengths_fit(x.len(), grad.len(), None) {
            grad.fill(f64::NAN);
            return f64::NAN;
        }
        eval::value_gradient(&self.program, x, grad)
    }

    /// `f(x)`, with the exact gradient written into `grad` (length `dim`) and
    /// the exact Hessian written row-major into `hess` (length `dim * dim`).
    /// A length mismatch debug-asserts, and in release fills both with NaN
    /// and returns NaN.
    pub fn value_gradient_hessian(&self, x: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        if !self.lengths_fit(x.len(), grad.len(), Some(hess.len())) {
            grad.fill(f64::NAN);
            hess.fill(f64::NAN);
            return f64::NAN;
        }
        eval::value_gradient_hessian(&self.program, x, grad, hess)
    }

    /// True if the point and gradient have length `dim` and the Hessian
    /// `dim * dim` (`None` when there is no Hessian); debug-asserts it.
    fn lengths_fit(&self, point: usize, gradient: usize, hessian: Option<usize>) -> bool {
        let dim = self.dim();
        let fit = point == dim && gradient == dim && hessian.is_none_or(|len| len == dim * dim);
        debug_assert!(
            fit,
            "formula '{}' has {dim} variables; got a point of length {point}, gradient {gradient}, Hessian {hessian:?}",
            self.source
        );
        fit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_clone<T: Send + Sync + Clone + std::fmt::Debug>() {}

    #[test]
    fn formula_is_send_sync_clone_debug() {
        assert_send_sync_clone::<Formula>();
        assert_send_sync_clone::<FormulaError>();
    }

    #[test]
    fn value_paths_agree_bit_for_bit() {
        let f = Formula::parse("x/y + tan(x)*tanh(y) + x^2.5 + 2^y + y^x + 1/x").unwrap();
        let x = [1.3, 0.7];
        let (mut g, mut h) = ([0.0; 2], [0.0; 4]);
        let v = f.value(&x);
        assert_eq!(v.to_bits(), f.value_gradient(&x, &mut g).to_bits());
        assert_eq!(
            v.to_bits(),
            f.value_gradient_hessian(&x, &mut g, &mut h).to_bits()
        );
    }
}
