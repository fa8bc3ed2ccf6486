//! Learning-rate stability of fixed-step gradient descent. Near a point
//! where `H = ∇²f` has largest eigenvalue `λ_max > 0`, the iteration
//! `x ← x − η∇f(x)` multiplies the error along that eigenvector by
//! `1 − ηλ_max`, which shrinks only if `η < 2/λ_max` (the chapter's "too
//! large a learning rate diverges": on `x²`, `λ = 2`, so `η < 1`; the book's
//! `η = 1.1` diverges).

use nalgebra::DMatrix;

use crate::objective::Objective;

/// The curvature bound `2/λ_max` at the start and at the end of a run,
/// against the learning rate used.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stability {
    /// The learning rate `η`.
    pub eta: f64,
    /// `λ_max(∇²f(x0))`.
    pub lambda_start: f64,
    /// `λ_max(∇²f(x_end))`.
    pub lambda_end: f64,
}

impl Stability {
    /// `2/λ` (infinite where `λ ≤ 0`: no curvature bound).
    pub fn bound(lambda: f64) -> f64 {
        if lambda > 0.0 {
            2.0 / lambda
        } else {
            f64::INFINITY
        }
    }

    /// Whether `η` exceeds the bound at the end point (where it decides
    /// convergence).
    pub fn exceeded_at_end(&self) -> bool {
        self.eta >= Stability::bound(self.lambda_end)
    }

    /// Whether `η` exceeds the bound at the start.
    pub fn exceeded_at_start(&self) -> bool {
        self.eta >= Stability::bound(self.lambda_start)
    }
}

impl std::fmt::Display for Stability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fmt_bound = |lambda: f64| {
            let b = Stability::bound(lambda);
            if b.is_finite() {
                format!("{b:.4}")
            } else {
                "none (no positive curvature)".into()
            }
        };
        write!(
            f,
            "eta = {} against 2/lambda_max = {} at x0 and {} at the end",
            crate::method::number(self.eta),
            fmt_bound(self.lambda_start),
            fmt_bound(self.lambda_end)
        )?;
        if self.exceeded_at_end() {
            write!(f, ": eta is too large there, the iteration cannot settle")
        } else if self.exceeded_at_start() {
            write!(f, ": too large at x0, small enough at the end")
        } else {
            Ok(())
        }
    }
}

/// Largest Hessian eigenvalue of `objective` at `x`, `None` if the Hessian is
/// not finite. Evaluated directly, outside any run's counters.
fn largest_eigenvalue(objective: &dyn Objective, x: &[f64]) -> Option<f64> {
    let n = x.len();
    let mut g = vec![0.0; n];
    let mut h = vec![0.0; n * n];
    objective.value_gradient_hessian(x, &mut g, &mut h);
    if h.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let m = DMatrix::from_row_slice(n, n, &h);
    Some(m.symmetric_eigenvalues().max())
}

/// The stability report of a fixed-step run with learning rate `eta` from
/// `x0` to `x_end`; `None` where a Hessian is not finite.
pub fn stability(
    objective: &dyn Objective,
    eta: f64,
    x0: &[f64],
    x_end: &[f64],
) -> Option<Stability> {
    Some(Stability {
        eta,
        lambda_start: largest_eigenvalue(objective, x0)?,
        lambda_end: largest_eigenvalue(objective, x_end)?,
    })
}
