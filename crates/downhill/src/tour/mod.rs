//! The chapter tour: every experiment of the "Gradient Descent" chapter,
//! run through the same formula → method → driver → trace path a user's own
//! run takes: sections 1 to 3 with the book's printed lines and figures,
//! sections 4 to 8 (convergence, preconditioning, line search, summary and
//! the exercises) as findings with tables and figures ([`Finding`]).
//!
//! [`experiments`] lists what is run; [`run`] runs it and returns the
//! sections with their printed lines; [`write_figures`] draws every figure
//! (SVG and PNG) and an `index.html` that shows them in order.

mod findings;

use std::path::{Path, PathBuf};

pub use findings::{Figure, Finding};

use crate::driver::{self, Options, RunResult, Status};
use crate::formula::Formula;
use crate::method::{GradientDescent, Method, Newton};
use crate::plot::{self, ContourSpec};
use crate::report::epoch_line;

/// Which method an experiment runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MethodChoice {
    /// Fixed-step gradient descent with this learning rate.
    GradientDescent(f64),
    /// Newton's method with this step size.
    Newton(f64),
}

impl MethodChoice {
    fn build(self) -> Box<dyn Method> {
        match self {
            MethodChoice::GradientDescent(eta) => Box::new(GradientDescent::new(eta)),
            MethodChoice::Newton(eta) => Box::new(Newton::new(eta)),
        }
    }

    fn cli_flags(self) -> String {
        match self {
            MethodChoice::GradientDescent(eta) => format!("--method gd --eta {eta}"),
            MethodChoice::Newton(eta) => format!("--method newton --eta {eta}"),
        }
    }
}

/// Which lines of the run the book prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Printout {
    /// Only the last `epoch` line (the book's `gd` and `newton` helpers).
    Last,
    /// One `epoch` line per step (the book's `train_2d`).
    EveryStep,
}

/// One experiment of the chapter.
#[derive(Clone, Debug)]
pub struct Experiment {
    /// Stable id, also the figure's file stem (e.g. `gd-0.2`).
    pub id: &'static str,
    /// What is being tried, one sentence.
    pub what: &'static str,
    /// The objective as a formula.
    pub formula: &'static str,
    /// The start point.
    pub x0: &'static [f64],
    /// Method and step size.
    pub method: MethodChoice,
    /// Number of steps; `None` runs to convergence (default tolerance).
    pub steps: Option<usize>,
    /// Which lines are printed.
    pub printout: Printout,
    /// What the figure teaches, one or two sentences.
    pub lesson: &'static str,
}

/// A chapter section of the tour.
#[derive(Clone, Debug)]
pub struct SectionSpec {
    /// Section number in the chapter.
    pub number: u32,
    /// Section title.
    pub title: &'static str,
    /// The idea, one or two sentences.
    pub idea: &'static str,
    /// Its experiments, in the book's order.
    pub experiments: Vec<Experiment>,
}

/// The chapter's sections: 1 to 3 hold the book's printed experiments; the
/// findings of 4 to 8 are computed in [`run`].
pub fn experiments() -> Vec<SectionSpec> {
    const COS: &str = "x*cos(0.15*pi*x)";
    vec![
        SectionSpec {
            number: 1,
            title: "One-dimensional gradient descent",
            idea: "x <- x - eta * f'(x): a small step against the derivative lowers f (first-order Taylor expansion). Start x0 = 10, 10 steps.",
            experiments: vec![
                Experiment {
                    id: "gd-0.2",
                    what: "f(x) = x^2 with learning rate eta = 0.2",
                    formula: "x^2",
                    x0: &[10.0],
                    method: MethodChoice::GradientDescent(0.2),
                    steps: Some(10),
                    printout: Printout::Last,
                    lesson: "With eta = 0.2 each step multiplies x by 0.6: the iterates slide down the parabola and approach the minimum at 0.",
                },
                Experiment {
                    id: "gd-0.05",
                    what: "the same f with a learning rate that is too small, eta = 0.05",
                    formula: "x^2",
                    x0: &[10.0],
                    method: MethodChoice::GradientDescent(0.05),
                    steps: Some(10),
                    printout: Printout::Last,
                    lesson: "Too small a learning rate: after 10 steps x is still far from the optimum (each step only multiplies x by 0.9).",
                },
                Experiment {
                    id: "gd-1.1",
                    what: "the same f with a learning rate that is too large, eta = 1.1",
                    formula: "x^2",
                    x0: &[10.0],
                    method: MethodChoice::GradientDescent(1.1),
                    steps: Some(10),
                    printout: Printout::Last,
                    lesson: "Too large a learning rate: every step overshoots x = 0 and lands farther away (x is multiplied by -1.2); the iterates diverge.",
                },
                Experiment {
                    id: "gd-local-min",
                    what: "the non-convex f(x) = x cos(0.15 pi x) with an unrealistically large eta = 2",
                    formula: COS,
                    x0: &[10.0],
                    method: MethodChoice::GradientDescent(2.0),
                    steps: Some(10),
                    printout: Printout::Last,
                    lesson: "On a non-convex function a large step can jump between valleys and settle in a poor local minimum.",
                },
            ],
        },
        SectionSpec {
            number: 2,
            title: "Multivariate gradient descent",
            idea: "x <- x - eta * grad f(x): the negative gradient is the steepest-descent direction. f(x) = x1^2 + 2 x2^2 from (-5, -2), eta = 0.1, 20 steps (the book's train_2d).",
            experiments: vec![Experiment {
                id: "gd-2d",
                what: "f(x) = x1^2 + 2 x2^2 with eta = 0.1",
                formula: "x1^2 + 2*x2^2",
                x0: &[-5.0, -2.0],
                method: MethodChoice::GradientDescent(0.1),
                steps: Some(20),
                printout: Printout::EveryStep,
                lesson: "The path heads for the minimum (0, 0) steadily but slowly: x2, with the larger curvature, settles first, then x1 creeps along the valley.",
            }],
        },
        SectionSpec {
            number: 3,
            title: "Newton's method",
            idea: "x <- x - eta * f'(x) / f''(x): divide by the curvature (second-order Taylor expansion). Start x0 = 10, 10 steps.",
            experiments: vec![
                Experiment {
                    id: "newton-cosh",
                    what: "the convex f(x) = cosh(0.5 x) with eta = 1",
                    formula: "cosh(0.5*x)",
                    x0: &[10.0],
                    method: MethodChoice::Newton(1.0),
                    steps: Some(10),
                    printout: Printout::Last,
                    lesson: "On a convex function Newton's method reaches the minimum in a few steps (the book prints exactly 0).",
                },
                Experiment {
                    id: "newton-nonconvex",
                    what: "the non-convex f(x) = x cos(0.15 pi x) with eta = 1",
                    formula: COS,
                    x0: &[10.0],
                    method: MethodChoice::Newton(1.0),
                    steps: Some(10),
                    printout: Printout::Last,
                    lesson: "Where f'' < 0 the Newton step points uphill: the iterates climb to a maximum far from where they started. Newton without adjustment is dangerous on non-convex problems.",
                },
                Experiment {
                    id: "newton-nonconvex-damped",
                    what: "the same f with a smaller step, eta = 0.5",
                    formula: COS,
                    x0: &[10.0],
                    method: MethodChoice::Newton(0.5),
                    steps: Some(10),
                    printout: Printout::Last,
                    lesson: "Reintroducing a learning rate repairs it here: with eta = 0.5 the iterates descend into the nearby minimum at about 7.27.",
                },
                Experiment {
                    id: "newton-quadratic",
                    what: "f(x) = x^2 / 2, where the quadratic model is exact",
                    formula: "x^2/2",
                    x0: &[10.0],
                    method: MethodChoice::Newton(1.0),
                    steps: None,
                    printout: Printout::EveryStep,
                    lesson: "For a quadratic the second-order model is f itself: Newton jumps to the minimum in exactly one step, from any start.",
                },
            ],
        },
        SectionSpec {
            number: 4,
            title: "Convergence analysis",
            idea: "For convex f with f'' > 0, Newton's error e_k = x_k - x* obeys |e_{k+1}| = e_k^2 |f'''(xi)| / (2 f''(x_k)): once close, the error is squared at every step. Fixed-step gradient descent only multiplies it by about |1 - eta f''(x*)|.",
            experiments: vec![],
        },
        SectionSpec {
            number: 5,
            title: "Preconditioning",
            idea: "x <- x - eta * diag(H)^-1 grad f(x): only the diagonal of the Hessian, i.e. a separate learning rate per coordinate. It repairs badly mismatched scales (one coordinate in millimetres, another in kilometres).",
            experiments: vec![],
        },
        SectionSpec {
            number: 6,
            title: "Gradient descent with line search",
            idea: "Take the direction -grad f(x) and choose the step that minimizes f(x - eta grad f(x)), e.g. by binary search: few iterations, but many evaluations of f per iteration.",
            experiments: vec![],
        },
        SectionSpec {
            number: 7,
            title: "Summary",
            idea: "What the runs above showed.",
            experiments: vec![],
        },
        SectionSpec {
            number: 8,
            title: "Exercises",
            idea: "The chapter's five exercises, each run and answered.",
            experiments: vec![],
        },
    ]
}

/// An experiment after it ran.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// What was run.
    pub experiment: Experiment,
    /// The equivalent `downhill minimize` command line.
    pub command: String,
    /// The lines the book prints.
    pub lines: Vec<String>,
    /// The full result.
    pub result: RunResult,
}

/// A section after its experiments ran.
#[derive(Clone, Debug)]
pub struct Section {
    /// What was planned.
    pub spec: SectionSpec,
    /// One outcome per experiment.
    pub outcomes: Vec<Outcome>,
    /// Tables and comparisons beyond single runs (sections 4 to 8).
    pub findings: Vec<Finding>,
}

/// A failure of the tour itself (never expected: the experiments are fixed).
#[derive(Debug)]
pub struct TourError(pub String);

impl std::fmt::Display for TourError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TourError {}

/// Runs every experiment and returns the sections with their printed lines.
pub fn run() -> Result<Vec<Section>, TourError> {
    experiments()
        .into_iter()
        .map(|spec| {
            let outcomes = spec
                .experiments
                .iter()
                .map(run_experiment)
                .collect::<Result<Vec<_>, _>>()?;
            let findings = findings::for_section(spec.number)?;
            Ok(Section {
                spec,
                outcomes,
                findings,
            })
        })
        .collect()
}

fn run_experiment(experiment: &Experiment) -> Result<Outcome, TourError> {
    let formula = Formula::parse(experiment.formula)
        .map_err(|e| TourError(format!("{}: {e}", experiment.id)))?;
    let options = match experiment.steps {
        Some(steps) => Options::book(steps),
        None => Options::default(),
    };
    let mut method = experiment.method.build();
    let result = driver::run(&formula, method.as_mut(), experiment.x0, &options)
        .map_err(|e| TourError(format!("{}: {e}", experiment.id)))?;
    let names = &result.variables;
    let lines = match experiment.printout {
        Printout::Last => vec![epoch_line(names, result.iterations, &result.x)],
        Printout::EveryStep => result
            .trace
            .records()
            .skip(1)
            .map(|r| epoch_line(names, r.iteration, r.x))
            .collect(),
    };
    let x0: Vec<String> = experiment.x0.iter().map(|v| v.to_string()).collect();
    let steps = match experiment.steps {
        Some(steps) => format!("--steps {steps} --tol 0"),
        None => String::new(),
    };
    let command = format!(
        "downhill minimize --formula \"{}\" --x0={} {} {}",
        experiment.formula,
        x0.join(","),
        experiment.method.cli_flags(),
        steps
    )
    .trim_end()
    .to_string();
    Ok(Outcome {
        experiment: experiment.clone(),
        command,
        lines,
        result,
    })
}

/// The tour as text, section by section, for a terminal.
pub fn render_text(sections: &[Section], figures: Option<&Path>) -> String {
    let mut out = String::new();
    for section in sections {
        out.push_str(&format!(
            "\n== {}. {} ==\n{}\n",
            section.spec.number, section.spec.title, section.spec.idea
        ));
        for outcome in &section.outcomes {
            let e = &outcome.experiment;
            out.push_str(&format!("\n-- {}: {}\n", e.id, e.what));
            out.push_str(&format!("   $ {}\n", outcome.command));
            for line in &outcome.lines {
                out.push_str(line);
                out.push('\n');
            }
            if outcome.result.status != Status::IterationLimit {
                out.push_str(&format!(
                    "   ({} after {} iteration{})\n",
                    outcome.result.status,
                    outcome.result.iterations,
                    if outcome.result.iterations == 1 {
                        ""
                    } else {
                        "s"
                    }
                ));
            }
            out.push_str(&format!("   {}\n", e.lesson));
            if let Some(dir) = figures {
                out.push_str(&format!(
                    "   figure: {}\n",
                    dir.join(format!("{}.svg", e.id)).display()
                ));
            }
        }
        for finding in &section.findings {
            out.push_str(&format!("\n-- {}: {}\n", finding.id, finding.title));
            for line in &finding.lines {
                out.push_str(&format!("   {line}\n"));
            }
            out.push_str(&format!("   {}\n", finding.lesson));
            if let (Some(dir), Some(_)) = (figures, &finding.figure) {
                out.push_str(&format!(
                    "   figure: {}\n",
                    dir.join(format!("{}.svg", finding.id)).display()
                ));
            }
        }
    }
    out
}

/// Draws every experiment's figure into `dir` as SVG and PNG, and writes
/// `index.html` showing them in order with their lessons. Returns the files
/// written.
pub fn write_figures(sections: &[Section], dir: &Path) -> Result<Vec<PathBuf>, TourError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        TourError(format!(
            "cannot create output folder '{}': {e}",
            dir.display()
        ))
    })?;
    let mut written = Vec::new();
    for outcome in sections.iter().flat_map(|s| &s.outcomes) {
        for ext in ["svg", "png"] {
            let path = dir.join(format!("{}.{ext}", outcome.experiment.id));
            draw(outcome, &path)?;
            written.push(path);
        }
    }
    for finding in sections.iter().flat_map(|s| &s.findings) {
        if let Some(figure) = &finding.figure {
            for ext in ["svg", "png"] {
                let path = dir.join(format!("{}.{ext}", finding.id));
                figure
                    .draw(&finding.title, &path)
                    .map_err(|e| TourError(e.to_string()))?;
                written.push(path);
            }
        }
    }
    let index = dir.join("index.html");
    std::fs::write(&index, index_html(sections))
        .map_err(|e| TourError(format!("cannot write '{}': {e}", index.display())))?;
    written.push(index);
    Ok(written)
}

/// Draws one outcome's figure: the chapter's `show_trace` in 1-D,
/// `show_trace_2d` in 2-D.
pub fn draw(outcome: &Outcome, path: &Path) -> Result<(), TourError> {
    let formula = Formula::parse(outcome.experiment.formula)
        .map_err(|e| TourError(format!("{}: {e}", outcome.experiment.id)))?;
    let title = format!("{}: {}", outcome.experiment.id, outcome.experiment.formula);
    let drawn = match formula.dim() {
        1 => {
            let iterates: Vec<f64> = outcome.result.trace.iterates().map(|x| x[0]).collect();
            plot::trace_1d(&|x| formula.value(&[x]), &iterates, Some(&title), path)
        }
        _ => {
            let points: Vec<[f64; 2]> = outcome
                .result
                .trace
                .iterates()
                .map(|x| [x[0], x[1]])
                .collect();
            plot::path_2d(
                &|a, b| formula.value(&[a, b]),
                &points,
                &ContourSpec::book_default(),
                Some(&title),
                path,
            )
        }
    };
    drawn.map_err(|e| TourError(e.to_string()))
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn index_html(sections: &[Section]) -> String {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>downhill: the gradient-descent chapter tour</title>\n<style>\n\
         body { font-family: sans-serif; max-width: 60em; margin: 2em auto; line-height: 1.45; color: #222; }\n\
         figure { margin: 1.5em 0; } img { max-width: 100%; border: 1px solid #ddd; }\n\
         pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }\n\
         </style>\n</head>\n<body>\n<h1>The gradient-descent chapter, run by downhill</h1>\n",
    );
    for section in sections {
        html.push_str(&format!(
            "<h2>{}. {}</h2>\n<p>{}</p>\n",
            section.spec.number,
            escape_html(section.spec.title),
            escape_html(section.spec.idea)
        ));
        for outcome in &section.outcomes {
            let e = &outcome.experiment;
            let last = outcome.lines.last().cloned().unwrap_or_default();
            html.push_str(&format!(
                "<figure id=\"{id}\">\n<h3>{what}</h3>\n<pre>$ {cmd}\n{last}</pre>\n\
                 <img src=\"{id}.svg\" alt=\"{what}\">\n<figcaption>{lesson} \
                 (<a href=\"{id}.png\">PNG</a>)</figcaption>\n</figure>\n",
                id = e.id,
                what = escape_html(e.what),
                cmd = escape_html(&outcome.command),
                last = escape_html(&last),
                lesson = escape_html(e.lesson),
            ));
        }
        for finding in &section.findings {
            html.push_str(&format!(
                "<figure id=\"{id}\">\n<h3>{title}</h3>\n<pre>{lines}</pre>\n",
                id = finding.id,
                title = escape_html(&finding.title),
                lines = escape_html(&finding.lines.join("\n")),
            ));
            if finding.figure.is_some() {
                html.push_str(&format!(
                    "<img src=\"{id}.svg\" alt=\"{title}\">\n",
                    id = finding.id,
                    title = escape_html(&finding.title)
                ));
            }
            html.push_str(&format!(
                "<figcaption>{}</figcaption>\n</figure>\n",
                escape_html(&finding.lesson)
            ));
        }
    }
    html.push_str("</body>\n</html>\n");
    html
}
