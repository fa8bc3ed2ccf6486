//! The robust default: what `downhill minimize` runs without `--method`.
//!
//! For up to [`AUTO_NEWTON_MAX_DIM`] variables: Newton's method with the
//! Hessian shifted to positive definiteness (`H + τI`) and a strong-Wolfe
//! line search with trial step 1, so that it takes full Newton steps (and
//! converges quadratically) near a minimum, descends on non-convex regions,
//! and falls back to steepest descent when the Newton direction fails. Where
//! the Hessian is not finite, that step uses `−∇f`. Beyond that size, where a
//! dense Hessian costs O(n²) memory and O(n³) time per step, L-BFGS.

use super::descent::{advance_with, LineSearchKind};
use super::newton::{HessianRepair, NewtonSolver};
use super::{HessianNeed, Lbfgs, Method, NextIterate, State, StepFailure, StepInfo};
use crate::line_search::RayBuffers;
use crate::objective::Problem;

/// Largest dimension for which the default uses Newton's method.
pub const AUTO_NEWTON_MAX_DIM: usize = 200;

/// Trace note when the Hessian was not finite and `−∇f` was used.
pub const NOTE_NO_HESSIAN: &str = "hessian not finite: used -grad";

/// Newton with Hessian shift and a Wolfe line search, falling back to
/// steepest descent step by step when needed. Keeps its factorization
/// buffers, direction and line-search buffers between steps: a step
/// allocates nothing.
#[derive(Clone, Debug, Default)]
pub struct RobustNewton {
    solver: NewtonSolver,
    direction: Vec<f64>,
    buffers: RayBuffers,
}

impl RobustNewton {
    /// The method, with empty buffers (they grow on the first step).
    pub fn new() -> Self {
        RobustNewton::default()
    }
}

impl Method for RobustNewton {
    fn describe(&self) -> String {
        "Newton's method (hessian shift, line search wolfe)".into()
    }

    fn hessian_need(&self) -> HessianNeed {
        HessianNeed::Full
    }

    fn step(
        &mut self,
        problem: &Problem<'_>,
        state: &State,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure> {
        let n = state.grad.len();
        if self.direction.len() != n {
            self.direction.resize(n, 0.0);
        }
        let solved = self.solver.direction(
            &state.hess,
            &state.grad,
            HessianRepair::Shift,
            &mut self.direction,
        );
        let note = match solved {
            Ok(note) => note,
            Err(_) => {
                for (d, g) in self.direction.iter_mut().zip(&state.grad) {
                    *d = -g;
                }
                Some(NOTE_NO_HESSIAN)
            }
        };
        advance_with(
            problem,
            state,
            &mut self.direction,
            1.0,
            LineSearchKind::Wolfe,
            note,
            &mut NextIterate::x_only(x_next),
            &mut self.buffers,
        )
    }
}

/// The default method for an objective of `dim` variables, and why it was chosen.
pub fn default_method(dim: usize) -> (Box<dyn Method>, String) {
    if dim <= AUTO_NEWTON_MAX_DIM {
        (
            Box::new(RobustNewton::new()),
            format!(
                "{dim} variable{}: Newton's method with exact Hessian (shifted to positive definite where needed) and a strong-Wolfe line search",
                if dim == 1 { "" } else { "s" }
            ),
        )
    } else {
        (
            Box::new(Lbfgs::new(10)),
            format!(
                "{dim} variables (more than {AUTO_NEWTON_MAX_DIM}): L-BFGS, which needs no Hessian"
            ),
        )
    }
}
