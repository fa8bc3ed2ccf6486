//! Adam (d2l chapter "Optimization Algorithms", section "Adam", after
//! Kingma & Ba 2015), with bias correction:
//!
//! ```text
//! v ← β1 v + (1 − β1) g
//! s ← β2 s + (1 − β2) g²
//! v̂ = v / (1 − β1ᵗ),  ŝ = s / (1 − β2ᵗ)
//! x ← x − η v̂ / (√ŝ + ε)
//! ```
//!
//! per coordinate, with `g = ∇f(x)`, `v = s = 0` at the start, `t = 1, 2, …`
//! the step number, and d2l's defaults `β1 = 0.9`, `β2 = 0.999`,
//! `ε = 10⁻⁶` (outside the square root).
//!
//! Momentum on the gradient (`v`) combined with RMSProp's per-coordinate
//! scaling (`s`). The bias correction makes the first step
//! `η g / (|g| + ε)`: a step of almost exactly `η` in every coordinate,
//! whatever the scale of the gradient.
//!
//! # State
//!
//! `v`, `s` and the step counter `t` live in the struct (`v`, `s` sized from
//! `state.x` on the first step) and are reset whenever the driver hands over
//! `state.iteration == 0`: one value can be reused for several runs.

use super::{number, Method, State, StepFailure, StepInfo};
use crate::objective::Problem;

/// Adam with bias correction.
///
/// The first step moves every coordinate by almost exactly `η`:
///
/// ```
/// use downhill::{driver::{run, Options}, formula::Formula, method::Adam};
/// use downhill::report::epoch_line;
/// let f = Formula::parse("x1^2 + 2*x2^2").unwrap();
/// let r = run(&f, &mut Adam::new(0.1), &[-5.0, -2.0], &Options::book(1)).unwrap();
/// assert_eq!(epoch_line(&r.variables, 1, &r.x), "epoch 1, x1: -4.900000, x2: -1.900000");
/// ```
#[derive(Clone, Debug)]
pub struct Adam {
    /// Learning rate `η > 0`.
    pub eta: f64,
    /// Leak `β1` of the gradient average (default 0.9).
    pub beta1: f64,
    /// Leak `β2` of the squared-gradient average (default 0.999).
    pub beta2: f64,
    /// `ε` added to `√ŝ` (default `10⁻⁶`, as in d2l).
    pub eps: f64,
    mean: Vec<f64>,
    mean_squares: Vec<f64>,
    t: u32,
}

impl Adam {
    /// Adam with learning rate `eta`, `beta1 = 0.9`, `beta2 = 0.999`,
    /// `eps = 1e-6`.
    pub fn new(eta: f64) -> Self {
        Adam {
            eta,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-6,
            mean: Vec::new(),
            mean_squares: Vec::new(),
            t: 0,
        }
    }

    /// The same method with other leaks `beta1`, `beta2`.
    pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// The same method with another `eps`.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
}

impl Method for Adam {
    fn describe(&self) -> String {
        format!(
            "Adam (eta = {}, beta1 = {}, beta2 = {}, eps = {:e})",
            number(self.eta),
            number(self.beta1),
            number(self.beta2),
            self.eps
        )
    }

    fn step(
        &mut self,
        _problem: &Problem<'_>,
        state: &State,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure> {
        let n = state.x.len();
        if state.iteration == 0 || self.mean.len() != n || self.mean_squares.len() != n {
            self.mean.clear();
            self.mean.resize(n, 0.0);
            self.mean_squares.clear();
            self.mean_squares.resize(n, 0.0);
            self.t = 0;
        }
        self.t = self.t.saturating_add(1);
        let (beta1, beta2) = (self.beta1, self.beta2);
        // `beta ** t` in the book is the C library's `pow`, as is `powf`.
        let correction1 = 1.0 - beta1.powf(f64::from(self.t));
        let correction2 = 1.0 - beta2.powf(f64::from(self.t));
        for ((((next, x), g), v), s) in x_next
            .iter_mut()
            .zip(&state.x)
            .zip(&state.grad)
            .zip(&mut self.mean)
            .zip(&mut self.mean_squares)
        {
            *v = beta1 * *v + (1.0 - beta1) * g;
            *s = beta2 * *s + (1.0 - beta2) * (g * g);
            let v_hat = *v / correction1;
            let s_hat = *s / correction2;
            *next = x - self.eta * v_hat / (s_hat.sqrt() + self.eps);
        }
        Ok(StepInfo::default())
    }
}
