//! `downhill sweep`: one method from every cell of a grid of start points
//! and learning rates; a summary of outcomes and minima, CSV, JSON, a map.

use std::io::{IsTerminal, Write};

use downhill::formula::Formula;
use downhill::method::MethodName;
use downhill::plot::ImageFormat;
use downhill::sweep::{self, Axis, Engine, Grid, MapColor, SweepSpec};

use crate::args::SweepArgs;
use crate::input::{check_parent, formula_error, plural};
use crate::UserError;

/// Grids larger than this need `--force`.
pub const MAX_CELLS: usize = 100_000_000;

/// The axes of `--x0`, one per variable.
#[derive(Clone, Debug)]
pub struct StartAxes(pub Vec<Axis>);

/// `--x0`: one value or `start:stop:count` range per variable, separated
/// by commas (`-20:20:1000`, `-5:5:100,-3:3:100`, `-5:5:100,2`).
pub fn parse_start_axes(text: &str) -> Result<StartAxes, String> {
    if text.trim().is_empty() {
        return Err(
            "expected a value or start:stop:count per variable, separated by commas, e.g. -20:20:1000 or -5:5:100,-3:3:100"
                .into(),
        );
    }
    text.split(',')
        .enumerate()
        .map(|(i, part)| Axis::parse(part).map_err(|e| format!("{e} (coordinate {})", i + 1)))
        .collect::<Result<Vec<_>, _>>()
        .map(StartAxes)
}

/// `--eta`: one learning rate or a range of them, all > 0.
pub fn parse_eta_axis(text: &str) -> Result<Axis, String> {
    let axis = Axis::parse(text)?;
    if axis.start > 0.0 && axis.stop > 0.0 {
        Ok(axis)
    } else {
        Err(format!("'{}': learning rates must be > 0", text.trim()))
    }
}

/// `--engine`: auto, lanes or driver.
pub fn parse_engine(text: &str) -> Result<Engine, String> {
    [Engine::Auto, Engine::Lanes, Engine::Driver]
        .into_iter()
        .find(|e| e.name() == text)
        .ok_or_else(|| format!("unknown engine '{text}' (engines: auto, lanes, driver)"))
}

pub fn run(args: SweepArgs) -> Result<(), UserError> {
    let formula = match &args.vars {
        Some(vars) => {
            let names: Vec<&str> = vars.iter().map(|v| v.trim()).collect();
            Formula::parse_with_vars(&args.formula, &names)
        }
        None => Formula::parse(&args.formula),
    }
    .map_err(formula_error)?;
    let dim = formula.dim();
    if dim == 0 {
        return Err(UserError(
            "the formula has no variables: there is nothing to sweep".into(),
        ));
    }
    if args.x0.0.len() != dim {
        return Err(UserError(format!(
            "--x0 has {} coordinate{} but the formula has {dim} variable{} ({}); give one value or range per variable, separated by commas",
            args.x0.0.len(),
            plural(args.x0.0.len()),
            plural(dim),
            formula.variables().join(", ")
        )));
    }
    let grid =
        Grid::new(args.x0.0.clone(), args.eta).map_err(|e| UserError(format!("--x0: {e}")))?;
    if grid.len() > MAX_CELLS && !args.force {
        return Err(UserError(format!(
            "the grid has {} cells, more than {MAX_CELLS}; it would need about {:.1} GB. Use smaller counts, or --force to run it anyway",
            grid.len(),
            grid.len() as f64 * (37.0 + 8.0 * dim as f64) / 1e9
        )));
    }

    let color = MapColor::parse(&args.color, formula.variables())
        .map_err(|e| UserError(format!("--color: {e}")))?;
    if let Some(path) = &args.plot {
        ImageFormat::from_path(path)?;
        let varying = grid.varying().len();
        if varying != 2 {
            return Err(UserError(format!(
                "--plot draws a map over two axes that vary; this grid varies {varying} (give ranges start:stop:count to two of --x0's coordinates and --eta)"
            )));
        }
        check_parent(path, "--plot")?;
    }
    if let Some(path) = &args.csv {
        check_parent(path, "--csv")?;
    }

    let spec = SweepSpec {
        formula,
        method: args
            .params
            .spec(args.method.unwrap_or(MethodName::Gd), None),
        steps: usize::try_from(args.steps).unwrap_or(usize::MAX),
        tol: args.tol,
        bound: args.bound,
        grid,
        settle: args.settle,
        cluster_tol: args.cluster_tol,
        engine: args.engine,
        exact_lanes: args.exact,
    };

    let pool = {
        let mut builder = rayon::ThreadPoolBuilder::new();
        if let Some(threads) = args.threads {
            builder = builder.num_threads(usize::try_from(threads).unwrap_or(1));
        }
        builder
            .build()
            .map_err(|e| UserError(format!("cannot start the worker threads: {e}")))?
    };
    let show_progress = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let bar = show_progress.then(|| {
        let bar = indicatif::ProgressBar::new(spec.grid.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} cells ({eta} left)",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let report = |cells: usize| {
        if let Some(bar) = &bar {
            bar.inc(cells as u64);
        }
    };
    let result = pool.install(|| sweep::run(&spec, bar.as_ref().map(|_| &report as _)))?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.json {
        let _ = writeln!(out, "{}", result.to_json());
    } else {
        let _ = write!(out, "{}", result.summary());
    }
    let _ = out.flush();
    drop(out);

    if let Some(path) = &args.csv {
        let fail = |e: &dyn std::fmt::Display| {
            UserError(format!("cannot write CSV '{}': {e}", path.display()))
        };
        let file = std::fs::File::create(path).map_err(|e| fail(&e))?;
        result
            .write_csv(std::io::BufWriter::with_capacity(1 << 20, file))
            .map_err(|e| fail(&e))?;
        if !args.json {
            // A closed pipe (e.g. `| head`) is not an error worth reporting.
            let _ = writeln!(
                std::io::stdout(),
                "wrote {} ({} rows)",
                path.display(),
                result.len()
            );
        }
    }
    if let Some(path) = &args.plot {
        let title = args.title.clone().unwrap_or_else(|| {
            format!(
                "{}: {}, {} steps",
                result.formula(),
                result.method(),
                result.steps()
            )
        });
        result.plot(color, Some(&title), path)?;
        if !args.json {
            let _ = writeln!(std::io::stdout(), "wrote {}", path.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_axes_parse_per_coordinate() {
        let axes = parse_start_axes("-5:5:100, 2").unwrap().0;
        assert_eq!(axes.len(), 2);
        assert_eq!(
            (axes[0].start, axes[0].stop, axes[0].count),
            (-5.0, 5.0, 100)
        );
        assert_eq!(axes[1], Axis::single(2.0));
        let e = parse_start_axes("-5:5").unwrap_err();
        assert!(e.contains("'-5:5'") && e.contains("coordinate 1"), "{e}");
        assert!(parse_start_axes("1,-2:2:0")
            .unwrap_err()
            .contains("at least 1"));
        assert!(parse_start_axes("").is_err());
    }

    #[test]
    fn learning_rates_must_be_positive() {
        assert!(parse_eta_axis("0:1:10").is_err());
        assert!(parse_eta_axis("-0.1").is_err());
        assert_eq!(parse_eta_axis("0.2").unwrap(), Axis::single(0.2));
    }
}
