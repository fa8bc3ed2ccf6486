//! `downhill minimize` on large objectives: `--separable TERM --dim N
//! --coef NAME=SOURCE ...`, `--quadratic A.mtx [--rhs b.txt]` and
//! `--least-squares A.mtx,b.txt`.
//!
//! `--x0` is one value (used for every coordinate) or one per variable.
//! Fixed-step `gd` and `precond` run on the large runners (in place, one
//! pass over memory per step for `--separable`; three vectors otherwise);
//! any other method runs through the generic driver. Epoch lines keep the
//! book's format up to 10 variables and otherwise show the first three
//! coordinates and `|x|`.

use std::io::Write;

use downhill::driver::{run_observed, Options};
use downhill::large::{
    epoch_line, run_separable, run_vector, summary, Coef, FormulaTerm, LargeRecord, LargeRun,
    LeastSquares, Quadratic, Separable, Update,
};
use downhill::method::{HessianNeed, HessianRepair, LineSearchKind, MethodName, MethodSpec, State};
use downhill::objective::Objective;
use downhill::trace::TracePolicy;

use super::{formula_error, plural};
use crate::args::MinimizeArgs;
use crate::UserError;

/// Methods that store the `n × n` Hessian refuse beyond this many bytes of it.
const HESSIAN_BYTES_LIMIT: f64 = 2.0 * (1u64 << 30) as f64;

enum Large {
    Separable(Separable<FormulaTerm>),
    Quadratic(Quadratic),
    LeastSquares(LeastSquares),
}

impl Large {
    fn objective(&self) -> &dyn Objective {
        match self {
            Large::Separable(s) => s,
            Large::Quadratic(q) => q,
            Large::LeastSquares(l) => l,
        }
    }
}

fn build(args: &MinimizeArgs) -> Result<Large, UserError> {
    if let Some(term) = &args.separable {
        let dim = usize::try_from(args.dim.unwrap_or(0))
            .map_err(|_| UserError("--dim is too large for this machine".into()))?;
        let mut names: Vec<&str> = Vec::new();
        let mut sources: Vec<&str> = Vec::new();
        for spec in &args.coefs {
            let Some((name, source)) = spec.split_once('=') else {
                return Err(UserError(format!(
                    "--coef '{spec}': expected NAME=SOURCE, e.g. a=linspace:1:2"
                )));
            };
            let name = name.trim();
            if names.contains(&name) {
                return Err(UserError(format!("--coef {name} is given twice")));
            }
            names.push(name);
            sources.push(source);
        }
        let parsed = FormulaTerm::parse(term, &names).map_err(|e| {
            let UserError(text) = formula_error(e);
            let mut text = text.replacen("--formula", "--separable", 1).replacen(
                "--vars or --separable",
                "--separable or --coef",
                1,
            );
            if text.contains("unknown variable") {
                text.push_str(
                    "\n  (the term's variable is x; give each coefficient with --coef NAME=SOURCE)",
                );
            }
            UserError(text)
        })?;
        check_every_coef_is_read(term, &names)?;
        // The sources last: a file of coefficients is read only for a term that uses it.
        let sources = names
            .iter()
            .zip(&sources)
            .map(|(name, source)| coef_source(name, source))
            .collect::<Result<Vec<_>, _>>()?;
        let names = names.iter().map(|n| n.to_string()).collect();
        let separable = Separable::with_term(dim, sources, names, parsed)
            .map_err(|e| UserError(format!("--separable: {e}")))?
            .described(term.clone());
        return Ok(Large::Separable(separable));
    }
    if let Some(a) = &args.quadratic {
        return Ok(Large::Quadratic(Quadratic::from_files(
            a,
            args.rhs.as_deref(),
        )?));
    }
    if let Some((a, b)) = &args.least_squares {
        return Ok(Large::LeastSquares(LeastSquares::from_files(a, b)?));
    }
    Err(UserError(
        "give --separable, --quadratic or --least-squares".into(),
    ))
}

/// Fails for a `--coef` name that `term` does not read (it would be
/// silently ignored), naming it and the coefficients the term does read.
/// `term` must parse with all of `names`; a name is read exactly when the
/// term no longer parses without it.
fn check_every_coef_is_read(term: &str, names: &[&str]) -> Result<(), UserError> {
    let reads = |name: &str| {
        let others: Vec<&str> = names.iter().copied().filter(|n| *n != name).collect();
        FormulaTerm::parse(term, &others).is_err()
    };
    let (read, unread): (Vec<&str>, Vec<&str>) = names.iter().partition(|name| reads(name));
    match unread.first() {
        None => Ok(()),
        Some(name) => Err(UserError(format!(
            "--coef {name}: the --separable term has no coefficient named {name} (its coefficients: {})",
            if read.is_empty() {
                "none".to_string()
            } else {
                read.join(", ")
            }
        ))),
    }
}

/// The coefficients of `--coef NAME=SOURCE`; `uniform:LOW:HIGH` needs
/// `LOW <= HIGH`.
fn coef_source(name: &str, source: &str) -> Result<Coef, UserError> {
    let coef = Coef::parse(source).map_err(|e| UserError(format!("--coef {name}: {e}")))?;
    if let Coef::Uniform { low, high, .. } = coef {
        if low > high {
            return Err(UserError(format!(
                "--coef {name}: '{}' has its lower bound above its upper bound (uniform:LOW:HIGH needs LOW <= HIGH)",
                source.trim()
            )));
        }
    }
    Ok(coef)
}

/// `--x0`: one value for every coordinate, or one per variable.
fn start(values: &[f64], dim: usize) -> Result<Vec<f64>, UserError> {
    match values.len() {
        1 => {
            // `--dim` comes from the user: a size beyond memory is an error.
            let mut x0 = Vec::new();
            x0.try_reserve_exact(dim).map_err(|_| {
                UserError(format!(
                    "--dim {dim}: x alone needs {:.1} GB, more than can be allocated",
                    8.0 * dim as f64 / 1e9
                ))
            })?;
            x0.resize(dim, values[0]);
            Ok(x0)
        }
        n if n == dim => Ok(values.to_vec()),
        n => Err(UserError(format!(
            "--x0 has {n} value{} but the objective has {dim} variable{}; give one value (used for every coordinate) or {dim}",
            plural(n),
            plural(dim)
        ))),
    }
}

/// The large runners' rule for fixed-step gd and precond, `None` otherwise.
fn fast_update(spec: &MethodSpec) -> Option<Update> {
    if spec.line_search.unwrap_or_default() != LineSearchKind::None {
        return None;
    }
    match spec.name {
        MethodName::Gd => Some(Update::gradient(spec.eta.unwrap_or(0.1))),
        MethodName::Precond => Some(Update::diagonal(
            spec.eta.unwrap_or(1.0),
            spec.hessian == Some(HessianRepair::Abs),
        )),
        _ => None,
    }
}

pub fn run(args: MinimizeArgs) -> Result<(), UserError> {
    for (flag, given) in [
        ("--vars", args.vars.is_some()),
        ("--rotate", args.rotate.is_some()),
        ("--scale", args.scale.is_some()),
        ("--plot", args.plot.is_some()),
        ("--trace", args.trace.is_some()),
        ("--trace-every", args.trace_every.is_some()),
    ] {
        if given {
            return Err(UserError(format!(
                "{flag} does not apply to --separable, --quadratic or --least-squares"
            )));
        }
    }
    let large = build(&args)?;
    let objective = large.objective();
    let dim = objective.dim();
    let x0 = start(&args.x0.0, dim)?;

    let name = args
        .method
        .unwrap_or(MethodName::unnamed(args.eta.is_some()));
    let spec = args.params.spec(name, args.eta);
    // Checks every flag against the method, as for formulas.
    let (mut method, _) = spec.build(dim)?;
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
        trace: TracePolicy::DEFAULT,
    };

    let print_epochs = !args.quiet && !args.json;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut print = |record: &LargeRecord, x: &[f64]| {
        if print_epochs && record.iteration > 0 {
            // A closed pipe (e.g. `| head`) is not an error worth reporting.
            let _ = writeln!(out, "{}", epoch_line(record, x));
        }
    };
    let result: LargeRun = match (fast_update(&spec), &large) {
        (Some(update), Large::Separable(s)) => run_separable(s, update, x0, &options, &mut print)?,
        (Some(update), _) => run_vector(objective, update, x0, &options, &mut print)?,
        (None, _) => {
            let hessian_bytes = 8.0 * (dim as f64) * (dim as f64);
            if method.hessian_need() == HessianNeed::Full && hessian_bytes > HESSIAN_BYTES_LIMIT {
                return Err(UserError(format!(
                    "--method {} needs the full {dim} x {dim} Hessian ({:.1} GB); use gd or precond (the Hessian diagonal), or lbfgs",
                    name.name(),
                    hessian_bytes / 1e9
                )));
            }
            let mut observer = |state: &State| {
                if print_epochs && state.iteration > 0 {
                    let record =
                        LargeRecord::from_point(state.iteration, state.f, 0.0, 0.0, &state.x);
                    print(&record, &state.x);
                }
            };
            run_observed(objective, method.as_mut(), &x0, &options, &mut observer)?.into()
        }
    };
    if args.json {
        let _ = writeln!(out, "{}", result.to_json(dim <= 10));
    } else {
        let _ = write!(out, "{}", summary(&result, &options));
    }
    let _ = out.flush();
    Ok(())
}
