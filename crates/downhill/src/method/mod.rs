//! Optimization methods. Each is a small state plus a [`Method::step`]; the
//! one driver loop ([`crate::driver::run`]) owns stopping, divergence checks,
//! counting and the trace, so a new method is a new file, never a loop edit.

mod adadelta;
mod adagrad;
mod adam;
mod auto;
mod descent;
mod gradient_descent;
mod momentum;
mod newton;
mod precond;
mod quasi_newton;
mod rmsprop;
mod spec;

pub use adadelta::Adadelta;
pub use adagrad::AdaGrad;
pub use adam::Adam;
pub use auto::{default_method, RobustNewton, AUTO_NEWTON_MAX_DIM, NOTE_NO_HESSIAN};
pub use descent::{LineSearchKind, FELL_BACK};
pub use gradient_descent::GradientDescent;
pub use momentum::Momentum;
pub use newton::{HessianRepair, Newton, IN_PLACE_MIN_DIM, NOTE_ABS, NOTE_SHIFT};
pub use precond::Precond;
pub use quasi_newton::{Bfgs, Lbfgs};
pub use rmsprop::RmsProp;
pub use spec::{parse_hessian, parse_line_search, MethodName, MethodSpec};

use crate::objective::Problem;

/// What the driver knows about the current iterate `x_k`.
#[derive(Clone, Debug)]
pub struct State {
    /// Iteration number `k` (0 at the start).
    pub iteration: usize,
    /// The iterate `x_k`.
    pub x: Vec<f64>,
    /// `f(x_k)`.
    pub f: f64,
    /// `∇f(x_k)`.
    pub grad: Vec<f64>,
    /// What the method [asked for](Method::hessian_need) of `∇²f(x_k)`:
    /// the `n × n` matrix row-major ([`HessianNeed::Full`]), its `n`
    /// diagonal entries ([`HessianNeed::Diagonal`]), or nothing (empty).
    pub hess: Vec<f64>,
}

/// Why a method could not produce the next iterate.
#[derive(Clone, Debug, PartialEq)]
pub enum StepFailure {
    /// The Hessian is singular: the Newton system `H p = ∇f` has no unique solution.
    SingularHessian,
    /// The Hessian has a non-finite entry.
    NonFiniteHessian,
    /// The line search found no acceptable step, even along `−∇f`.
    LineSearchFailed(String),
}

impl std::fmt::Display for StepFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepFailure::SingularHessian => write!(f, "the Hessian is singular"),
            StepFailure::NonFiniteHessian => write!(f, "the Hessian is not finite"),
            StepFailure::LineSearchFailed(why) => write!(f, "the line search failed: {why}"),
        }
    }
}

/// What a step reports besides the new iterate (kept in the trace).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepInfo {
    /// A remark on how the step was made (e.g. a Hessian repair), if any.
    pub note: Option<&'static str>,
}

/// How much of `∇²f` a method needs at every iterate: the driver evaluates
/// and stores only that, so memory stays O(n) unless the matrix is needed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HessianNeed {
    /// No second derivatives (gradient methods, quasi-Newton).
    #[default]
    None,
    /// The diagonal `∇²f_ii` only (diagonal preconditioning): taken from
    /// [`Objective::hessian_diagonal`](crate::objective::Objective::hessian_diagonal)
    /// when the objective has it, else from the full matrix.
    Diagonal,
    /// The full `n × n` matrix (Newton).
    Full,
}

impl HessianNeed {
    /// Number of entries [`State::hess`] holds for `n` variables.
    pub fn len(self, n: usize) -> usize {
        match self {
            HessianNeed::None => 0,
            HessianNeed::Diagonal => n,
            HessianNeed::Full => n * n,
        }
    }
}

/// An iterative minimization method: `x_{k+1} = step(x_k, state)`.
pub trait Method {
    /// A short description with parameters, e.g. `gradient descent (eta = 0.2)`.
    fn describe(&self) -> String;

    /// How much of `∇²f` the driver must evaluate at every iterate
    /// (into [`State::hess`]).
    fn hessian_need(&self) -> HessianNeed {
        HessianNeed::None
    }

    /// Writes `x_{k+1}` into `x_next` (same length as `state.x`). May evaluate
    /// the objective through `problem` (counted), e.g. for a line search.
    fn step(
        &mut self,
        problem: &Problem<'_>,
        state: &State,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure>;

    /// [`Method::step`] where [`State::hess`] may be used as workspace and
    /// left overwritten: the driver calls this one, because it evaluates
    /// `∇²f` afresh at the next iterate before anything reads the buffer
    /// again. `x`, `f` and `grad` stay as they are. The default is `step`;
    /// Newton's method factors a large Hessian in place instead of copying it.
    fn step_reusing_hessian(
        &mut self,
        problem: &Problem<'_>,
        state: &mut State,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure> {
        self.step(problem, state, x_next)
    }
}

/// Appends `v` exactly as `{}` formats it; integral values (the common
/// `eta = 1`) are written digit by digit, without the formatting machinery
/// (a third of the cost of describing a method), so a run's description
/// costs little next to a short run.
pub(crate) fn push_number(out: &mut String, v: f64) {
    use std::fmt::Write;
    if v.fract() == 0.0 && v.abs() < 1e15 && !(v == 0.0 && v.is_sign_negative()) {
        // |v| < 10^15: at most 15 digits.
        let mut digits = [0u8; 15];
        let mut start = digits.len();
        let mut rest = v.abs() as u64;
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if v < 0.0 {
            out.push('-');
        }
        out.extend(digits[start..].iter().map(|&d| char::from(d)));
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Per-run state of a stateful method (momentum's velocity, AdaGrad's sums,
/// ...): zeroed at the start of every run (`state.iteration == 0`) or when
/// the dimension changes, so one method value can serve several runs.
pub(crate) fn reset_per_run(buffers: &mut [&mut Vec<f64>], state: &State) {
    let n = state.x.len();
    if state.iteration == 0 || buffers.iter().any(|b| b.len() != n) {
        for buffer in buffers.iter_mut() {
            buffer.clear();
            buffer.resize(n, 0.0);
        }
    }
}

#[cfg(test)]
mod number_tests {
    #[test]
    fn push_number_matches_display() {
        for v in [
            1.0,
            0.0,
            -0.0,
            -3.0,
            0.5,
            0.01,
            1e-6,
            1e14,
            999_999_999_999_999.0,
            -999_999_999_999_999.0,
            10.0,
            -100.0,
            1e15,
            1e300,
            -2.5e-300,
            f64::INFINITY,
            f64::NAN,
            123_456.789,
        ] {
            let mut out = String::new();
            super::push_number(&mut out, v);
            assert_eq!(out, format!("{v}"), "{v:?}");
        }
    }
}
