//! Stopping rules and the outcome of a run.

use crate::trace::TracePolicy;

use super::RunError;

/// Options of the driver loop (Optim.jl's flat `Options`).
#[derive(Clone, Debug)]
pub struct Options {
    /// Iteration limit (`--steps`).
    pub max_iterations: usize,
    /// Stop when `‖∇f(x)‖₂ ≤ grad_tol`; `0` turns the test off, so the run
    /// makes exactly `max_iterations` steps, as the book's runs do.
    pub grad_tol: f64,
    /// A step to an `x` with `‖x‖∞` beyond this is divergence. `None`:
    /// `1e10 · max(1, ‖x0‖∞)`.
    pub max_abs_x: Option<f64>,
    /// Stop when a step moves no coordinate by more than
    /// `x_tol · max(1, ‖x‖∞)`; `0` turns the test off.
    pub x_tol: f64,
    /// Stop when a step changes `f` by at most `f_tol · max(1, |f_k|, |f_{k+1}|)`;
    /// `0` turns the test off.
    pub f_tol: f64,
    /// Which iterates the trace keeps.
    pub trace: TracePolicy,
}

impl Default for Options {
    /// 1000 iterations, gradient tolerance 1e-8, no stagnation tests, a
    /// trace within 4 MiB ([`TracePolicy::DEFAULT`]).
    fn default() -> Self {
        Options {
            max_iterations: 1000,
            grad_tol: 1e-8,
            max_abs_x: None,
            x_tol: 0.0,
            f_tol: 0.0,
            trace: TracePolicy::DEFAULT,
        }
    }
}

impl Options {
    /// The book's runs: exactly `steps` iterations, no tolerance test.
    pub fn book(steps: usize) -> Self {
        Options {
            max_iterations: steps,
            grad_tol: 0.0,
            ..Options::default()
        }
    }

    /// The defaults of the robust default method: [`Options::default`] plus
    /// stagnation tests `x_tol = 1e-12`, `f_tol = 1e-15` (steps and changes
    /// at the level of rounding), as scipy and Optim.jl have.
    pub fn robust() -> Self {
        Options {
            x_tol: 1e-12,
            f_tol: 1e-15,
            ..Options::default()
        }
    }

    /// Which stagnation test, if any, holds between `previous` and `current`.
    pub(crate) fn stagnation(
        &self,
        previous: &crate::method::State,
        current: &crate::method::State,
    ) -> Option<Stall> {
        if self.x_tol > 0.0 {
            let scale = previous.x.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
            let moved = previous
                .x
                .iter()
                .zip(&current.x)
                .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
            if moved <= self.x_tol * scale {
                return Some(Stall::Step);
            }
        }
        if self.f_tol > 0.0 {
            let scale = 1.0_f64.max(previous.f.abs()).max(current.f.abs());
            if (current.f - previous.f).abs() <= self.f_tol * scale {
                return Some(Stall::Value);
            }
        }
        None
    }

    pub(crate) fn validate(&self) -> Result<(), RunError> {
        for (name, value) in [("x", self.x_tol), ("f", self.f_tol)] {
            if value.is_nan() || value < 0.0 {
                return Err(RunError::InvalidOption(format!(
                    "the {name} tolerance must be a number >= 0, got {value}"
                )));
            }
        }
        if self.grad_tol.is_nan() || self.grad_tol < 0.0 {
            return Err(RunError::InvalidOption(format!(
                "the gradient tolerance must be a number >= 0, got {}",
                self.grad_tol
            )));
        }
        if let Some(bound) = self.max_abs_x {
            if bound.is_nan() || bound <= 0.0 {
                return Err(RunError::InvalidOption(format!(
                    "the divergence bound must be > 0, got {bound}"
                )));
            }
        }
        if self.trace == TracePolicy::Every(0) || self.trace == TracePolicy::Budget(0) {
            return Err(RunError::InvalidOption(
                "the trace interval must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The bound on `|x_i|` past which a run has diverged: `max_abs_x`, else
    /// `1e10 · max(1, ‖x0‖∞)`.
    pub(crate) fn divergence_bound(&self, x0: &[f64]) -> f64 {
        match self.max_abs_x {
            Some(bound) => bound,
            None => self.divergence_bound_for(x0.iter().fold(0.0_f64, |m, v| m.max(v.abs()))),
        }
    }

    /// [`Options::divergence_bound`] from `‖x0‖∞` already known (the large
    /// runners take it from a pass they make anyway); a maximum does not
    /// depend on the order it is taken in, so the bound is the same.
    pub(crate) fn divergence_bound_for(&self, start_max: f64) -> f64 {
        self.max_abs_x.unwrap_or(1e10 * 1.0_f64.max(start_max))
    }
}

/// What a divergence looked like.
#[derive(Clone, Debug, PartialEq)]
pub enum DivergenceReason {
    /// The step produced an infinite or NaN component.
    NonFiniteIterate,
    /// `f` or `∇f` is not finite at the new iterate (an overflow, or a point
    /// outside the domain of `f`, as `ln x` for `x < 0`).
    NonFiniteValue,
    /// `‖x‖∞` passed the divergence bound.
    OutOfBounds {
        /// `‖x‖∞` of the rejected iterate.
        largest: f64,
        /// The bound in force.
        bound: f64,
    },
    /// The line search found `f` decreasing without bound along the step's
    /// direction ([`StepFailure::Unbounded`](crate::method::StepFailure)).
    UnboundedBelow {
        /// The lowest `f` the search reached.
        f: f64,
        /// The step along the direction where it did.
        t: f64,
    },
}

/// Which stagnation test stopped a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stall {
    /// The step was below `x_tol`.
    Step,
    /// The change of `f` was below `f_tol`.
    Value,
    /// The line search found no step that decreases `f` enough along a
    /// descent direction: `f` is at the limit of what its precision resolves
    /// there (or the direction is useless); the last iterate is the answer.
    NoDecrease,
}

/// Why a run stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// `‖∇f(x)‖₂ ≤ grad_tol`.
    Converged,
    /// The iteration limit was reached.
    IterationLimit,
    /// The iterates stopped moving (`x_tol`) or `f` stopped changing (`f_tol`).
    Stalled(Stall),
    /// The iterates left the finite range or the bound at `iteration`; the
    /// result holds the last good iterate.
    Diverged {
        /// The iteration whose step diverged.
        iteration: usize,
        /// How.
        reason: DivergenceReason,
    },
    /// The method could not compute a step at `iteration` (e.g. a singular Hessian).
    MethodFailed {
        /// The iteration whose step failed.
        iteration: usize,
        /// Why.
        reason: String,
    },
}

impl Status {
    /// Stable machine-readable name: `converged`, `iteration_limit`,
    /// `stalled`, `diverged`, `method_failed`.
    pub fn code(&self) -> &'static str {
        match self {
            Status::Converged => "converged",
            Status::IterationLimit => "iteration_limit",
            Status::Stalled(_) => "stalled",
            Status::Diverged { .. } => "diverged",
            Status::MethodFailed { .. } => "method_failed",
        }
    }

    /// The iteration at which a divergence or failure happened.
    pub fn iteration(&self) -> Option<usize> {
        match self {
            Status::Diverged { iteration, .. } | Status::MethodFailed { iteration, .. } => {
                Some(*iteration)
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Converged => write!(f, "converged (gradient norm below tolerance)"),
            Status::IterationLimit => write!(f, "iteration limit reached"),
            Status::Stalled(Stall::Step) => {
                write!(f, "stalled (the step fell below the x tolerance)")
            }
            Status::Stalled(Stall::Value) => {
                write!(f, "stalled (the change of f fell below the f tolerance)")
            }
            Status::Stalled(Stall::NoDecrease) => write!(
                f,
                "stalled (the line search found no step that decreases f; f is at the limit of its precision or the search direction is useless)"
            ),
            Status::Diverged { iteration, reason } => {
                write!(f, "diverged at iteration {iteration}: ")?;
                match reason {
                    DivergenceReason::NonFiniteIterate => write!(f, "the iterate is not finite"),
                    DivergenceReason::NonFiniteValue => {
                        write!(f, "f or its gradient is not finite at the new iterate (an overflow, or a point outside the domain of f)")
                    }
                    DivergenceReason::OutOfBounds { largest, bound } => {
                        write!(f, "|x| = {largest:.3e} exceeds the bound {bound:.1e}")
                    }
                    DivergenceReason::UnboundedBelow { f: value, t } => write!(
                        f,
                        "f decreases without bound along the search direction (f = {value:.3e} at step {t:.1e})"
                    ),
                }
            }
            Status::MethodFailed { iteration, reason } => {
                write!(f, "method failed at iteration {iteration}: {reason}")
            }
        }
    }
}
