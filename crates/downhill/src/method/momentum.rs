//! Gradient descent with momentum (d2l chapter "Optimization Algorithms",
//! section "Momentum"; the chapter's `train_2d` trainer with its state
//! variables `s1, s2` holding the velocity):
//!
//! `v ← β v + ∇f(x)`, then `x ← x − η v`, with `v = 0` at the start.
//!
//! The velocity is a leaky average of past gradients: directions in which the
//! gradient keeps its sign build up speed, directions in which it alternates
//! cancel out. On the ill-conditioned `0.1 x1² + 2 x2²` from `(−5, −2)`,
//! where plain gradient descent with `η = 0.6` diverges in `x2`, momentum with
//! `η = 0.6, β = 0.5` converges: after 20 steps the book prints
//! `epoch 20, x1: 0.007188, x2: 0.002553`.
//!
//! # State
//!
//! The velocity lives in the struct, sized from `state.x` on the first step.
//! It is reset to zero whenever the driver hands over `state.iteration == 0`,
//! so one value can be reused for several runs and each starts afresh.

use super::{number, reset_per_run, Method, State, StepFailure, StepInfo};
use crate::objective::Problem;

/// Momentum `v ← β v + ∇f(x); x ← x − η v`.
///
/// ```
/// use downhill::{driver::{run, Options}, formula::Formula, method::Momentum};
/// use downhill::report::epoch_line;
/// let f = Formula::parse("0.1*x1^2 + 2*x2^2").unwrap();
/// let r = run(&f, &mut Momentum::new(0.6, 0.5), &[-5.0, -2.0], &Options::book(20)).unwrap();
/// assert_eq!(epoch_line(&r.variables, 20, &r.x), "epoch 20, x1: 0.007188, x2: 0.002553");
/// ```
#[derive(Clone, Debug)]
pub struct Momentum {
    /// Learning rate `η > 0`.
    pub eta: f64,
    /// Momentum (leak) parameter `β`, usually in `[0, 1)`; `β = 0` is
    /// gradient descent.
    pub beta: f64,
    velocity: Vec<f64>,
}

impl Momentum {
    /// Momentum with learning rate `eta` and momentum parameter `beta`.
    pub fn new(eta: f64, beta: f64) -> Self {
        Momentum {
            eta,
            beta,
            velocity: Vec::new(),
        }
    }
}

impl Method for Momentum {
    fn describe(&self) -> String {
        format!(
            "momentum (eta = {}, beta = {})",
            number(self.eta),
            number(self.beta)
        )
    }

    fn step(
        &mut self,
        _problem: &Problem<'_>,
        state: &State,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure> {
        reset_per_run(&mut [&mut self.velocity], state);
        for (((next, x), g), v) in x_next
            .iter_mut()
            .zip(&state.x)
            .zip(&state.grad)
            .zip(&mut self.velocity)
        {
            // The book: `v1 = beta * v1 + 0.2 * x1; x1 - eta * v1`.
            *v = self.beta * *v + g;
            *next = x - self.eta * *v;
        }
        Ok(StepInfo::default())
    }
}
