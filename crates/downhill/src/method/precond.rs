//! Diagonal preconditioning (chapter section 5) and the "lightweight
//! Newton" of exercise 4:
//!
//! `x ← x − η diag(H)⁻¹ ∇f(x)`, with `H = ∇²f(x)`,
//!
//! i.e. coordinate `i` moves by `η ∂ᵢf / Hᵢᵢ`: a separate learning rate per
//! coordinate, taken from the curvature along it. Only the diagonal of `H`
//! is used, so the method repairs badly mismatched scales (on
//! `x1² + 100 x2²`, `η = 1` reaches the minimum in one step, where gradient
//! descent must take `η < 0.01` and crawls in `x1`) but not correlations: a
//! rotation by 45° turns a diagonal Hessian into a full one and the
//! diagonal no longer captures the scales.
//!
//! Two variants:
//!
//! * signed (`absolute = false`, exercise 4a): divide by `Hᵢᵢ`. In one
//!   dimension this is Newton's method and shares its failure on non-convex
//!   functions (negative curvature sends it uphill: on `x·cos(0.15πx)` from
//!   `x0 = 10`, `η = 1` ends at `26.834133`, the book's number). A zero
//!   diagonal entry is [`StepFailure::SingularHessian`].
//! * absolute (`absolute = true`, exercise 4b, the chapter's first remedy
//!   "take the absolute value of the Hessian"): divide by
//!   `max(|Hᵢᵢ|, floor)`, so every step is a descent direction. On the same
//!   function it ends at the local minimum near `20.221876`
//!   (`f = −20.111443`).
//!
//! A non-finite diagonal entry is [`StepFailure::NonFiniteHessian`] in both
//! variants. Only the diagonal is evaluated ([`HessianNeed::Diagonal`]):
//! from [`Objective::hessian_diagonal`](crate::objective::Objective::hessian_diagonal)
//! when the objective has it, so memory stays O(n).

use super::descent::{advance_with, LineSearchKind};
use super::{number, HessianNeed, Method, NextIterate, State, StepFailure, StepInfo};
use crate::line_search::RayBuffers;
use crate::objective::Problem;

/// Diagonal preconditioning `x ← x − η diag(H)⁻¹ ∇f(x)`, signed or with
/// absolute values.
///
/// ```
/// use downhill::{driver::{run, Options}, formula::Formula, method::Precond};
/// let f = Formula::parse("x*cos(0.15*pi*x)").unwrap();
/// let signed = run(&f, &mut Precond::new(1.0, false), &[10.0], &Options::book(10)).unwrap();
/// assert_eq!(format!("{:.6}", signed.x[0]), "26.834133");
/// let light = run(&f, &mut Precond::lightweight_newton(1.0), &[10.0], &Options::book(10)).unwrap();
/// assert_eq!(format!("{:.6}", light.x[0]), "20.221876");
/// assert!(light.f < signed.f);
/// ```
#[derive(Clone, Debug)]
pub struct Precond {
    /// Step size `η > 0` (1 is the full preconditioned step).
    pub eta: f64,
    /// Divide by `max(|Hᵢᵢ|, floor)` instead of `Hᵢᵢ`.
    pub absolute: bool,
    /// Smallest divisor in the absolute variant (default `10⁻⁸`); unused
    /// by the signed variant.
    pub floor: f64,
    /// Line search along `d = −diag(H)⁻¹∇f` (none: the fixed step `η`).
    pub line_search: LineSearchKind,
    direction: Vec<f64>,
    buffers: RayBuffers,
}

impl Precond {
    /// Diagonal preconditioning with step size `eta`; `absolute` selects
    /// `max(|Hᵢᵢ|, floor)` over `Hᵢᵢ`. `floor = 1e-8`.
    pub fn new(eta: f64, absolute: bool) -> Self {
        Precond {
            eta,
            absolute,
            floor: 1e-8,
            line_search: LineSearchKind::None,
            direction: Vec::new(),
            buffers: RayBuffers::default(),
        }
    }

    /// Exercise 4's lightweight Newton: absolute diagonal preconditioning
    /// with step size `eta`.
    pub fn lightweight_newton(eta: f64) -> Self {
        Precond::new(eta, true)
    }

    /// The same method with another floor for `|Hᵢᵢ|`.
    pub fn with_floor(mut self, floor: f64) -> Self {
        self.floor = floor;
        self
    }

    /// The same with a line search along the preconditioned direction.
    pub fn with_line_search(mut self, line_search: LineSearchKind) -> Self {
        self.line_search = line_search;
        self
    }
}

impl Method for Precond {
    fn describe(&self) -> String {
        let text = if self.absolute {
            format!(
                "lightweight Newton (|diag H| preconditioning, eta = {}, floor = {:e})",
                number(self.eta),
                self.floor
            )
        } else {
            format!("diagonal preconditioning (eta = {})", number(self.eta))
        };
        if self.line_search == LineSearchKind::None {
            text
        } else {
            format!("{text}, line search {}", self.line_search.name())
        }
    }

    fn hessian_need(&self) -> HessianNeed {
        HessianNeed::Diagonal
    }

    fn step(
        &mut self,
        problem: &Problem<'_>,
        state: &State,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure> {
        let searching = self.line_search != LineSearchKind::None;
        // The driver evaluates only the diagonal (`HessianNeed::Diagonal`).
        let diagonal = &state.hess;
        debug_assert_eq!(diagonal.len(), state.x.len());
        for (((next, x), g), &h) in x_next
            .iter_mut()
            .zip(&state.x)
            .zip(&state.grad)
            .zip(diagonal)
        {
            if !h.is_finite() {
                return Err(StepFailure::NonFiniteHessian);
            }
            let divisor = if self.absolute {
                h.abs().max(self.floor)
            } else {
                h
            };
            // Signed: `Hᵢᵢ = 0`. Absolute: `Hᵢᵢ = 0` with a floor <= 0 or NaN.
            if divisor == 0.0 {
                return Err(StepFailure::SingularHessian);
            }
            // Newton's one-dimensional order `x - eta * g / h`; with a line
            // search `x_next` holds the direction until `advance` overwrites it.
            *next = if searching {
                -g / divisor
            } else {
                x - self.eta * g / divisor
            };
        }
        if searching {
            self.direction.clear();
            self.direction.extend_from_slice(x_next);
            return advance_with(
                problem,
                state,
                &mut self.direction,
                self.eta,
                self.line_search,
                None,
                &mut NextIterate::x_only(x_next),
                &mut self.buffers,
            );
        }
        Ok(StepInfo::default())
    }
}
