//! Adadelta (d2l chapter "Optimization Algorithms", section "Adadelta",
//! after Zeiler 2012), with no learning rate:
//!
//! ```text
//! s  ← ρ s + (1 − ρ) g²
//! g' = √(Δ + ε) / √(s + ε) · g
//! x  ← x − g'
//! Δ  ← ρ Δ + (1 − ρ) g'²
//! ```
//!
//! per coordinate, with `g = ∇f(x)`, `s = Δ = 0` at the start and
//! `ε = 10⁻⁵` (d2l's value). The ratio `√(Δ + ε) / √(s + ε)` plays the part
//! of the learning rate: the typical size of recent steps over the typical
//! size of recent gradients.
//!
//! Consequences worth knowing on a deterministic objective:
//!
//! * the first step has length `√(ε / (1 − ρ))` per coordinate (about
//!   `0.01` for `ρ = 0.9`), so Adadelta starts slowly and speeds up as `Δ`
//!   grows;
//! * near a minimum both averages fall to the `ε` level and the effective
//!   learning rate tends to about 1, so a coordinate with curvature above 2
//!   does not converge but keeps oscillating (on `x1² + 2 x2²` with
//!   `ρ = 0.9`, `x2` never settles), while `0.5 x1² + 0.5 x2²` converges.
//!
//! # State
//!
//! `s` and `Δ` live in the struct, sized from `state.x` on the first step,
//! and are reset to zero whenever the driver hands over
//! `state.iteration == 0`: one value can be reused for several runs.

use super::{number, reset_per_run, Method, State, StepFailure, StepInfo};
use crate::objective::Problem;

/// Adadelta, d2l's formulation (no learning rate).
///
/// The first step on `x1² + 2 x2²` from `(−5, −2)` with `ρ = 0.9` moves
/// each coordinate by about `√(10⁻⁵ / 0.1) = 0.01`:
///
/// ```
/// use downhill::{driver::{run, Options}, formula::Formula, method::Adadelta};
/// use downhill::report::epoch_line;
/// let f = Formula::parse("x1^2 + 2*x2^2").unwrap();
/// let r = run(&f, &mut Adadelta::new(0.9), &[-5.0, -2.0], &Options::book(1)).unwrap();
/// assert_eq!(epoch_line(&r.variables, 1, &r.x), "epoch 1, x1: -4.990000, x2: -1.990000");
/// ```
#[derive(Clone, Debug)]
pub struct Adadelta {
    /// Leak parameter `ρ` of both averages, in `[0, 1)`.
    pub rho: f64,
    /// `ε` inside both square roots (default `10⁻⁵`, as in d2l).
    pub eps: f64,
    mean_squares: Vec<f64>,
    mean_updates: Vec<f64>,
}

impl Adadelta {
    /// Adadelta with leak `rho` and `eps = 1e-5`.
    pub fn new(rho: f64) -> Self {
        Adadelta {
            rho,
            eps: 1e-5,
            mean_squares: Vec::new(),
            mean_updates: Vec::new(),
        }
    }

    /// The same method with another `eps`.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
}

impl Method for Adadelta {
    fn describe(&self) -> String {
        format!(
            "Adadelta (rho = {}, eps = {:e})",
            number(self.rho),
            self.eps
        )
    }

    fn step(
        &mut self,
        _problem: &Problem<'_>,
        state: &State,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure> {
        reset_per_run(&mut [&mut self.mean_squares, &mut self.mean_updates], state);
        let (rho, eps) = (self.rho, self.eps);
        for ((((next, x), g), s), delta) in x_next
            .iter_mut()
            .zip(&state.x)
            .zip(&state.grad)
            .zip(&mut self.mean_squares)
            .zip(&mut self.mean_updates)
        {
            // d2l: `s[:] = rho * s + (1 - rho) * torch.square(p.grad)`,
            // `g = (torch.sqrt(delta + eps) / torch.sqrt(s + eps)) * p.grad`,
            // `p[:] -= g`, `delta[:] = rho * delta + (1 - rho) * g * g`.
            *s = rho * *s + (1.0 - rho) * (g * g);
            let update = ((*delta + eps).sqrt() / (*s + eps).sqrt()) * g;
            *next = x - update;
            *delta = rho * *delta + (1.0 - rho) * update * update;
        }
        Ok(StepInfo::default())
    }
}
