//! RMSProp (d2l chapter "Optimization Algorithms", section "RMSProp"; the
//! chapter's `train_2d` trainer with its state variables `s1, s2` holding the
//! leaky averages of squared gradients):
//!
//! `s ← γ s + (1 − γ) g²`, then `x ← x − η / √(s + ε) · g`, per coordinate,
//! with `g = ∇f(x)`, `s = 0` at the start and `ε = 10⁻⁶`.
//!
//! AdaGrad with a leaky average instead of a sum, so the per-coordinate
//! learning rate no longer decays for good. On `0.1 x1² + 2 x2²` from
//! `(−5, −2)`, `η = 0.4, γ = 0.9` gives `epoch 20, x1: -0.010599, x2:
//! 0.000000` where AdaGrad with the same `η` is still at `x1 = −2.38`.
//!
//! The update is evaluated in the book's order,
//! `s1 = gamma * s1 + (1 - gamma) * g1 ** 2; x1 -= eta / math.sqrt(s1 + eps) * g1`.
//!
//! # State
//!
//! The averages `s` live in the struct, sized from `state.x` on the first
//! step, and are reset to zero whenever the driver hands over
//! `state.iteration == 0`: one value can be reused for several runs.

use super::{number, reset_per_run, Method, State, StepFailure, StepInfo};
use crate::objective::Problem;

/// RMSProp `s ← γ s + (1 − γ) g²; x ← x − η / √(s + ε) · g`.
///
/// ```
/// use downhill::{driver::{run, Options}, formula::Formula, method::RmsProp};
/// use downhill::report::epoch_line;
/// let f = Formula::parse("0.1*x1^2 + 2*x2^2").unwrap();
/// let r = run(&f, &mut RmsProp::new(0.4, 0.9), &[-5.0, -2.0], &Options::book(20)).unwrap();
/// assert_eq!(epoch_line(&r.variables, 20, &r.x), "epoch 20, x1: -0.010599, x2: 0.000000");
/// ```
#[derive(Clone, Debug)]
pub struct RmsProp {
    /// Learning rate `η > 0`.
    pub eta: f64,
    /// Leak parameter `γ` of the squared-gradient average, in `[0, 1)`.
    pub gamma: f64,
    /// `ε` added under the square root (default `10⁻⁶`, as in the book).
    pub eps: f64,
    mean_squares: Vec<f64>,
}

impl RmsProp {
    /// RMSProp with learning rate `eta`, leak `gamma` and `eps = 1e-6`.
    pub fn new(eta: f64, gamma: f64) -> Self {
        RmsProp {
            eta,
            gamma,
            eps: 1e-6,
            mean_squares: Vec::new(),
        }
    }

    /// The same method with another `eps`.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
}

impl Method for RmsProp {
    fn describe(&self) -> String {
        format!(
            "RMSProp (eta = {}, gamma = {}, eps = {:e})",
            number(self.eta),
            number(self.gamma),
            self.eps
        )
    }

    fn step(
        &mut self,
        _problem: &Problem<'_>,
        state: &State,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure> {
        reset_per_run(&mut [&mut self.mean_squares], state);
        for (((next, x), g), s) in x_next
            .iter_mut()
            .zip(&state.x)
            .zip(&state.grad)
            .zip(&mut self.mean_squares)
        {
            *s = self.gamma * *s + (1.0 - self.gamma) * (g * g);
            *next = x - self.eta / (*s + self.eps).sqrt() * g;
        }
        Ok(StepInfo::default())
    }
}
