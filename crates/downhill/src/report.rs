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
    out.push_str(&format!("{label:<13}{}\n", point(&result.x)));
    out.push_str(&format!("f(x)         {}\n", format_value(result.f)));
    let tolerance = if options.grad_tol > 0.0 {
        let holds = result.grad_norm <= options.grad_tol;
        format!(
            "   {} tol {:.1e}",
            if holds { "<=" } else { "> " },
            options.grad_tol
        )
    } else {
        "   (tolerance test off)".to_string()
    };
    out.push_str(&format!(
        "|grad f(x)|  {}{tolerance}\n",
        format_value(result.grad_norm)
    ));
    out.push_str(&format!(
        "iterations   {} of at most {}\n",
        result.iterations, options.max_iterations
    ));
    let e = result.evaluations;
    out.push_str(&format!(
        "evaluations  f: {}, gradient: {}, Hessian: {}\n",
        e.f, e.grad, e.hess
    ));
    out
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
