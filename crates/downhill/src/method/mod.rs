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
    /// A buffer the method needs cannot be allocated (the message says
    /// which and how large).
    TooLarge(String),
    /// The line search found `f` decreasing without bound along a descent
    /// direction (still steeply at its largest step): `f` is unbounded
    /// below, and the run diverges.
    Unbounded {
        /// The lowest `f` the search reached.
        f: f64,
        /// The step along the direction where it did.
        t: f64,
    },
}

impl std::fmt::Display for StepFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepFailure::SingularHessian => write!(f, "the Hessian is singular"),
            StepFailure::NonFiniteHessian => write!(f, "the Hessian is not finite"),
            StepFailure::LineSearchFailed(why) => write!(f, "the line search failed: {why}"),
            StepFailure::TooLarge(message) => write!(f, "{message}"),
            StepFailure::Unbounded { f: value, t } => write!(
                f,
                "f decreases without bound along the search direction (f = {value:.3e} at step {t:.1e})"
            ),
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

    /// [`Method::step`] as the driver calls it, with two liberties:
    ///
    /// - [`State::hess`] may be used as workspace and left overwritten,
    ///   because the driver evaluates `∇²f` afresh at the next iterate
    ///   before anything reads the buffer again (`x`, `f` and `grad` stay as
    ///   they are). Newton's method factors a large Hessian in place
    ///   instead of copying it.
    /// - Where the step has evaluated `f` and `∇f` at the `x_{k+1}` it writes
    ///   (a line search's accepted trial point), it may hand them over
    ///   ([`NextIterate::hand_over`]) and the driver does not evaluate them
    ///   again.
    ///
    /// The default calls `step`.
    fn step_into(
        &mut self,
        problem: &Problem<'_>,
        state: &mut State,
        next: &mut NextIterate<'_>,
    ) -> Result<StepInfo, StepFailure> {
        self.step(problem, state, next.x)
    }
}

/// Where a step writes `x_{k+1}` ([`Method::step_into`]), and where it may
/// leave `f(x_{k+1})` and `∇f(x_{k+1})` when it has evaluated them there.
#[derive(Debug)]
pub struct NextIterate<'a> {
    /// `x_{k+1}`: every step writes it.
    pub x: &'a mut [f64],
    /// Room for `∇f(x_{k+1})`; empty when the caller takes no hand-over.
    grad: &'a mut [f64],
    /// `f(x_{k+1})` once handed over.
    value: Option<f64>,
}

impl<'a> NextIterate<'a> {
    /// `x_{k+1}` goes to `x`; a hand-over of `f` and `∇f` is taken into
    /// `grad` (same length as `x`).
    pub fn new(x: &'a mut [f64], grad: &'a mut [f64]) -> Self {
        debug_assert_eq!(x.len(), grad.len());
        NextIterate {
            x,
            grad,
            value: None,
        }
    }

    /// Only `x_{k+1}`, into `x`: [`NextIterate::hand_over`] is refused
    /// (what [`Method::step`] offers).
    pub fn x_only(x: &'a mut [f64]) -> Self {
        NextIterate {
            x,
            grad: &mut [],
            value: None,
        }
    }

    /// Whether a hand-over is taken.
    pub fn takes_hand_over(&self) -> bool {
        !self.grad.is_empty() && self.grad.len() == self.x.len()
    }

    /// Hands over `f(x_{k+1}) = value` and `∇f(x_{k+1}) = grad`, evaluated
    /// at exactly the numbers written into [`NextIterate::x`] (so the driver's
    /// own evaluation would give the same bits). Returns whether it was
    /// taken; `grad` must have `x`'s length.
    pub fn hand_over(&mut self, value: f64, grad: &[f64]) -> bool {
        if !self.takes_hand_over() || grad.len() != self.grad.len() {
            return false;
        }
        self.grad.copy_from_slice(grad);
        self.value = Some(value);
        true
    }

    /// `f(x_{k+1})` if a step handed it over (and `∇f` with it).
    pub fn handed_over(&self) -> Option<f64> {
        self.value
    }
}

/// Appends `v` as `{}` formats it for `1e-5 <= |v| < 1e15` (and 0), and
/// as `{:e}` outside (`1e308`, `2.5e-300`: not 309 digits). Integral
/// values (the common `eta = 1`) are written digit by digit, without the
/// formatting machinery (a third of the cost of describing a method), so a
/// run's description costs little next to a short run.
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
    } else if v.is_finite() && v != 0.0 && !(1e-5..1e15).contains(&v.abs()) {
        let _ = write!(out, "{v:e}");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// `v` as [`push_number`] writes it.
pub(crate) fn number(v: f64) -> String {
    let mut out = String::new();
    push_number(&mut out, v);
    out
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
            1e-5,
            1e14,
            999_999_999_999_999.0,
            -999_999_999_999_999.0,
            10.0,
            -100.0,
            f64::INFINITY,
            f64::NAN,
            123_456.789,
        ] {
            let mut out = String::new();
            super::push_number(&mut out, v);
            assert_eq!(out, format!("{v}"), "{v:?}");
        }
        // Outside [1e-5, 1e15): scientific, not hundreds of digits.
        for (v, shown) in [
            (1e15, "1e15"),
            (1e308, "1e308"),
            (-2.5e-300, "-2.5e-300"),
            (1e-6, "1e-6"),
            (1.5e-7, "1.5e-7"),
        ] {
            assert_eq!(super::number(v), shown);
        }
    }
}

#[cfg(test)]
mod next_iterate_tests {
    use super::NextIterate;

    #[test]
    fn a_hand_over_is_taken_only_where_offered_and_whole() {
        let mut x = [1.0, 2.0];
        let mut only = NextIterate::x_only(&mut x);
        assert!(!only.takes_hand_over());
        assert!(!only.hand_over(3.0, &[4.0, 5.0]));
        assert_eq!(only.handed_over(), None);

        let mut grad = [0.0; 2];
        let mut next = NextIterate::new(&mut x, &mut grad);
        assert!(next.takes_hand_over());
        assert_eq!(next.handed_over(), None);
        assert!(
            !next.hand_over(3.0, &[4.0]),
            "a gradient of the wrong length"
        );
        assert_eq!(next.handed_over(), None);
        assert!(next.hand_over(3.0, &[4.0, 5.0]));
        assert_eq!(next.handed_over(), Some(3.0));
        assert_eq!(grad, [4.0, 5.0]);
    }
}
