//! `downhill minimize`: one run of one method on a formula.

use std::io::{IsTerminal, Write};
use std::path::Path;

use downhill::driver::{self, run_observed, Options};
use downhill::formula::Formula;
use downhill::method::{MethodName, State};
use downhill::objective::{Objective, Transformed};
use downhill::plot::{self, ContourSpec, ImageFormat};
use downhill::report::{epoch_line, summary, Diagnostics};
use downhill::trace::TracePolicy;

use crate::args::MinimizeArgs;

/// Runs with at least this iteration limit get a progress bar (on a terminal,
/// when the epoch lines are not printed).
const LONG_RUN: usize = 100_000;
/// The bar is updated every this many iterations (cheap for 10^7-step runs).
const PROGRESS_EVERY: usize = 4096;
use crate::input::{check_parent, formula_error, plural};
use crate::UserError;

#[path = "minimize_large.rs"]
mod large;

pub fn run(args: MinimizeArgs) -> Result<(), UserError> {
    if args.separable.is_some() || args.quadratic.is_some() || args.least_squares.is_some() {
        return large::run(args);
    }
    let Some(source) = args.formula.as_deref() else {
        return Err(UserError(
            "give the objective: --formula, --separable, --quadratic or --least-squares".into(),
        ));
    };
    let formula = match &args.vars {
        Some(vars) => {
            let names: Vec<&str> = vars.iter().map(|v| v.trim()).collect();
            Formula::parse_with_vars(source, &names)
        }
        None => Formula::parse(source),
    }
    .map_err(formula_error)?;

    let x0 = &args.x0.0;
    if x0.len() != formula.dim() {
        return Err(UserError(format!(
            "--x0 has {} value{} but the formula has {} variable{} ({}); give one value per variable",
            x0.len(),
            plural(x0.len()),
            formula.dim(),
            plural(formula.dim()),
            formula.variables().join(", ")
        )));
    }
    if let Some(path) = &args.plot {
        ImageFormat::from_path(path)?;
        if formula.dim() > 2 {
            return Err(UserError(format!(
                "--plot draws 1-D and 2-D objectives; this formula has {} variables",
                formula.dim()
            )));
        }
        check_parent(path, "--plot")?;
    }
    if let Some(path) = &args.trace {
        trace_format(path)?;
        check_parent(path, "--trace")?;
    }

    let transformed = if args.rotate.is_some() || args.scale.is_some() {
        let scale = args.scale.as_ref().map(|p| p.0.as_slice());
        Some(Transformed::rotate_scale(&formula, args.rotate, scale)?)
    } else {
        None
    };
    let objective: &dyn Objective = match &transformed {
        Some(t) => t,
        None => &formula,
    };

    let name = args
        .method
        .unwrap_or(MethodName::unnamed(args.eta.is_some()));
    let spec = args.params.spec(name, args.eta);
    let (mut method, chosen_because) = spec.build(formula.dim())?;
    let defaults = if name == MethodName::Auto {
        Options::robust()
    } else {
        Options::default()
    };
    let options = Options {
        max_iterations: usize::try_from(args.steps).unwrap_or(usize::MAX),
        grad_tol: args.tol,
        max_abs_x: args.bound,
        x_tol: args.xtol.unwrap_or(defaults.x_tol),
        f_tol: args.ftol.unwrap_or(defaults.f_tol),
        trace: match args.trace_every {
            Some(k) => TracePolicy::Every(usize::try_from(k).unwrap_or(usize::MAX)),
            None => TracePolicy::DEFAULT,
        },
    };

    let variables = formula.variables().to_vec();
    let print_epochs = !args.quiet && !args.json;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // A progress bar for long runs whose epoch lines are not printed, on a
    // terminal only (never in pipes or tests).
    let bar =
        (!print_epochs && options.max_iterations >= LONG_RUN && std::io::stderr().is_terminal())
            .then(|| {
                let bar = indicatif::ProgressBar::new(options.max_iterations as u64);
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} iterations ({eta} left)",
                ) {
                    bar.set_style(style);
                }
                bar
            });
    let mut observer = |state: &State| {
        if print_epochs && state.iteration > 0 {
            // A closed pipe (e.g. `| head`) is not an error worth reporting.
            let _ = writeln!(out, "{}", epoch_line(&variables, state.iteration, &state.x));
        }
        if let Some(bar) = &bar {
            if state.iteration.is_multiple_of(PROGRESS_EVERY) {
                bar.set_position(state.iteration as u64);
            }
        }
    };
    // Nothing to observe (no epoch lines, no bar): no call per iteration.
    let result = if print_epochs || bar.is_some() {
        run_observed(objective, method.as_mut(), x0, &options, &mut observer)?
    } else {
        driver::run(objective, method.as_mut(), x0, &options)?
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let diagnostics = Diagnostics::compute(objective, &spec, &result, chosen_because);

    if args.json {
        let mut json = result.to_json(false);
        if let (Some(target), serde_json::Value::Object(extra)) =
            (json.as_object_mut(), diagnostics.to_json())
        {
            target.extend(extra);
        }
        let _ = writeln!(out, "{json}");
    } else {
        let _ = write!(out, "{}{}", summary(&result, &options), diagnostics.lines());
    }
    let _ = out.flush();
    drop(out);

    if let Some(path) = &args.trace {
        write_trace(&result.trace, path)?;
    }
    if let Some(path) = &args.plot {
        let title = format!("{} ({})", formula.source(), result.method);
        if formula.dim() == 1 {
            let iterates: Vec<f64> = result.trace.iterates().map(|x| x[0]).collect();
            plot::trace_1d(&|x| objective.value(&[x]), &iterates, Some(&title), path)?;
        } else {
            let points: Vec<[f64; 2]> = result.trace.iterates().map(|x| [x[0], x[1]]).collect();
            let names = formula.variables();
            let spec = ContourSpec::around(&points, (&names[0], &names[1]));
            plot::path_2d(
                &|a, b| objective.value(&[a, b]),
                &points,
                &spec,
                Some(&title),
                path,
            )?;
        }
    }
    Ok(())
}

enum TraceFormat {
    Csv,
    Json,
}

fn trace_format(path: &Path) -> Result<TraceFormat, UserError> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("csv") => Ok(TraceFormat::Csv),
        Some("json") => Ok(TraceFormat::Json),
        _ => Err(UserError(format!(
            "--trace '{}': the file name must end in .csv or .json",
            path.display()
        ))),
    }
}

fn write_trace(trace: &downhill::trace::Trace, path: &Path) -> Result<(), UserError> {
    let fail = |e: &dyn std::fmt::Display| {
        UserError(format!("cannot write trace '{}': {e}", path.display()))
    };
    let file = std::fs::File::create(path).map_err(|e| fail(&e))?;
    let mut writer = std::io::BufWriter::new(file);
    match trace_format(path)? {
        TraceFormat::Csv => trace.write_csv(&mut writer).map_err(|e| fail(&e))?,
        TraceFormat::Json => {
            serde_json::to_writer_pretty(&mut writer, &trace.to_json()).map_err(|e| fail(&e))?;
            writeln!(writer).map_err(|e| fail(&e))?;
        }
    }
    writer.flush().map_err(|e| fail(&e))
}
