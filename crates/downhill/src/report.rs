//! Text the book prints and the summary a person reads after a run.

use crate::driver::{Options, RunResult, Status};

/// The book's progress line: `epoch k, x: v` in one dimension,
/// `epoch k, x1: v1, x2: v2` otherwise, each value with six decimals
/// (Python's `{:f}`).
///
/// ```
/// let names = ["x1".to_string(), "x2".to_string()];
/// assert_eq!(downhill::report::epoch_line(&names, 20, &[-0.0576461, -7.3e-5]),
///            "epoch 20, x1: -0.057646, x2: -0.000073");
/// ```
pub fn epoch_line(variables: &[String], iteration: usize, x: &[f64]) -> String {
    let mut line = format!("epoch {iteration}");
    for (name, value) in variables.iter().zip(x) {
        line.push_str(&format!(", {name}: {value:.6}"));
    }
    line
}

/// A number in a summary: 6 significant digits, scientific when large or small.
pub fn format_value(v: f64) -> String {
    // `-0` reads as a sign error; an exact zero is shown as 0.
    let v = if v == 0.0 { 0.0 } else { v };
    if !v.is_finite() {
        return crate::trace::format_number(v);
    }
    let a = v.abs();
    if a == 0.0 || (1e-4..1e6).contains(&a) {
        let digits = if a == 0.0 {
            0
        } else {
            (5 - a.log10().floor() as i32).clamp(0, 10) as usize
        };
        format!("{v:.digits$}")
    } else {
        format!("{v:.5e}")
    }
}

/// A multi-line human summary (Optim.jl style): outcome, final point,
/// measures against their tolerances, work counters.
pub fn summary(result: &RunResult, options: &Options) -> String {
    let mut out = String::new();
    let point = |x: &[f64]| -> String {
        let parts: Vec<String> = result
            .variables
            .iter()
            .zip(x)
            .map(|(n, v)| format!("{n} = {}", format_value(*v)))
            .collect();
        parts.join(", ")
    };
    let outcome = match &result.status {
        Status::Converged => "converged",
        Status::IterationLimit => "iteration limit",
        Status::Stalled(_) => "stalled",
        Status::Diverged { .. } => "diverged",
        Status::MethodFailed { .. } => "method failed",
    };
    out.push_str(&format!("outcome      {outcome}: {}\n", result.status));
    out.push_str(&format!("method       {}\n", result.method));
    let label = if matches!(result.status, Status::Diverged { .. }) {
        "last finite x"
    } else {
        "final x"
    };
    out.push_str(&format!("{label:<12} {}\n", point(&result.x)));
    out.push_str(&measures(
        result.f,
        result.grad_norm,
        result.iterations,
        result.evaluations,
        options,
    ));
    if let Some(note) = result.trace.thinning_note() {
        out.push_str(&format!("trace        {note}\n"));
    }
    out
}

/// The summary lines after the point: `f(x)`, `|grad f(x)|` against the
/// tolerance, iterations against the limit, evaluation counts.
pub fn measures(
    f: f64,
    grad_norm: f64,
    iterations: usize,
    evaluations: crate::objective::Evaluations,
    options: &Options,
) -> String {
    let tolerance = if options.grad_tol > 0.0 {
        let holds = grad_norm <= options.grad_tol;
        format!(
            "   {} tol {:.1e}",
            if holds { "<=" } else { "> " },
            options.grad_tol
        )
    } else {
        "   (tolerance test off)".to_string()
    };
    format!(
        "f(x)         {}\n|grad f(x)|  {}{tolerance}\niterations   {} of at most {}\nevaluations  f: {}, gradient: {}, Hessian: {}\n",
        format_value(f),
        format_value(grad_norm),
        iterations,
        options.max_iterations,
        evaluations.f,
        evaluations.grad,
        evaluations.hess
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_dimensional_line_uses_x() {
        assert_eq!(
            epoch_line(&["x".into()], 10, &[0.0604661760]),
            "epoch 10, x: 0.060466"
        );
    }

    #[test]
    fn values_are_readable() {
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(1.5), "1.50000");
        assert_eq!(format_value(-123.456), "-123.456");
        assert_eq!(format_value(1.5e-9), "1.50000e-9");
        assert_eq!(format_value(f64::INFINITY), "inf");
    }
}

/// What the summary adds to the run's own numbers: why `auto` chose its
/// method, the observed convergence order, what kind of stationary point a
/// converged run found, and (fixed-step gradient descent) the learning rate
/// against the curvature bound.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    /// Why the default method was chosen.
    pub chosen_because: Option<String>,
    /// For a converged run of at most [`STATIONARY_MAX_DIM`] variables: the
    /// kind of stationary point at `x` by the Hessian's eigenvalues there
    /// (Newton's method converges to maxima and saddles as readily as to
    /// minima; the chapter's section on non-convex functions).
    pub stationary: Option<crate::sweep::StationaryKind>,
    /// The observed order of convergence, when the trace shows one.
    pub order: Option<crate::analysis::OrderEstimate>,
    /// The stability of a fixed learning rate.
    pub stability: Option<crate::analysis::Stability>,
}

impl Diagnostics {
    /// Computes the diagnostics of `result`, a run of `spec` on `objective`.
    pub fn compute(
        objective: &dyn crate::objective::Objective,
        spec: &crate::method::MethodSpec,
        result: &RunResult,
        chosen_because: Option<String>,
    ) -> Self {
        use crate::method::{LineSearchKind, MethodName};
        let converging = matches!(
            result.status,
            Status::Converged | Status::Stalled(_) | Status::IterationLimit
        );
        let order = if converging {
            crate::analysis::convergence_order(&result.trace, None)
        } else {
            None
        };
        let fixed_step_gd = spec.name == MethodName::Gd
            && spec.line_search.unwrap_or_default() == LineSearchKind::None;
        let stability = if fixed_step_gd {
            crate::analysis::stability(objective, spec.eta.unwrap_or(0.1), &result.x0, &result.x)
        } else {
            None
        };
        let stationary =
            if result.status == Status::Converged && result.x.len() <= STATIONARY_MAX_DIM {
                let n = result.x.len();
                let (mut grad, mut hess) = (vec![0.0; n], vec![0.0; n * n]);
                objective.value_gradient_hessian(&result.x, &mut grad, &mut hess);
                hess.iter()
                    .all(|v| v.is_finite())
                    .then(|| crate::sweep::StationaryKind::of_hessian(&hess, n))
            } else {
                None
            };
        Diagnostics {
            chosen_because,
            order,
            stationary,
            stability,
        }
    }

    /// The diagnostics as JSON fields.
    pub fn to_json(&self) -> serde_json::Value {
        use crate::trace::json_number;
        let mut object = serde_json::json!({});
        if let Some(why) = &self.chosen_because {
            object["chosen_because"] = serde_json::json!(why);
        }
        if let Some(order) = &self.order {
            object["convergence_order"] = serde_json::json!({
                "q": json_number(order.q),
                "c": json_number(order.c),
                "description": order.to_string(),
            });
        }
        if let Some(kind) = self.stationary {
            object["stationary_point"] = serde_json::json!(kind.name());
        }
        if let Some(s) = &self.stability {
            object["stability"] = serde_json::json!({
                "eta": s.eta,
                "bound_at_start": json_number(crate::analysis::Stability::bound(s.lambda_start)),
                "bound_at_end": json_number(crate::analysis::Stability::bound(s.lambda_end)),
                "eta_too_large": s.exceeded_at_end(),
            });
        }
        object
    }

    /// The diagnostics as summary lines.
    pub fn lines(&self) -> String {
        let mut out = String::new();
        if let Some(why) = &self.chosen_because {
            out.push_str(&format!("chosen       {why}\n"));
        }
        if let Some(order) = &self.order {
            out.push_str(&format!("convergence  {order}\n"));
        }
        // A minimum is what a minimizer is expected to find; anything else
        // is worth a line.
        use crate::sweep::StationaryKind;
        let warning = match self.stationary {
            Some(StationaryKind::Maximum) => Some(
                "a maximum, not a minimum: f curves down in every direction here (all Hessian eigenvalues < 0)",
            ),
            Some(StationaryKind::Saddle) => Some(
                "a saddle point, not a minimum: f curves down in some direction here (Hessian eigenvalues of both signs)",
            ),
            Some(StationaryKind::Degenerate) => Some(
                "the Hessian is singular here: its second derivatives cannot tell a minimum from a saddle",
            ),
            Some(StationaryKind::Minimum) | None => None,
        };
        if let Some(warning) = warning {
            out.push_str(&format!("stationary   {warning}\n"));
        }
        if let Some(s) = &self.stability {
            out.push_str(&format!("stability    {s}\n"));
        }
        out
    }
}

/// The largest run whose stationary point [`Diagnostics`] classifies (an
/// `n × n` Hessian and its eigenvalues).
pub const STATIONARY_MAX_DIM: usize = 100;

/// Lines of a table whose columns line up: the header, a rule, the rows.
/// Columns are right-aligned except the first.
///
/// ```
/// let lines = downhill::report::table(&["eta", "iterations"], &[vec!["0.2".into(), "33".into()]]);
/// assert_eq!(lines, ["eta  iterations", "---  ----------", "0.2          33"]);
/// ```
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let columns = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            let pad = w.saturating_sub(cell.chars().count());
            if i == 0 {
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            }
        }
        out.trim_end().to_string()
    };
    let mut lines = vec![line(headers.iter().map(|h| h.to_string()).collect())];
    lines.push(line(widths.iter().map(|w| "-".repeat(*w)).collect()));
    for row in rows {
        let mut cells = row.clone();
        cells.resize(columns, String::new());
        lines.push(line(cells));
    }
    lines
}
