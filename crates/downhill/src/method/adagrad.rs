//! AdaGrad (d2l chapter "Optimization Algorithms", section "Adagrad"; the
//! chapter's `train_2d` trainer with its state variables `s1, s2` holding the
//! sums of squared gradients):
//!
//! `s ← s + g²`, then `x ← x − η / √(s + ε) · g`, per coordinate, with
//! `g = ∇f(x)`, `s = 0` at the start and `ε = 10⁻⁶`.
//!
//! Every coordinate gets its own learning rate `η / √(s + ε)`, which only
//! shrinks: large early gradients slow a coordinate down for good. On
//! `0.1 x1² + 2 x2²` from `(−5, −2)`, `η = 0.4` leaves `x1` far from the
//! optimum after 20 steps (`epoch 20, x1: -2.382563, x2: -0.158591`) while
//! `η = 2` gets there (`epoch 20, x1: -0.002295, x2: -0.000000`).
//!
//! The update is evaluated in the book's order,
//! `x -= eta / math.sqrt(s + eps) * g`, so the printed digits agree.
//!
//! # State
//!
//! The sums `s` live in the struct, sized from `state.x` on the first step,
//! and are reset to zero whenever the driver hands over
//! `state.iteration == 0`: one value can be reused for several runs.

use super::{number, reset_per_run, Method, State, StepFailure, StepInfo};
use crate::objective::Problem;

/// AdaGrad `s ← s + g²; x ← x − η / √(s + ε) · g`.
///
/// ```
/// use downhill::{driver::{run, Options}, formula::Formula, method::AdaGrad};
/// use downhill::report::epoch_line;
/// let f = Formula::parse("0.1*x1^2 + 2*x2^2").unwrap();
/// let r = run(&f, &mut AdaGrad::new(0.4), &[-5.0, -2.0], &Options::book(20)).unwrap();
/// assert_eq!(epoch_line(&r.variables, 20, &r.x), "epoch 20, x1: -2.382563, x2: -0.158591");
/// ```
#[derive(Clone, Debug)]
pub struct AdaGrad {
    /// Learning rate `η > 0`.
    pub eta: f64,
    /// `ε` added under the square root (default `10⁻⁶`, as in the book).
    pub eps: f64,
    sum_squares: Vec<f64>,
}

impl AdaGrad {
    /// AdaGrad with learning rate `eta` and `eps = 1e-6`.
    pub fn new(eta: f64) -> Self {
        AdaGrad {
            eta,
            eps: 1e-6,
            sum_squares: Vec::new(),
        }
    }

    /// The same method with another `eps`.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
}

impl Method for AdaGrad {
    fn describe(&self) -> String {
        format!("AdaGrad (eta = {}, eps = {:e})", number(self.eta), self.eps)
    }

    fn step(
        &mut self,
        _problem: &Problem<'_>,
        state: &State,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure> {
        reset_per_run(&mut [&mut self.sum_squares], state);
        for (((next, x), g), s) in x_next
            .iter_mut()
            .zip(&state.x)
            .zip(&state.grad)
            .zip(&mut self.sum_squares)
        {
            *s += g * g;
            *next = x - self.eta / (*s + self.eps).sqrt() * g;
        }
        Ok(StepInfo::default())
    }
}
