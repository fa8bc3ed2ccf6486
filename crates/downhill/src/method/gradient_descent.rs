//! Fixed-step gradient descent (chapter sections 1 and 2):
//!
//! `x ← x − η ∇f(x)`
//!
//! From the first-order Taylor expansion `f(x + ε) ≈ f(x) + εᵀ∇f(x)` with
//! `ε = −η ∇f(x)`: for small enough `η > 0` the value decreases. On
//! `f(x) = x²` from `x0 = 10`, `η = 0.2` gives `x10 = 10·0.6¹⁰ = 0.060466`.

use super::descent::{advance_with, LineSearchKind};
use super::{push_number, Method, NextIterate, State, StepFailure, StepInfo};
use crate::line_search::RayBuffers;
use crate::objective::Problem;

/// Gradient descent with a fixed learning rate `eta`.
///
/// ```
/// use downhill::{driver::{run, Options}, formula::Formula, method::GradientDescent};
/// let f = Formula::parse("x^2").unwrap();
/// let result = run(&f, &mut GradientDescent::new(0.2), &[10.0], &Options::book(10)).unwrap();
/// assert_eq!(format!("{:.6}", result.x[0]), "0.060466");
/// ```
#[derive(Clone, Debug)]
pub struct GradientDescent {
    /// Learning rate `η > 0`; the trial step of a line search.
    pub eta: f64,
    /// Line search along `−∇f` (none: the book's fixed step).
    pub line_search: LineSearchKind,
    direction: Vec<f64>,
    buffers: RayBuffers,
}

impl GradientDescent {
    /// Gradient descent with learning rate `eta`.
    pub fn new(eta: f64) -> Self {
        GradientDescent {
            eta,
            line_search: LineSearchKind::None,
            direction: Vec::new(),
            buffers: RayBuffers::default(),
        }
    }

    /// Gradient descent with a line search along `−∇f` (chapter section 6),
    /// `eta` being the first trial step.
    pub fn with_line_search(mut self, line_search: LineSearchKind) -> Self {
        self.line_search = line_search;
        self
    }
}

impl GradientDescent {
    /// [`Method::step`] with a line search. Out of line, so that the
    /// fixed step (10⁷ of them in a long run) does not set up the line
    /// search's stack frame: 51 → 32 instructions per 1-D step (callgrind).
    #[inline(never)]
    fn step_with_search(
        &mut self,
        problem: &Problem<'_>,
        state: &State,
        next: &mut NextIterate<'_>,
    ) -> Result<StepInfo, StepFailure> {
        // d = −∇f: on the stack for n ≤ 4, else in the kept buffer.
        match state.grad.len() {
            1 => return self.search_from::<1>(problem, state, next),
            2 => return self.search_from::<2>(problem, state, next),
            3 => return self.search_from::<3>(problem, state, next),
            4 => return self.search_from::<4>(problem, state, next),
            _ => {}
        }
        self.direction.clear();
        self.direction.extend(state.grad.iter().map(|g| -g));
        advance_with(
            problem,
            state,
            &mut self.direction,
            self.eta,
            self.line_search,
            None,
            next,
            &mut self.buffers,
        )
    }

    /// The line-search step along `d = −∇f` for `N = n` variables, `d` in
    /// a stack array (the same step as through the kept buffer).
    #[inline(always)]
    fn search_from<const N: usize>(
        &mut self,
        problem: &Problem<'_>,
        state: &State,
        next: &mut NextIterate<'_>,
    ) -> Result<StepInfo, StepFailure> {
        let mut direction = [0.0; N];
        for (d, g) in direction.iter_mut().zip(&state.grad) {
            *d = -g;
        }
        advance_with(
            problem,
            state,
            &mut direction,
            self.eta,
            self.line_search,
            None,
            next,
            &mut self.buffers,
        )
    }

    /// `x ← x − η ∇f`, into `x_next`.
    #[inline(always)]
    fn fixed_step(&self, state: &State, x_next: &mut [f64]) -> Result<StepInfo, StepFailure> {
        if let ([next], [x], [g]) = (&mut *x_next, &state.x[..], &state.grad[..]) {
            // One variable (the chapter's 1-D runs): no loop set-up, which
            // costs more than the update itself.
            *next = x - self.eta * g;
        } else {
            for ((next, x), g) in x_next.iter_mut().zip(&state.x).zip(&state.grad) {
                *next = x - self.eta * g;
            }
        }
        Ok(StepInfo::default())
    }
}

impl Method for GradientDescent {
    fn describe(&self) -> String {
        let mut text = String::with_capacity(64);
        match self.line_search {
            LineSearchKind::None => text.push_str("gradient descent (eta = "),
            search => {
                text.push_str("gradient descent (line search ");
                text.push_str(search.name());
                text.push_str(", first trial step ");
            }
        }
        push_number(&mut text, self.eta);
        text.push(')');
        text
    }

    fn step(
        &mut self,
        problem: &Problem<'_>,
        state: &State,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure> {
        if self.line_search != LineSearchKind::None {
            return self.step_with_search(problem, state, &mut NextIterate::x_only(x_next));
        }
        self.fixed_step(state, x_next)
    }

    /// [`Method::step`], handing over `f` and `∇f` where the line search
    /// evaluated them at the step it returns.
    fn step_into(
        &mut self,
        problem: &Problem<'_>,
        state: &mut State,
        next: &mut NextIterate<'_>,
    ) -> Result<StepInfo, StepFailure> {
        if self.line_search != LineSearchKind::None {
            return self.step_with_search(problem, state, next);
        }
        self.fixed_step(state, next.x)
    }
}
