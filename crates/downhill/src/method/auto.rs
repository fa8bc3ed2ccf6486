//! The robust default: what `downhill minimize` runs without `--method`.
//!
//! For up to [`AUTO_NEWTON_MAX_DIM`] variables: Newton's method with the
//! Hessian shifted to positive definiteness (`H + τI`) and a strong-Wolfe
//! line search with trial step 1, so that it takes full Newton steps (and
//! converges quadratically) near a minimum, descends on non-convex regions,
//! and falls back to steepest descent when the Newton direction fails. Where
//! the Hessian is not finite, that step uses `−∇f`. Beyond that size, where a
//! dense Hessian costs O(n²) memory and O(n³) time per step, L-BFGS.

use super::descent::{advance, LineSearchKind};
use super::newton::{newton_direction, HessianRepair};
use super::{HessianNeed, Lbfgs, Method, NextIterate, State, StepFailure, StepInfo};
use crate::objective::Problem;

/// Largest dimension for which the default uses Newton's method.
pub const AUTO_NEWTON_MAX_DIM: usize = 200;

/// Trace note when the Hessian was not finite and `−∇f` was used.
pub const NOTE_NO_HESSIAN: &str = "hessian not finite: used -grad";

/// Newton with Hessian shift and a Wolfe line search, falling back to
/// steepest descent step by step when needed.
#[derive(Clone, Debug, Default)]
pub struct RobustNewton;

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
        let (mut direction, note) =
            match newton_direction(&state.hess, &state.grad, HessianRepair::Shift) {
                Ok(found) => found,
                Err(_) => (
                    state.grad.iter().map(|g| -g).collect(),
                    Some(NOTE_NO_HESSIAN),
                ),
            };
        advance(
            problem,
            state,
            &mut direction,
            1.0,
            LineSearchKind::Wolfe,
            note,
            &mut NextIterate::x_only(x_next),
        )
    }
}

/// The default method for an objective of `dim` variables, and why it was chosen.
pub fn default_method(dim: usize) -> (Box<dyn Method>, String) {
    if dim <= AUTO_NEWTON_MAX_DIM {
        (
            Box::new(RobustNewton),
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
