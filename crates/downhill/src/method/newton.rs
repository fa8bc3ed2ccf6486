//! Newton's method with a step size (chapter section 3):
//!
//! `x ← x − η H⁻¹ ∇f(x)`, with `H = ∇²f(x)`.
//!
//! From the second-order Taylor expansion, `ε = −H⁻¹∇f(x)` minimizes the
//! local quadratic model when `H` is positive definite. On a non-convex `f`
//! the model may have a maximum there and Newton ascends: on
//! `x·cos(0.15πx)` from `x0 = 10`, `η = 1` ends at `26.834133`; `η = 0.5`
//! reaches the local minimum near `7.269860`.
//!
//! The chapter's two remedies are both here: reintroduce a step size (`η`,
//! or a line search), or repair the Hessian ([`HessianRepair`]): take the
//! absolute values of its eigenvalues (`|f''|` in one dimension), or add
//! `τI` until it is positive definite.
//!
//! The system `H p = ∇f` is solved with a Cholesky factorization when `H` is
//! positive definite and an LU factorization otherwise (nalgebra); a
//! singular or non-finite `H` is reported, never a panic.

use nalgebra::{DMatrix, DVector};

use super::descent::{advance, LineSearchKind};
use super::{Method, State, StepFailure, StepInfo};
use crate::objective::Problem;

/// How Newton's method treats a Hessian that is not positive definite.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HessianRepair {
    /// Use `H` as it is (the book's method; ascends on negative curvature).
    #[default]
    Exact,
    /// `H = QΛQᵀ → Q|Λ|Qᵀ`, each `|λ|` at least `1e-8·max(1, max|λ|)`:
    /// the chapter's "take the absolute value of the Hessian".
    Abs,
    /// `H + τI` with the smallest `τ` in the sequence `0, β, 2β, 4β, ...`
    /// (β = 10⁻³‖H‖_F) for which a Cholesky factorization succeeds
    /// (Nocedal & Wright, Algorithm 3.3).
    Shift,
}

impl HessianRepair {
    /// The name used on the command line (`exact`, `abs`, `shift`).
    pub fn name(self) -> &'static str {
        match self {
            HessianRepair::Exact => "exact",
            HessianRepair::Abs => "abs",
            HessianRepair::Shift => "shift",
        }
    }
}

/// Trace notes for the repairs.
pub const NOTE_ABS: &str = "hessian repaired: |eigenvalues|";
/// Trace note when `τI` was added.
pub const NOTE_SHIFT: &str = "hessian repaired: shifted by tau*I";

/// Newton's method `x ← x − η H⁻¹ ∇f(x)`, optionally with a Hessian repair
/// and a line search along the Newton direction.
///
/// ```
/// use downhill::{driver::{run, Options}, formula::Formula, method::Newton};
/// let f = Formula::parse("cosh(0.5*x)").unwrap();
/// let result = run(&f, &mut Newton::new(1.0), &[10.0], &Options::book(10)).unwrap();
/// assert_eq!(format!("{:.6}", result.x[0]), "0.000000");
/// ```
#[derive(Clone, Debug)]
pub struct Newton {
    /// Step size `η > 0` (1 is the pure Newton step); the trial step of a line search.
    pub eta: f64,
    /// Treatment of indefinite Hessians.
    pub repair: HessianRepair,
    /// Line search along the Newton direction.
    pub line_search: LineSearchKind,
}

impl Newton {
    /// The book's Newton's method with step size `eta`.
    pub fn new(eta: f64) -> Self {
        Newton {
            eta,
            repair: HessianRepair::Exact,
            line_search: LineSearchKind::None,
        }
    }

    /// The same with a Hessian repair.
    pub fn with_repair(mut self, repair: HessianRepair) -> Self {
        self.repair = repair;
        self
    }

    /// The same with a line search.
    pub fn with_line_search(mut self, line_search: LineSearchKind) -> Self {
        self.line_search = line_search;
        self
    }
}

/// The Newton direction `d = −H̃⁻¹ g` for the repaired Hessian `H̃`, and the
/// note saying whether a repair changed anything.
pub(crate) fn newton_direction(
    hess: &[f64],
    grad: &[f64],
    repair: HessianRepair,
) -> Result<(Vec<f64>, Option<&'static str>), StepFailure> {
    let n = grad.len();
    if hess.iter().any(|h| !h.is_finite()) {
        return Err(StepFailure::NonFiniteHessian);
    }
    let h = DMatrix::from_row_slice(n, n, hess);
    let g = DVector::from_column_slice(grad);
    let (p, note) = match repair {
        HessianRepair::Exact => (solve_plain(h, &g)?, None),
        HessianRepair::Abs => solve_abs(h, &g),
        HessianRepair::Shift => solve_shifted(h, &g)?,
    };
    if p.iter().all(|v| v.is_finite()) {
        Ok((p.iter().map(|v| -v).collect(), note))
    } else {
        Err(StepFailure::SingularHessian)
    }
}

fn solve_plain(h: DMatrix<f64>, g: &DVector<f64>) -> Result<DVector<f64>, StepFailure> {
    match h.clone().cholesky() {
        Some(chol) => Ok(chol.solve(g)),
        None => h.lu().solve(g).ok_or(StepFailure::SingularHessian),
    }
}

fn solve_abs(h: DMatrix<f64>, g: &DVector<f64>) -> (DVector<f64>, Option<&'static str>) {
    let eigen = h.symmetric_eigen();
    let largest = eigen
        .eigenvalues
        .iter()
        .fold(1.0_f64, |m, l| m.max(l.abs()));
    let floor = 1e-8 * largest;
    let mut changed = false;
    let inverse = eigen.eigenvalues.map(|l| {
        let repaired = l.abs().max(floor);
        changed |= repaired != l;
        1.0 / repaired
    });
    let q = &eigen.eigenvectors;
    let p = q * DMatrix::from_diagonal(&inverse) * q.transpose() * g;
    (p, changed.then_some(NOTE_ABS))
}

fn solve_shifted(
    h: DMatrix<f64>,
    g: &DVector<f64>,
) -> Result<(DVector<f64>, Option<&'static str>), StepFailure> {
    let n = h.nrows();
    let norm = h.norm();
    let beta = if norm > 0.0 { 1e-3 * norm } else { 1e-3 };
    let min_diagonal = h.diagonal().min();
    let mut tau = if min_diagonal > 0.0 {
        0.0
    } else {
        -min_diagonal + beta
    };
    // 2^1100 · β overflows: the loop ends long before that.
    for _ in 0..1100 {
        let shifted = &h + DMatrix::identity(n, n) * tau;
        if let Some(chol) = shifted.cholesky() {
            let note = (tau > 0.0).then_some(NOTE_SHIFT);
            return Ok((chol.solve(g), note));
        }
        tau = (2.0 * tau).max(beta);
    }
    Err(StepFailure::SingularHessian)
}

impl Method for Newton {
    fn describe(&self) -> String {
        let mut text = format!("Newton's method (eta = {}", self.eta);
        if self.repair != HessianRepair::Exact {
            text.push_str(&format!(", hessian {}", self.repair.name()));
        }
        if self.line_search != LineSearchKind::None {
            text.push_str(&format!(", line search {}", self.line_search.name()));
        }
        text.push(')');
        text
    }

    fn needs_hessian(&self) -> bool {
        true
    }

    fn step(
        &mut self,
        problem: &Problem<'_>,
        state: &State,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure> {
        let plain = self.repair == HessianRepair::Exact && self.line_search == LineSearchKind::None;
        if plain && state.x.len() == 1 {
            // The book's update `x -= eta * f'(x) / f''(x)`, evaluated in the
            // same order so the printed digits agree.
            let h = state.hess[0];
            if !h.is_finite() {
                return Err(StepFailure::NonFiniteHessian);
            }
            if h == 0.0 {
                return Err(StepFailure::SingularHessian);
            }
            x_next[0] = state.x[0] - self.eta * state.grad[0] / h;
            return Ok(StepInfo::default());
        }
        let (mut direction, note) = newton_direction(&state.hess, &state.grad, self.repair)?;
        advance(
            problem,
            state,
            &mut direction,
            self.eta,
            self.line_search,
            note,
            x_next,
        )
    }
}
