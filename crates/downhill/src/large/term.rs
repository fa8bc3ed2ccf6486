//! The one-variable term `g(x; c)` of a separable sum, evaluated at
//! [`LANES`] coordinates at once.

use num_dual::Dual2_64;

use super::{Lanes, LANES};
use crate::formula::{Formula, FormulaError};

/// The most coefficients one term may read (`a`, `b`, ... per coordinate).
pub const MAX_COEFS: usize = 6;

/// Coefficient lanes: `c[k][l]` is coefficient `k` of lane `l`.
pub type CoefLanes = [Lanes; MAX_COEFS];

/// `g`, `g'` and `g''` at [`LANES`] points.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TermLanes {
    /// `g(x_l; c_l)`.
    pub value: Lanes,
    /// `∂g/∂x`.
    pub slope: Lanes,
    /// `∂²g/∂x²`.
    pub curvature: Lanes,
}

/// A twice-differentiable function of one variable with per-coordinate
/// coefficients. Evaluated on [`LANES`] coordinates per call so that a
/// term written in Rust vectorizes, and an interpreted one amortizes its
/// dispatch.
pub trait Term: Send + Sync {
    /// How many coefficients (at most [`MAX_COEFS`]) the term reads.
    fn coefficient_count(&self) -> usize;

    /// Value, slope and curvature at `x[l]` with coefficients `c[k][l]`.
    fn eval(&self, x: &Lanes, c: &CoefLanes) -> TermLanes;

    /// Value and slope only; terms that can skip the curvature override it.
    #[inline(always)]
    fn value_slope(&self, x: &Lanes, c: &CoefLanes) -> (Lanes, Lanes) {
        let t = self.eval(x, c);
        (t.value, t.slope)
    }
}

/// A term written once as a Rust closure over second-order dual numbers:
/// `|x, [a]| x * x * a` is `g(x; a) = a x²` with its exact derivatives.
/// After inlining the compiler drops the derivative parts a caller does
/// not use, so a plain gradient step pays for the first derivative only.
#[derive(Clone)]
pub struct DualTerm<F, const K: usize> {
    function: F,
}

impl<F, const K: usize> DualTerm<F, K>
where
    F: Fn(Dual2_64, [f64; K]) -> Dual2_64 + Send + Sync,
{
    /// Wraps `function`; `K ≤ MAX_COEFS` coefficients.
    pub fn new(function: F) -> Self {
        assert!(
            K <= MAX_COEFS,
            "a term reads at most {MAX_COEFS} coefficients"
        );
        DualTerm { function }
    }
}

impl<F, const K: usize> Term for DualTerm<F, K>
where
    F: Fn(Dual2_64, [f64; K]) -> Dual2_64 + Send + Sync,
{
    #[inline(always)]
    fn coefficient_count(&self) -> usize {
        K
    }

    #[inline(always)]
    fn eval(&self, x: &Lanes, c: &CoefLanes) -> TermLanes {
        let mut out = TermLanes::default();
        for l in 0..LANES {
            let coefficients: [f64; K] = std::array::from_fn(|k| c[k][l]);
            let r = (self.function)(Dual2_64::new(x[l], 1.0, 0.0), coefficients);
            out.value[l] = r.re;
            out.slope[l] = r.v1;
            out.curvature[l] = r.v2;
        }
        out
    }
}

/// A term typed as a formula in `x` and named coefficients, e.g. `a*x^2`
/// with coefficient `a` (the command line's `--separable`). Derivatives are
/// exact: value and slope from the formula's machine code for eight points
/// at once (with the crate feature `native`, for formulas of up to 64
/// operations), else from its SIMD lane evaluator
/// ([`Formula::value_gradient_lanes`]); the curvature (preconditioning
/// only) point by point.
#[derive(Clone, Debug)]
pub struct FormulaTerm {
    formula: Formula,
    count: usize,
}

impl FormulaTerm {
    /// Parses `source` as a function of `x` and the coefficients `names`.
    pub fn parse(source: &str, names: &[&str]) -> Result<FormulaTerm, FormulaError> {
        if names.len() > MAX_COEFS {
            // The parser reports unknown names; too many is our limit.
            return Err(FormulaError::new(
                format!("a separable term reads at most {MAX_COEFS} coefficients"),
                0..source.len(),
                source,
            ));
        }
        let mut variables = vec!["x"];
        variables.extend_from_slice(names);
        let formula = Formula::parse_with_vars(source, &variables)?;
        Ok(FormulaTerm {
            formula,
            count: names.len(),
        })
    }

    /// The formula (variables `x` then the coefficients).
    pub fn formula(&self) -> &Formula {
        &self.formula
    }
}

impl Term for FormulaTerm {
    fn coefficient_count(&self) -> usize {
        self.count
    }

    /// The formula's machine code for the eight lanes in one call (inlined
    /// into the runner's pass, so the results stay in registers), else its
    /// value, gradient and Hessian point by point.
    #[inline(always)]
    fn eval(&self, x: &Lanes, c: &CoefLanes) -> TermLanes {
        if let Some(code) = self.formula.lanes_code::<MAX_COEFS>(true) {
            let [value, slope, curvature] = code.value_slope_curvature(x, c);
            return TermLanes {
                value,
                slope,
                curvature,
            };
        }
        self.eval_by_point(x, c)
    }

    /// The formula's machine code for the eight lanes in one call (inlined
    /// as `eval`), else as `value_slope_by_point`. For eight points of a
    /// small formula the lane evaluator's per-call set-up costs more than
    /// eight calls of machine code, and those more than one call for all
    /// eight: the README's 50-step `--separable "a*x^2"` run at d = 2·10⁷
    /// took 14.9 s with the lane evaluator, 7.5–9.3 s with the code called
    /// per lane and 5.4 s with the lanes code; 20 steps of
    /// `a*x^2 + sin(b*x)` 15.1–16.5 s, 12.0–14.2 s and 10.1–12.1 s
    /// (alternating runs, this machine).
    #[inline(always)]
    fn value_slope(&self, x: &Lanes, c: &CoefLanes) -> (Lanes, Lanes) {
        if let Some(code) = self.formula.lanes_code::<MAX_COEFS>(false) {
            return code.value_slope(x, c);
        }
        self.value_slope_by_point(x, c)
    }
}

impl FormulaTerm {
    /// [`Term::eval`] without machine code for the lanes.
    #[inline(never)]
    fn eval_by_point(&self, x: &Lanes, c: &CoefLanes) -> TermLanes {
        let m = self.count + 1;
        let mut out = TermLanes::default();
        let mut point = [0.0; MAX_COEFS + 1];
        let mut grad = [0.0; MAX_COEFS + 1];
        let mut hess = [0.0; (MAX_COEFS + 1) * (MAX_COEFS + 1)];
        for l in 0..LANES {
            point[0] = x[l];
            for k in 0..self.count {
                point[k + 1] = c[k][l];
            }
            out.value[l] = self.formula.value_gradient_hessian(
                &point[..m],
                &mut grad[..m],
                &mut hess[..m * m],
            );
            out.slope[l] = grad[0];
            out.curvature[l] = hess[0];
        }
        out
    }

    /// [`Term::value_slope`] without machine code for the lanes (a formula
    /// of more than 64 operations, or none compiled): the formula's code at
    /// each lane where it has some, else one pass of its lane evaluator
    /// (SIMD, exact derivatives).
    #[inline(never)]
    fn value_slope_by_point(&self, x: &Lanes, c: &CoefLanes) -> (Lanes, Lanes) {
        let m = self.count + 1;
        let by_code = match m {
            1 => machine_code_lanes::<1>(&self.formula, x, c),
            2 => machine_code_lanes::<2>(&self.formula, x, c),
            3 => machine_code_lanes::<3>(&self.formula, x, c),
            4 => machine_code_lanes::<4>(&self.formula, x, c),
            _ => None,
        };
        if let Some(found) = by_code {
            return found;
        }
        let mut point = [[0.0; LANES]; MAX_COEFS + 1];
        let mut grad = [[0.0; LANES]; MAX_COEFS + 1];
        let mut value = [0.0; LANES];
        point[0] = *x;
        point[1..m].copy_from_slice(&c[..self.count]);
        self.formula
            .value_gradient_lanes(&point[..m], &mut value, &mut grad[..m]);
        (value, grad[0])
    }
}

/// Value and slope at each lane by the formula's machine code for `M`
/// variables (`x`, then the coefficients), the point in a stack array;
/// `None` if the formula has no such code.
#[inline(always)]
fn machine_code_lanes<const M: usize>(
    formula: &Formula,
    x: &Lanes,
    c: &CoefLanes,
) -> Option<(Lanes, Lanes)> {
    let code = formula.gradient_code::<M>()?;
    let (mut value, mut slope) = ([0.0; LANES], [0.0; LANES]);
    let mut grad = [0.0; M];
    for l in 0..LANES {
        let point: [f64; M] = std::array::from_fn(|k| if k == 0 { x[l] } else { c[k - 1][l] });
        value[l] = code.value_gradient(&point, &mut grad);
        slope[l] = grad[0];
    }
    Some((value, slope))
}
