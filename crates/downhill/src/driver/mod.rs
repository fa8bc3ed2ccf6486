//! The one driver loop shared by every method (the chapter's `train_2d`
//! idea, argmin's executor): evaluate, test the stopping rules, step, check
//! for divergence, record, repeat.
//!
//! ```text
//! evaluate f, ∇f (and ∇²f if the method needs it) at x0; record
//! loop:
//!     ‖∇f(x_k)‖ ≤ grad_tol       → converged
//!     k = max_iterations          → iteration limit
//!     x_{k+1} = method.step_into(x_k)  (failure → method failed)
//!     x_{k+1} not finite or ‖x_{k+1}‖∞ > bound → diverged
//!     evaluate at x_{k+1} (f, ∇f: unless the step handed them over)
//!     f or ∇f not finite → diverged
//!     record
//!     ‖x_{k+1} − x_k‖∞ ≤ x_tol·max(1, ‖x_k‖∞)            → stalled (step)
//!     |f_{k+1} − f_k| ≤ f_tol·max(1, |f_k|, |f_{k+1}|)  → stalled (value)
//! ```

mod options;

pub use options::{DivergenceReason, Options, Stall, Status};

use serde::Serialize;

use crate::finite::all_finite;
use crate::method::{HessianNeed, Method, NextIterate, State, StepFailure};
use crate::objective::{Evaluations, Objective, Problem, Variables};
use crate::scratch::{can_allocate, fresh_zeros, gigabytes, give_back, zeros};
use crate::trace::{format_number, Record, Trace};

/// Everything a finished run reports.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Description of the method and its parameters.
    pub method: String,
    /// Why the run stopped.
    pub status: Status,
    /// Variable names, in order (reads as `&[String]`; the default names
    /// are spelled out only when read).
    pub variables: Variables,
    /// The start `x0`.
    pub x0: Vec<f64>,
    /// The last finite iterate (for a diverged run: the one before it left
    /// the finite range or the bound).
    pub x: Vec<f64>,
    /// `f(x)`.
    pub f: f64,
    /// `‖∇f(x)‖₂`.
    pub grad_norm: f64,
    /// Iterations taken (steps accepted).
    pub iterations: usize,
    /// Evaluation counts.
    pub evaluations: Evaluations,
    /// The recorded iterates.
    pub trace: Trace,
}

/// A run that could not start: the input does not fit the objective.
#[derive(Clone, Debug, PartialEq)]
pub enum RunError {
    /// `x0` has the wrong number of components.
    DimensionMismatch {
        /// Variables of the objective.
        expected: usize,
        /// Components given.
        given: usize,
    },
    /// `x0` has a non-finite component.
    NonFiniteStart,
    /// `f`, `∇f` or `∇²f` is not finite at `x0`.
    NotFiniteAtStart {
        /// `"value"`, `"gradient"` or `"Hessian"`.
        what: &'static str,
        /// Which number and what it is, e.g. `"f = nan"`, `"∂f/∂y = inf"`.
        detail: String,
    },
    /// An option is out of range (e.g. `eta <= 0`).
    InvalidOption(String),
    /// A buffer the run needs cannot be allocated (e.g. the `n × n`
    /// Hessian of a Newton method for a very large `n`).
    TooLarge(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::DimensionMismatch { expected, given } => write!(
                f,
                "the start point has {given} value{} but the objective has {expected} variable{}",
                if *given == 1 { "" } else { "s" },
                if *expected == 1 { "" } else { "s" }
            ),
            RunError::NonFiniteStart => write!(f, "the start point is not finite"),
            RunError::NotFiniteAtStart { what, detail } => {
                write!(
                    f,
                    "the objective's {what} is not finite at the start point ({detail})"
                )
            }
            RunError::InvalidOption(message) | RunError::TooLarge(message) => {
                write!(f, "{message}")
            }
        }
    }
}

impl std::error::Error for RunError {}

/// Receives every accepted iterate as the run goes (printing, progress bars).
pub trait Observer {
    /// Called for iteration 0 and after each accepted step.
    fn observe(&mut self, state: &State);
}

impl<F: FnMut(&State)> Observer for F {
    fn observe(&mut self, state: &State) {
        self(state)
    }
}

/// Runs `method` on `objective` from `x0` under `options`.
pub fn run(
    objective: &dyn Objective,
    method: &mut dyn Method,
    x0: &[f64],
    options: &Options,
) -> Result<RunResult, RunError> {
    drive(objective, method, x0, options, None)
}

/// Records the trace reserves room for up front: short runs (the common
/// case) never grow it, long ones grow it geometrically.
const TRACE_RESERVE: usize = 64;

/// [`run`], calling `observer` at every accepted iterate.
///
/// Per run this allocates the two iterates `x` (they become the result's
/// `x` and `x0`), the trace and the method's description; the gradients and
/// what the method needs of `∇²f` come from buffers kept per thread from
/// the previous run (see `scratch`). Per iteration nothing beyond what the
/// method and the trace policy need.
pub fn run_observed(
    objective: &dyn Objective,
    method: &mut dyn Method,
    x0: &[f64],
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<RunResult, RunError> {
    drive(objective, method, x0, options, Some(observer))
}

/// [`run_observed`] with the observer optional: [`run`] has none, so its
/// loop makes no call per iteration for it.
fn drive(
    objective: &dyn Objective,
    method: &mut dyn Method,
    x0: &[f64],
    options: &Options,
    mut observer: Option<&mut dyn Observer>,
) -> Result<RunResult, RunError> {
    let n = objective.dim();
    if x0.len() != n {
        return Err(RunError::DimensionMismatch {
            expected: n,
            given: x0.len(),
        });
    }
    if !all_finite(x0) {
        return Err(RunError::NonFiniteStart);
    }
    options.validate()?;

    let problem = Problem::new(objective);
    let need = method.hessian_need();
    if need == HessianNeed::Full && !n.checked_mul(n).is_some_and(can_allocate::<f64>) {
        return Err(RunError::TooLarge(format!(
            "{} needs the {n} x {n} Hessian ({}), more than can be allocated",
            method.describe(),
            gigabytes(8.0 * n as f64 * n as f64)
        )));
    }
    let new_state = |x: Vec<f64>, hess: Vec<f64>| State {
        iteration: 0,
        x,
        f: 0.0,
        grad: zeros(n),
        hess,
    };
    let mut state = new_state(x0.to_vec(), zeros(need.len(n)));
    // The full matrix, for a diagonal the objective cannot give alone.
    let mut full = Vec::new();
    evaluate(&problem, &mut state, need, &mut full);
    if !state.f.is_finite() {
        return Err(RunError::NotFiniteAtStart {
            what: "value",
            detail: format!("f = {}", format_number(state.f)),
        });
    }
    if let Some(i) = state.grad.iter().position(|g| !g.is_finite()) {
        let names = objective.names();
        return Err(RunError::NotFiniteAtStart {
            what: "gradient",
            detail: format!("∂f/∂{} = {}", names[i], format_number(state.grad[i])),
        });
    }
    if let Some(k) = state.hess.iter().position(|h| !h.is_finite()) {
        let detail = match need {
            HessianNeed::Full => format!("entry ({}, {})", k / n + 1, k % n + 1),
            _ => format!("diagonal entry {}", k + 1),
        };
        return Err(RunError::NotFiniteAtStart {
            what: "Hessian",
            detail: format!("{detail} = {}", format_number(state.hess[k])),
        });
    }

    let bound = options.divergence_bound(x0);
    let variables = objective.names();
    let mut trace = Trace::new(variables.clone(), options.trace);
    trace.reserve(options.max_iterations.saturating_add(1).min(TRACE_RESERVE));
    let grad_norm = norm(&state.grad);
    trace.push(Record {
        iteration: 0,
        x: &state.x,
        f: state.f,
        grad_norm,
        step_norm: 0.0,
        note: None,
    });
    if let Some(observer) = observer.as_deref_mut() {
        observer.observe(&state);
    }

    // The method writes x_{k+1} into the candidate, which is evaluated
    // there before it becomes the state: the last good iterate survives a
    // divergent step. The Hessian buffer moves from the state to the
    // candidate once the step has used it (one `n × n` matrix per run).
    let mut candidate = new_state(fresh_zeros(n), Vec::new());
    let mut run = Iterate {
        problem: &problem,
        method: &mut *method,
        options,
        observer,
        trace: &mut trace,
        need,
        full: &mut full,
        bound,
        grad_norm,
        step_norm: 0.0,
        note: None,
    };
    // The loop with the dimension a constant for small n: the vector loops
    // (finiteness, norms, the trace's copy) unroll; one loop in the source.
    let (status, swapped) = match n {
        1 => run.iterate(1, &mut state, &mut candidate),
        2 => run.iterate(2, &mut state, &mut candidate),
        3 => run.iterate(3, &mut state, &mut candidate),
        4 => run.iterate(4, &mut state, &mut candidate),
        _ => run.iterate(n, &mut state, &mut candidate),
    };
    let Iterate {
        grad_norm,
        step_norm,
        note,
        ..
    } = run;
    if swapped {
        std::mem::swap(&mut state, &mut candidate);
    }
    trace.finish_with(Record {
        iteration: state.iteration,
        x: &state.x,
        f: state.f,
        grad_norm,
        step_norm,
        note,
    });

    // The gradients and the Hessian go back to the pool; the candidate's x
    // is free now: it carries x0 into the result.
    for buffer in [state.grad, state.hess, candidate.grad, candidate.hess] {
        give_back(buffer);
    }
    let mut start = candidate.x;
    start.copy_from_slice(x0);
    Ok(RunResult {
        method: method.describe(),
        status,
        variables,
        x0: start,
        x: state.x,
        f: state.f,
        grad_norm,
        iterations: state.iteration,
        evaluations: problem.evaluations(),
        trace,
    })
}

/// The driver loop's context: what [`Iterate::iterate`] reads and the
/// last record's numbers it leaves for the result.
struct Iterate<'r, 'p, 'o> {
    problem: &'r Problem<'p>,
    method: &'r mut dyn Method,
    options: &'r Options,
    observer: Option<&'r mut (dyn Observer + 'o)>,
    trace: &'r mut Trace,
    need: HessianNeed,
    full: &'r mut Vec<f64>,
    bound: f64,
    /// `‖∇f‖`, `‖x_k − x_{k−1}‖` and the step's note at the current state.
    grad_norm: f64,
    step_norm: f64,
    note: Option<&'static str>,
}

impl Iterate<'_, '_, '_> {
    /// Steps from `state` until a stopping rule holds; `n` is the
    /// dimension (a literal at the small-`n` call sites, see `drive`).
    /// Returns the status and whether the final state is in `candidate`
    /// (the two swap roles every step).
    #[inline(always)]
    fn iterate<'s>(
        &mut self,
        n: usize,
        mut state: &'s mut State,
        mut candidate: &'s mut State,
    ) -> (Status, bool) {
        let options = self.options;
        let converged = |grad_norm: f64| options.grad_tol > 0.0 && grad_norm <= options.grad_tol;
        let stagnation_tests = options.x_tol > 0.0 || options.f_tol > 0.0;
        // Whether `state` now refers to the caller's candidate.
        let mut swapped = false;
        let status = loop {
            if converged(self.grad_norm) {
                break Status::Converged;
            }
            if state.iteration >= options.max_iterations {
                break Status::IterationLimit;
            }
            let iteration = state.iteration + 1;
            // The Hessian is evaluated afresh at the candidate: the step may
            // use its buffer as workspace. A step may hand over f and ∇f at
            // the candidate (a line search's accepted point).
            let mut next = NextIterate::new(&mut candidate.x, &mut candidate.grad);
            let info = match self.method.step_into(self.problem, state, &mut next) {
                Ok(info) => info,
                // A line search that cannot decrease f even along -grad means
                // no representable step improves f: the run has stalled.
                Err(StepFailure::LineSearchFailed(_)) => break Status::Stalled(Stall::NoDecrease),
                Err(StepFailure::Unbounded { f, t }) => {
                    break Status::Diverged {
                        iteration,
                        reason: DivergenceReason::UnboundedBelow { f, t },
                    }
                }
                Err(failure) => {
                    break Status::MethodFailed {
                        iteration,
                        reason: failure.to_string(),
                    }
                }
            };
            let handed_over = next.handed_over();
            let (finite, largest) = finite_and_largest(&candidate.x[..n]);
            if !finite {
                break Status::Diverged {
                    iteration,
                    reason: DivergenceReason::NonFiniteIterate,
                };
            }
            if largest > self.bound {
                break Status::Diverged {
                    iteration,
                    reason: DivergenceReason::OutOfBounds {
                        largest,
                        bound: self.bound,
                    },
                };
            }
            candidate.iteration = iteration;
            // (Without second derivatives both buffers are empty.)
            if self.need != HessianNeed::None {
                std::mem::swap(&mut candidate.hess, &mut state.hess);
            }
            match handed_over {
                // Without second derivatives, what the step evaluated is all
                // the candidate needs (the same bits as evaluating again).
                Some(value) if self.need == HessianNeed::None => candidate.f = value,
                _ => evaluate(self.problem, candidate, self.need, self.full),
            }
            // A finite sum of squares means a finite gradient; otherwise look
            // closer (finite components may overflow when squared).
            let candidate_norm = norm(&candidate.grad[..n]);
            if !candidate.f.is_finite()
                || (!candidate_norm.is_finite() && !all_finite(&candidate.grad))
            {
                break Status::Diverged {
                    iteration,
                    reason: DivergenceReason::NonFiniteValue,
                };
            }
            self.step_norm = distance(&candidate.x[..n], &state.x[..n]);
            self.note = info.note;
            // The candidate becomes the state: swap the references, not
            // the vectors' headers.
            std::mem::swap(&mut state, &mut candidate);
            swapped = !swapped;
            self.grad_norm = candidate_norm;
            if self.trace.keeps(iteration) {
                self.trace.push_kept(Record {
                    iteration,
                    x: &state.x[..n],
                    f: state.f,
                    grad_norm: self.grad_norm,
                    step_norm: self.step_norm,
                    note: self.note,
                });
            } else {
                self.trace.skip(iteration);
            }
            if let Some(observer) = self.observer.as_deref_mut() {
                observer.observe(state);
            }
            // Stagnation (scipy's and Optim.jl's x and f tests), after the
            // gradient test had its chance at the next loop start.
            if stagnation_tests && !converged(self.grad_norm) {
                if let Some(stall) = options.stagnation(candidate, state) {
                    break Status::Stalled(stall);
                }
            }
        };
        (status, swapped)
    }
}

#[inline(always)]
fn evaluate(problem: &Problem<'_>, state: &mut State, need: HessianNeed, full: &mut Vec<f64>) {
    state.f = match need {
        HessianNeed::None => problem.value_gradient(&state.x, &mut state.grad),
        HessianNeed::Diagonal => problem.value_gradient_hessian_diagonal(
            &state.x,
            &mut state.grad,
            &mut state.hess,
            full,
        ),
        HessianNeed::Full => {
            problem.value_gradient_hessian(&state.x, &mut state.grad, &mut state.hess)
        }
    };
}

/// Whether every component is finite, and `‖v‖∞` (meaningful if so).
#[inline]
fn finite_and_largest(v: &[f64]) -> (bool, f64) {
    let mut finite = true;
    let mut largest = 0.0_f64;
    for x in v {
        finite &= x.is_finite();
        largest = largest.max(x.abs());
    }
    (finite, largest)
}

/// Euclidean norm `‖v‖₂`, without overflow or underflow in the squares:
/// `‖(2e300)‖` is `2e300`, not `inf` (BLAS `dnrm2`'s concern). The plain sum
/// of squares serves whenever it is a normal number; otherwise the norm is
/// taken of `v / max|vᵢ|` and scaled back. NaN if a component is NaN.
///
/// Inlined into the driver's loop, where the dimension is a constant for
/// small `n` and the sum unrolls (a call costs more than the sum there).
#[inline(always)]
pub fn norm(v: &[f64]) -> f64 {
    if let [x] = v {
        // `|x|`: what `sqrt(x²)` gives whenever `x²` is normal (a correctly
        // rounded square root of a rounded square), without the square
        // root's latency on a 1-D run's every step.
        return x.abs();
    }
    norm_of(v.iter().copied())
}

/// [`norm`] of the components `v` yields (a slice's or a difference's):
/// the plain sum of squares when it is normal, else the zero vector or the
/// scaled path.
#[inline(always)]
fn norm_of(v: impl Iterator<Item = f64> + Clone) -> f64 {
    let sum = v.clone().map(|x| x * x).sum::<f64>();
    if normal_positive(sum) {
        sum.sqrt()
    } else if sum == 0.0 && v.clone().all(|x| x == 0.0) {
        // The zero vector (a converged run's step) without the scaled path.
        0.0
    } else {
        scaled_norm(v, sum)
    }
}

/// `MIN_POSITIVE <= sum <= MAX` (false for NaN): two comparisons, where
/// `is_finite() && >=` compiles to a dozen integer instructions on the
/// driver's per-step path.
#[inline(always)]
fn normal_positive(sum: f64) -> bool {
    (f64::MIN_POSITIVE..=f64::MAX).contains(&sum)
}

/// [`norm`] of `v` whose plain sum of squares `sum` overflowed,
/// underflowed or is zero or NaN.
#[cold]
fn scaled_norm(v: impl Iterator<Item = f64> + Clone, sum: f64) -> f64 {
    if sum.is_nan() {
        return sum;
    }
    let largest = v.clone().fold(0.0_f64, |m, x| m.max(x.abs()));
    if largest == 0.0 || largest.is_infinite() {
        return largest;
    }
    largest * v.map(|x| (x / largest) * (x / largest)).sum::<f64>().sqrt()
}

/// `‖a − b‖₂`, as [`norm`].
#[inline(always)]
fn distance(a: &[f64], b: &[f64]) -> f64 {
    if let ([p], [q]) = (a, b) {
        return (p - q).abs();
    }
    norm_of(a.iter().zip(b).map(|(p, q)| p - q))
}

/// The summary of a run as one JSON object (`status`, `x`, `f`, `grad_norm`,
/// `iterations`, `evaluations`, ...), non-finite numbers spelled as strings.
impl RunResult {
    /// Machine-readable summary (the CLI's `--json`).
    pub fn to_json(&self, include_trace: bool) -> serde_json::Value {
        use crate::trace::json_number;
        #[derive(Serialize)]
        struct Evals {
            f: usize,
            grad: usize,
            hess: usize,
        }
        let mut object = serde_json::json!({
            "method": self.method,
            "status": self.status.code(),
            "message": self.status.to_string(),
            "variables": self.variables,
            "x0": self.x0.iter().map(|v| json_number(*v)).collect::<Vec<_>>(),
            "x": self.x.iter().map(|v| json_number(*v)).collect::<Vec<_>>(),
            "f": json_number(self.f),
            "grad_norm": json_number(self.grad_norm),
            "iterations": self.iterations,
            "evaluations": Evals { f: self.evaluations.f, grad: self.evaluations.grad, hess: self.evaluations.hess },
        });
        if let Some(iteration) = self.status.iteration() {
            object["stopped_at_iteration"] = serde_json::json!(iteration);
        }
        if include_trace {
            object["trace"] = self.trace.to_json();
        }
        object
    }
}
