//! Sections 4 to 8 of the tour: the chapter's analysis, preconditioning,
//! line search, summary and exercises, each computed from real runs through
//! the driver and shown as a table (and, where a picture helps, a figure).
//! Nothing here is a hard-coded result: every number is measured.

use std::path::Path;

use super::TourError;
use crate::analysis::{convergence_order, error_table};
use crate::driver::{run, Options, RunResult, Status};
use crate::formula::Formula;
use crate::line_search::{bisection_minimize, golden_minimize};
use crate::method::{
    AdaGrad, Adam, Bfgs, GradientDescent, LineSearchKind, Method, Momentum, Newton, Precond,
    RmsProp,
};
use crate::objective::{Objective, Transformed};
use crate::plot::{self, AxisScale, ContourSpec, LineChart, PlotError, Series};
use crate::report::table;

/// A finding of the tour: lines of text (usually a table), what it teaches,
/// and optionally a figure.
#[derive(Clone, Debug)]
pub struct Finding {
    /// Stable id, also the figure's file stem.
    pub id: &'static str,
    /// What was done.
    pub title: String,
    /// The printed lines.
    pub lines: Vec<String>,
    /// What it shows, one or two sentences.
    pub lesson: String,
    /// The figure, if any.
    pub figure: Option<Figure>,
}

/// A figure of a finding, drawn on demand.
#[derive(Clone, Debug)]
pub enum Figure {
    /// Several paths over the contour lines of a 2-D formula, optionally in
    /// coordinates rotated by `rotate` degrees.
    Paths {
        /// The objective.
        formula: String,
        /// Rotation of the coordinates, degrees.
        rotate: Option<f64>,
        /// Labelled paths.
        paths: Vec<(String, Vec<[f64; 2]>)>,
    },
    /// A line chart of labelled series.
    Chart {
        /// Labelled series of (x, y) points.
        series: Vec<(String, Vec<[f64; 2]>)>,
        /// Axis label.
        x_label: String,
        /// Axis label.
        y_label: String,
        /// Axis scale.
        x_scale: AxisScale,
        /// Axis scale.
        y_scale: AxisScale,
    },
}

impl Figure {
    /// Draws the figure to `path` (SVG or PNG by extension).
    pub fn draw(&self, title: &str, path: &Path) -> Result<(), PlotError> {
        match self {
            Figure::Paths {
                formula,
                rotate,
                paths,
            } => {
                let f = Formula::parse(formula).map_err(|e| PlotError {
                    message: e.to_string(),
                })?;
                let transformed = Transformed::rotate_scale(&f, *rotate, None)
                    .map_err(|message| PlotError { message })?;
                let all: Vec<[f64; 2]> = paths.iter().flat_map(|(_, p)| p.clone()).collect();
                let names = f.variables();
                let spec = ContourSpec::around(&all, (&names[0], &names[1]));
                let series: Vec<Series<'_>> = paths
                    .iter()
                    .map(|(label, points)| Series { label, points })
                    .collect();
                plot::paths_2d(
                    &|a, b| transformed.value(&[a, b]),
                    &series,
                    &spec,
                    Some(title),
                    path,
                )
            }
            Figure::Chart {
                series,
                x_label,
                y_label,
                x_scale,
                y_scale,
            } => {
                let series: Vec<Series<'_>> = series
                    .iter()
                    .map(|(label, points)| Series { label, points })
                    .collect();
                plot::line_chart(
                    &LineChart {
                        series: &series,
                        x_label,
                        y_label,
                        x_scale: *x_scale,
                        y_scale: *y_scale,
                        title: Some(title),
                    },
                    path,
                )
            }
        }
    }
}

/// The findings of chapter section `number` (none for sections 1 to 3).
pub fn for_section(number: u32) -> Result<Vec<Finding>, TourError> {
    match number {
        4 => Ok(vec![convergence()?]),
        5 => Ok(vec![preconditioning()?]),
        6 => Ok(vec![line_search()?]),
        7 => Ok(vec![summary()]),
        8 => {
            let mut findings = vec![exercise_1()?, exercise_2()?, exercise_3()?, exercise_4()?];
            findings.extend(exercise_5()?);
            Ok(findings)
        }
        _ => Ok(Vec::new()),
    }
}

fn formula(src: &str) -> Result<Formula, TourError> {
    Formula::parse(src).map_err(|e| TourError(format!("{src}: {e}")))
}

fn solve(
    objective: &dyn Objective,
    method: &mut dyn Method,
    x0: &[f64],
    options: &Options,
) -> Result<RunResult, TourError> {
    run(objective, method, x0, options).map_err(|e| TourError(e.to_string()))
}

/// Runs to `‖∇f‖ ≤ 1e-6` or `max_iterations`.
fn to_tolerance(max_iterations: usize) -> Options {
    Options {
        max_iterations,
        grad_tol: 1e-6,
        ..Options::default()
    }
}

/// The iterations it took, or what happened instead.
fn outcome_cell(result: &RunResult) -> String {
    match &result.status {
        Status::Converged => result.iterations.to_string(),
        Status::IterationLimit => format!("> {}", result.iterations),
        Status::Diverged { iteration, .. } => format!("diverged at {iteration}"),
        other => other.code().to_string(),
    }
}

fn path_2d(result: &RunResult) -> Vec<[f64; 2]> {
    result.trace.iterates().map(|x| [x[0], x[1]]).collect()
}

fn sci(v: f64) -> String {
    format!("{v:.3e}")
}

fn convergence() -> Result<Finding, TourError> {
    const SRC: &str = "log(exp(x)+exp(-2*x-3))";
    let f = formula(SRC)?;
    let x_star = (2f64.ln() - 3.0) / 3.0;
    let book = Options::book(7);
    let x0 = -0.25;
    let newton = solve(&f, &mut Newton::new(1.0), &[x0], &book)?;
    // The chapter's first caveat: nothing guarantees reaching the fast region.
    let far = solve(&f, &mut Newton::new(1.0), &[1.0], &Options::book(1))?;
    let (mut g, mut h) = ([0.0], [0.0]);
    f.value_gradient_hessian(&[x_star], &mut g, &mut h);
    // Fixed step 1/f''(x*) · 0.5: predicted rate |1 − η f''(x*)| = 0.5.
    let eta = 0.5 / h[0];
    let gd = solve(
        &f,
        &mut GradientDescent::new(eta),
        &[x0],
        &Options::book(30),
    )?;

    // Rows until the error reaches rounding level; after that the ratios are noise.
    let errors = error_table(&newton.trace, &[x_star]);
    let shown = errors
        .iter()
        .position(|row| row.error <= 1e-14)
        .map_or(errors.len(), |k| k + 1);
    let rows: Vec<Vec<String>> = errors[..shown]
        .iter()
        .zip(newton.trace.records())
        .map(|(row, record)| {
            vec![
                row.iteration.to_string(),
                format!("{:.12}", record.x[0]),
                sci(row.error),
                row.ratio
                    .filter(|_| row.error > 1e-14)
                    .map(sci)
                    .unwrap_or_default(),
                row.quadratic_ratio
                    .filter(|_| row.error > 1e-14)
                    .map(|q| format!("{q:.4}"))
                    .unwrap_or_else(|| {
                        if row.error <= 1e-14 {
                            "(rounding)".into()
                        } else {
                            String::new()
                        }
                    }),
            ]
        })
        .collect();
    let mut lines = vec![format!(
        "Newton (eta = 1) on f(x) = {SRC} from x0 = {x0}; x* = (ln 2 - 3)/3 = {x_star:.6}"
    )];
    lines.extend(table(
        &["k", "x_k", "e_k", "e_k/e_(k-1)", "e_k/e_(k-1)^2"],
        &rows,
    ));
    let newton_order = convergence_order(&newton.trace, Some(&[x_star]));
    let gd_order = convergence_order(&gd.trace, Some(&[x_star]));
    let describe = |o: Option<crate::analysis::OrderEstimate>| {
        o.map(|o| o.to_string())
            .unwrap_or_else(|| "too few iterates to tell".into())
    };
    lines.push(format!(
        "observed order, Newton:           {}",
        describe(newton_order)
    ));
    lines.push(format!(
        "caveat: from x0 = 1 the first Newton step lands at x = {:.2}, where f'' is nearly 0: the fast region is never reached",
        far.x[0]
    ));
    lines.push(format!(
        "observed order, gradient descent: {} (eta = {eta:.4}; predicted |1 - eta f''(x*)| = {:.3})",
        describe(gd_order),
        (1.0 - eta * h[0]).abs()
    ));
    let series = |result: &RunResult| -> Vec<[f64; 2]> {
        result
            .trace
            .records()
            .map(|r| [r.iteration as f64, (r.x[0] - x_star).abs()])
            // Errors at rounding level are noise, not convergence.
            .filter(|p| p[1] > 1e-15)
            .collect()
    };
    Ok(Finding {
        id: "convergence",
        title: "Newton's quadratic convergence against gradient descent's linear one".into(),
        lines,
        lesson: "Once close, Newton squares the error at every step (e_k/e_(k-1)^2 settles near |f'''(x*)| / (2 f''(x*))) and reaches machine precision in a handful of steps; gradient descent only multiplies it by a constant.".into(),
        figure: Some(Figure::Chart {
            series: vec![
                ("Newton".into(), series(&newton)),
                (format!("gradient descent (eta = {eta:.3})"), series(&gd)),
            ],
            x_label: "iteration k".into(),
            y_label: "|x_k - x*|".into(),
            x_scale: AxisScale::Linear,
            y_scale: AxisScale::Log10,
        }),
    })
}

fn preconditioning() -> Result<Finding, TourError> {
    const SRC: &str = "x1^2 + 100*x2^2";
    let f = formula(SRC)?;
    let x0 = [-5.0, -2.0];
    let options = to_tolerance(100_000);
    // The best fixed step for gradient descent, 2/(λmin + λmax) = 2/202,
    // and one just above the stability bound 2/λmax = 0.01.
    let best = 2.0 / 202.0;
    let mut runs: Vec<(String, RunResult)> = vec![
        (
            format!("gradient descent, eta = {best:.5} (best fixed step)"),
            solve(&f, &mut GradientDescent::new(best), &x0, &options)?,
        ),
        (
            "gradient descent, eta = 0.0101 (above 2/lambda_max = 0.01)".into(),
            solve(&f, &mut GradientDescent::new(0.0101), &x0, &options)?,
        ),
        (
            "diagonal preconditioning, eta = 1".into(),
            solve(&f, &mut Precond::new(1.0, false), &x0, &options)?,
        ),
        (
            "Newton, eta = 1".into(),
            solve(&f, &mut Newton::new(1.0), &x0, &options)?,
        ),
    ];
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|(name, r)| {
            vec![
                name.clone(),
                outcome_cell(r),
                r.evaluations.grad.to_string(),
                r.evaluations.hess.to_string(),
            ]
        })
        .collect();
    let mut lines = vec![format!(
        "f(x) = {SRC} (curvatures 2 and 200: scales differ by 10x) from (-5, -2) to |grad f| <= 1e-6"
    )];
    lines.extend(table(
        &["method", "iterations", "gradients", "Hessians"],
        &rows,
    ));
    let precond = runs.remove(2).1;
    let gd = runs.remove(0).1;
    Ok(Finding {
        id: "preconditioning",
        title: "Diagonal preconditioning on mismatched scales".into(),
        lines,
        lesson: "Gradient descent must keep eta below 2/200 for the steep coordinate and then crawls along the shallow one; dividing each coordinate by its own curvature makes both equally easy, here in a single step.".into(),
        figure: Some(Figure::Paths {
            formula: SRC.into(),
            rotate: None,
            paths: vec![
                ("gradient descent".into(), path_2d(&gd)),
                ("diagonal preconditioning".into(), path_2d(&precond)),
            ],
        }),
    })
}

fn line_search() -> Result<Finding, TourError> {
    const SRC: &str = "x1^2 + 2*x2^2";
    let f = formula(SRC)?;
    let x0 = [-5.0, -2.0];
    let options = to_tolerance(10_000);
    let mut rows = Vec::new();
    let mut fixed_path = Vec::new();
    let mut exact_path = Vec::new();
    for search in [
        LineSearchKind::None,
        LineSearchKind::Exact,
        LineSearchKind::Golden,
        LineSearchKind::Armijo,
        LineSearchKind::Wolfe,
    ] {
        let mut method = GradientDescent::new(0.1).with_line_search(search);
        let r = solve(&f, &mut method, &x0, &options)?;
        let per_iteration = r.evaluations.f as f64 / r.iterations.max(1) as f64;
        rows.push(vec![
            match search {
                LineSearchKind::None => "fixed eta = 0.1".to_string(),
                other => other.name().to_string(),
            },
            outcome_cell(&r),
            r.evaluations.f.to_string(),
            r.evaluations.grad.to_string(),
            format!("{per_iteration:.1}"),
        ]);
        match search {
            LineSearchKind::None => fixed_path = path_2d(&r),
            LineSearchKind::Exact => exact_path = path_2d(&r),
            _ => {}
        }
    }
    let mut lines = vec![format!(
        "gradient descent on f(x) = {SRC} from (-5, -2) to |grad f| <= 1e-6 (trial step 0.1)"
    )];
    lines.extend(table(
        &[
            "line search",
            "iterations",
            "f evals",
            "gradients",
            "f evals/iteration",
        ],
        &rows,
    ));
    Ok(Finding {
        id: "line-search",
        title: "Gradient descent with line search".into(),
        lines,
        lesson: "Choosing the step by a search cuts the iterations several-fold, but every iteration costs many evaluations of f: cheap here, too costly when f is a loss over a whole data set. Exact search zig-zags at right angles (each new gradient is orthogonal to the last step).".into(),
        figure: Some(Figure::Paths {
            formula: SRC.into(),
            rotate: None,
            paths: vec![
                ("fixed eta = 0.1".into(), fixed_path),
                ("exact line search".into(), exact_path),
            ],
        }),
    })
}

fn summary() -> Finding {
    Finding {
        id: "summary",
        title: "What the chapter's runs show".into(),
        lines: vec![
            "- The learning rate matters: too large diverges (gd-1.1), too small makes no progress (gd-0.05).".into(),
            "- Gradient descent can get caught in local minima (gd-local-min).".into(),
            "- In high dimensions one learning rate must suit every direction (preconditioning, exercise 3).".into(),
            "- Preconditioning helps with scale (preconditioning, exercise 4).".into(),
            "- Newton's method is fast once it works on convex problems (newton-cosh, convergence).".into(),
            "- Newton's method without adjustment is dangerous on non-convex problems (newton-nonconvex).".into(),
        ],
        lesson: "Each point names the experiment above that shows it.".into(),
        figure: None,
    }
}

fn exercise_1() -> Result<Finding, TourError> {
    let square = formula("x^2")?;
    let mut rows = Vec::new();
    let mut series = Vec::new();
    for eta in [0.05, 0.2, 0.5, 0.9, 0.99, 1.0, 1.1] {
        let r = solve(
            &square,
            &mut GradientDescent::new(eta),
            &[10.0],
            &to_tolerance(1000),
        )?;
        rows.push(vec![
            format!("{eta}"),
            format!("{:.3}", (1.0 - 2.0 * eta).abs()),
            outcome_cell(&r),
            format!("{:.6}", r.x[0]),
        ]);
        if [0.05, 0.2, 0.9, 1.1].contains(&eta) {
            let r = solve(
                &square,
                &mut GradientDescent::new(eta),
                &[10.0],
                &Options::book(30),
            )?;
            let points: Vec<[f64; 2]> = r
                .trace
                .records()
                .map(|rec| [rec.iteration as f64, rec.x[0].abs()])
                .filter(|p| p[1] > 0.0)
                .collect();
            series.push((format!("eta = {eta}"), points));
        }
    }
    let mut lines = vec!["f(x) = x^2 from x0 = 10 to |f'(x)| <= 1e-6 (at most 1000 steps); each step multiplies x by (1 - 2 eta)".into()];
    lines.extend(table(
        &["eta", "|1 - 2 eta|", "iterations", "final x"],
        &rows,
    ));
    let wavy = formula("x*cos(0.15*pi*x)")?;
    let mut rows = Vec::new();
    for eta in [0.1, 0.5, 1.0, 2.0] {
        let r = solve(
            &wavy,
            &mut GradientDescent::new(eta),
            &[10.0],
            &to_tolerance(1000),
        )?;
        rows.push(vec![
            format!("{eta}"),
            outcome_cell(&r),
            format!("{:.6}", r.x[0]),
            format!("{:.6}", r.f),
        ]);
    }
    lines.push(String::new());
    lines.push(
        "f(x) = x*cos(0.15*pi*x) from x0 = 10: which minimum each learning rate reaches".into(),
    );
    lines.extend(table(&["eta", "iterations", "final x", "f(x)"], &rows));
    Ok(Finding {
        id: "exercise-1",
        title: "Exercise 1: learning rates and objectives".into(),
        lines,
        lesson: "On x^2 gradient descent converges exactly when |1 - 2 eta| < 1, i.e. eta < 1 = 2/f''; the closer eta is to 0.5 the faster. On a non-convex function the learning rate also decides which minimum is reached.".into(),
        figure: Some(Figure::Chart {
            series,
            x_label: "iteration k".into(),
            y_label: "|x_k|".into(),
            x_scale: AxisScale::Linear,
            y_scale: AxisScale::Log10,
        }),
    })
}

fn exercise_2() -> Result<Finding, TourError> {
    const SRC: &str = "log(exp(x)+exp(-2*x-3))";
    let f = formula(SRC)?;
    let (a, b, tol) = (-3.0, 2.0, 1e-9);
    let mut derivative = |x: f64| {
        let mut g = [0.0];
        f.value_gradient(&[x], &mut g);
        g[0]
    };
    let bisection = bisection_minimize(&mut derivative, a, b, tol, 200);
    let mut value = |x: f64| f.value(&[x]);
    let golden = golden_minimize(&mut value, a, b, tol, 200);
    let x_star = (2f64.ln() - 3.0) / 3.0;
    let mut rows = Vec::new();
    for (k, width) in bisection.widths.iter().enumerate() {
        if k < 8 || k + 1 == bisection.widths.len() {
            let ratio = if k == 0 {
                String::new()
            } else {
                format!("{:.3}", width / bisection.widths[k - 1])
            };
            rows.push(vec![k.to_string(), sci(*width), ratio]);
        } else if k == 8 {
            rows.push(vec!["...".into(), String::new(), String::new()]);
        }
    }
    let mut lines = vec![format!(
        "minimize f(x) = {SRC} on [a, b] = [{a}, {b}] to a bracket of width {tol:e}"
    )];
    lines.push("bisection on the sign of f' at the midpoint:".into());
    lines.extend(table(&["step", "width", "ratio"], &rows));
    let golden_ratio = golden
        .widths
        .windows(2)
        .last()
        .map(|w| w[1] / w[0])
        .unwrap_or(f64::NAN);
    lines.push(String::new());
    lines.extend(table(
        &[
            "method",
            "minimizer",
            "evaluations",
            "width ratio per evaluation",
        ],
        &[
            vec![
                "bisection (f')".into(),
                format!("{:.6}", bisection.minimizer),
                bisection.evaluations.to_string(),
                "0.500".into(),
            ],
            vec![
                "golden section (f only)".into(),
                format!("{:.6}", golden.minimizer),
                golden.evaluations.to_string(),
                format!("{golden_ratio:.3}"),
            ],
        ],
    ));
    lines.push(format!(
        "exact minimizer (ln 2 - 3)/3 = {x_star:.6}, f(x*) = x* + ln 1.5 = {:.6}",
        x_star + 1.5f64.ln()
    ));
    lines.push("(a) Deciding between [a, (a+b)/2] and [(a+b)/2, b] from the midpoint alone needs the sign of f' there: a derivative. Without derivatives, compare f at two interior points (ternary or golden-section search).".into());
    lines.push("(b) The bracket halves at every step: linear convergence with rate 1/2, about log2((b - a)/tol) steps.".into());
    let widths = |trace: &crate::line_search::IntervalTrace| -> Vec<[f64; 2]> {
        trace
            .widths
            .iter()
            .enumerate()
            .map(|(k, w)| [k as f64, *w])
            .collect()
    };
    Ok(Finding {
        id: "exercise-2",
        title: "Exercise 2: line search on an interval by bisection".into(),
        lines,
        lesson: "Bisection on f' halves the bracket per derivative evaluation; golden section needs no derivative but shrinks it only by 0.618 per value, so it takes about 1.44 times as many evaluations.".into(),
        figure: Some(Figure::Chart {
            series: vec![
                ("bisection (f')".into(), widths(&bisection)),
                ("golden section (f)".into(), widths(&golden)),
            ],
            x_label: "step".into(),
            y_label: "bracket width".into(),
            x_scale: AxisScale::Linear,
            y_scale: AxisScale::Log10,
        }),
    })
}

/// `x1^2 + r*x2^2`: curvatures 2 and 2r, condition number r.
fn scaled_quadratic(r: f64) -> String {
    format!("x1^2 + {r}*x2^2")
}

const RATIOS: [f64; 5] = [1.0, 10.0, 100.0, 1000.0, 10000.0];

fn exercise_3() -> Result<Finding, TourError> {
    let mut rows = Vec::new();
    let mut points = Vec::new();
    for r in RATIOS {
        let f = formula(&scaled_quadratic(r))?;
        let eta = 1.0 / (1.0 + r);
        let result = solve(
            &f,
            &mut GradientDescent::new(eta),
            &[1.0, 1.0],
            &to_tolerance(10_000_000),
        )?;
        rows.push(vec![
            format!("{r}"),
            format!("{eta:.3e}"),
            outcome_cell(&result),
        ]);
        if result.status == Status::Converged {
            points.push([r, result.iterations as f64]);
        }
    }
    let mut lines = vec!["f(x) = x1^2 + r x2^2 (condition number r) from (1, 1) to |grad f| <= 1e-6, gradient descent with its best fixed step 2/(2 + 2r)".into()];
    lines.extend(table(&["scale ratio r", "eta", "iterations"], &rows));
    Ok(Finding {
        id: "exercise-3",
        title: "Exercise 3: an objective on which gradient descent is very slow".into(),
        lines,
        lesson: "One learning rate must be small enough for the steepest direction, so progress along the flattest one shrinks with the scale ratio: the iterations grow in proportion to the condition number.".into(),
        figure: Some(Figure::Chart {
            series: vec![("gradient descent".into(), points)],
            x_label: "scale ratio r".into(),
            y_label: "iterations".into(),
            x_scale: AxisScale::Log10,
            y_scale: AxisScale::Log10,
        }),
    })
}

fn exercise_4() -> Result<Finding, TourError> {
    let mut rows = Vec::new();
    for r in RATIOS {
        let f = formula(&scaled_quadratic(r))?;
        let result = solve(
            &f,
            &mut Precond::lightweight_newton(1.0),
            &[1.0, 1.0],
            &to_tolerance(1000),
        )?;
        rows.push(vec![format!("{r}"), outcome_cell(&result)]);
    }
    let mut lines = vec![
        "(a, c) lightweight Newton x <- x - diag(H)^-1 grad f on x1^2 + r x2^2 from (1, 1):".into(),
    ];
    lines.extend(table(&["scale ratio r", "iterations"], &rows));
    let wavy = formula("x*cos(0.15*pi*x)")?;
    let book = Options::book(10);
    let mut rows = Vec::new();
    for (name, mut method) in [
        (
            "Newton, signed f''",
            Box::new(Newton::new(1.0)) as Box<dyn Method>,
        ),
        ("signed diag(H)", Box::new(Precond::new(1.0, false))),
        ("|diag(H)| (b)", Box::new(Precond::lightweight_newton(1.0))),
    ] {
        let r = solve(&wavy, method.as_mut(), &[10.0], &book)?;
        rows.push(vec![
            name.to_string(),
            format!("{:.6}", r.x[0]),
            format!("{:.6}", r.f),
        ]);
    }
    lines.push(String::new());
    lines.push("(b) on x*cos(0.15*pi*x) from x0 = 10, eta = 1, 10 steps (f(x0) = 0):".into());
    lines.extend(table(&["preconditioner", "x_10", "f(x_10)"], &rows));
    Ok(Finding {
        id: "exercise-4",
        title: "Exercise 4: lightweight Newton with a diagonal preconditioner".into(),
        lines,
        lesson: "With a diagonal Hessian the diagonal preconditioner is Newton's method: one step whatever the scales. With the signed curvature it climbs to a maximum like Newton; its absolute value always points downhill and reaches a minimum.".into(),
        figure: None,
    })
}

type MethodFactory = fn() -> Box<dyn Method>;

fn rotated(f: &Formula) -> Result<Transformed<'_>, TourError> {
    Transformed::rotate_scale(f, Some(45.0), None).map_err(TourError)
}

fn exercise_5_methods() -> Vec<(&'static str, MethodFactory)> {
    vec![
        ("gd (eta 0.4)", || Box::new(GradientDescent::new(0.4))),
        ("momentum (0.4, 0.5)", || Box::new(Momentum::new(0.4, 0.5))),
        ("adagrad (0.4)", || Box::new(AdaGrad::new(0.4))),
        ("rmsprop (0.4, 0.9)", || Box::new(RmsProp::new(0.4, 0.9))),
        ("adam (0.4)", || Box::new(Adam::new(0.4))),
        ("precond |diag H|", || {
            Box::new(Precond::lightweight_newton(1.0))
        }),
        ("newton", || Box::new(Newton::new(1.0))),
        ("bfgs", || Box::new(Bfgs::new())),
    ]
}

fn exercise_5() -> Result<Vec<Finding>, TourError> {
    const CONVEX: &str = "0.1*x1^2 + 2*x2^2";
    const NONCONVEX: &str = "100*(x2 - x1^2)^2 + (1 - x1)^2";
    let convex = formula(CONVEX)?;
    let nonconvex = formula(NONCONVEX)?;
    let (convex_rotated, nonconvex_rotated) = (rotated(&convex)?, rotated(&nonconvex)?);
    let cases: [(&dyn Objective, [f64; 2]); 4] = [
        (&convex, [-5.0, -2.0]),
        (&convex_rotated, [-5.0, -2.0]),
        (&nonconvex, [-1.2, 1.0]),
        (&nonconvex_rotated, [-1.2, 1.0]),
    ];
    let options = to_tolerance(10_000);
    let mut rows = Vec::new();
    let mut original_paths = Vec::new();
    let mut rotated_paths = Vec::new();
    for (name, make) in exercise_5_methods() {
        let mut row = vec![name.to_string()];
        for (objective, x0) in cases {
            let r = solve(objective, make().as_mut(), &x0, &options)?;
            row.push(outcome_cell(&r));
        }
        rows.push(row);
        if [
            "gd (eta 0.4)",
            "momentum (0.4, 0.5)",
            "adagrad (0.4)",
            "rmsprop (0.4, 0.9)",
            "precond |diag H|",
        ]
        .contains(&name)
        {
            let book = Options::book(20);
            let a = solve(&convex, make().as_mut(), &[-5.0, -2.0], &book)?;
            let b = solve(&convex_rotated, make().as_mut(), &[-5.0, -2.0], &book)?;
            original_paths.push((name.to_string(), path_2d(&a)));
            rotated_paths.push((name.to_string(), path_2d(&b)));
        }
    }
    let mut lines = vec![
        format!("iterations to |grad f| <= 1e-6 (at most 10000) on the convex f = {CONVEX} from (-5, -2)"),
        format!("and the non-convex Rosenbrock f = {NONCONVEX} from (-1.2, 1), each also in coordinates rotated by 45 degrees:"),
    ];
    lines.extend(table(
        &[
            "method",
            "convex",
            "convex, rotated",
            "Rosenbrock",
            "Rosenbrock, rotated",
        ],
        &rows,
    ));
    Ok(vec![
        Finding {
            id: "exercise-5-axes",
            title: "Exercise 5: all methods, convex and non-convex, and a 45-degree rotation".into(),
            lines,
            lesson: "On the axis-aligned convex objective the per-coordinate methods (diagonal preconditioning, AdaGrad, RMSProp) shine: each coordinate gets its own scale. The figure shows 20 steps of each in the original coordinates.".into(),
            figure: Some(Figure::Paths {
                formula: CONVEX.into(),
                rotate: None,
                paths: original_paths,
            }),
        },
        Finding {
            id: "exercise-5-rotated",
            title: "Exercise 5: the same methods after rotating the coordinates by 45 degrees".into(),
            lines: vec![format!("g(y) = f(R y) with R the rotation by 45 degrees, f = {CONVEX}, 20 steps from (-5, -2)")],
            lesson: "Rotating by 45 degrees turns the diagonal Hessian into a full one: a diagonal preconditioner no longer captures the scales, and AdaGrad and RMSProp lose their advantage (compare the table's rotated columns), while Newton and BFGS, which use the full curvature, do not care.".into(),
            figure: Some(Figure::Paths {
                formula: CONVEX.into(),
                rotate: Some(45.0),
                paths: rotated_paths,
            }),
        },
    ])
}
