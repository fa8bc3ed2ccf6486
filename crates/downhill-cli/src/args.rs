//! Command-line arguments (clap derive) and their value parsers.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use downhill::method::{
    parse_hessian, parse_line_search, HessianRepair, LineSearchKind, MethodName, MethodSpec,
};

/// Gradient descent and Newton's method, the textbook made real.
#[derive(Parser, Debug)]
#[command(name = "downhill", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run every experiment of the gradient-descent chapter and draw its figures.
    Tour(TourArgs),
    /// Minimize a formula, printing the book's `epoch` lines and a summary.
    Minimize(Box<MinimizeArgs>),
    /// Run methods on classical test problems (Moré, Garbow & Hillstrom) and print a robustness table.
    Problems(ProblemsArgs),
    /// Run one method from every cell of a grid of start points and learning rates:
    /// outcomes, the minima reached, a basin/stability map (--plot) and CSV.
    Sweep(Box<SweepArgs>),
}

#[derive(Args, Debug)]
pub struct TourArgs {
    /// Folder for the figures (SVG, PNG) and index.html.
    #[arg(long, value_name = "DIR", default_value = "downhill-out")]
    pub out: PathBuf,
    /// Print the results only; draw no figures.
    #[arg(long)]
    pub no_figures: bool,
}

#[derive(Args, Debug)]
pub struct MinimizeArgs {
    /// The objective, e.g. "x1^2 + 2*x2^2" (variables x, y, z or x1..xn;
    /// + - * / ^, exp log sqrt sin cos tan ... pow min max, pi, e).
    #[arg(
        long,
        short = 'f',
        value_name = "FORMULA",
        allow_hyphen_values = true,
        required_unless_present_any = ["separable", "quadratic", "least_squares"],
        conflicts_with_all = ["separable", "quadratic", "least_squares"]
    )]
    pub formula: Option<String>,
    /// The variables in order, e.g. x1,x2 (a declared variable may be absent).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub vars: Option<Vec<String>>,
    /// Start point, comma-separated, e.g. -5,-2 (negative numbers as written).
    #[arg(long, value_name = "X0", allow_hyphen_values = true, value_parser = parse_point)]
    pub x0: Point,
    /// auto (the default without --eta: Newton with Hessian shift and Wolfe line search;
    /// L-BFGS above 200 variables; with --eta the default is gd), gd, newton, precond,
    /// momentum, adagrad, rmsprop, adadelta, adam, bfgs, lbfgs.
    #[arg(long, value_name = "METHOD", value_parser = MethodName::parse)]
    pub method: Option<MethodName>,
    /// Learning rate / step size / first trial step of a line search, > 0
    /// (defaults: gd 0.1, newton 1, precond 1, momentum 0.1, adagrad 0.4, rmsprop 0.01, adam 0.01).
    #[arg(long, value_name = "ETA", allow_hyphen_values = true, value_parser = parse_positive)]
    pub eta: Option<f64>,
    #[command(flatten)]
    pub params: MethodParams,
    /// Iteration limit, >= 1.
    #[arg(long, value_name = "N", default_value_t = 1000, allow_hyphen_values = true, value_parser = parse_count)]
    pub steps: u64,
    /// Stop when |grad f(x)| <= TOL; 0 turns the test off (exactly --steps iterations).
    #[arg(long, value_name = "TOL", default_value_t = 1e-8, allow_hyphen_values = true, value_parser = parse_non_negative)]
    pub tol: f64,
    /// Stop when no coordinate moves by more than XTOL * max(1, |x|) (default: 1e-12 for auto, else off).
    #[arg(long, value_name = "XTOL", allow_hyphen_values = true, value_parser = parse_non_negative)]
    pub xtol: Option<f64>,
    /// Stop when f changes by at most FTOL * max(1, |f|) (default: 1e-15 for auto, else off).
    #[arg(long, value_name = "FTOL", allow_hyphen_values = true, value_parser = parse_non_negative)]
    pub ftol: Option<f64>,
    /// Report divergence when some |x_i| exceeds this (default 1e10 * max(1, |x0|)).
    #[arg(long, value_name = "BOUND", allow_hyphen_values = true, value_parser = parse_positive)]
    pub bound: Option<f64>,
    /// Minimize g(y) = f(R y): rotate the coordinates of a 2-D objective by DEG degrees.
    #[arg(long, value_name = "DEG", allow_hyphen_values = true, value_parser = parse_number)]
    pub rotate: Option<f64>,
    /// Minimize g(y) = f(diag(s) y): rescale the coordinates, e.g. 1,100.
    #[arg(long, value_name = "S", allow_hyphen_values = true, value_parser = parse_point)]
    pub scale: Option<Point>,
    /// Keep every k-th iterate in the trace (memory for very long runs).
    #[arg(long, value_name = "K", allow_hyphen_values = true, value_parser = parse_count)]
    pub trace_every: Option<u64>,
    /// Print no epoch lines (the summary still prints).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Print one JSON object (status, x, f, grad_norm, iterations, evaluations) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Draw the run: the trace over f (1-D) or the path over contour lines (2-D); .svg or .png.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Write every iterate (iteration, x, f, grad_norm, step_norm, note) to a .csv or .json file.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,

    // Large objectives (millions of variables): see `minimize_large.rs`.
    /// A separable objective sum_i g(x_i; a_i, ...): the term g written once in x and
    /// coefficient names, e.g. "a*x^2" or "a*(x-b)^2 + log(cosh(x))"; needs --dim and a
    /// --coef per name. gd and precond run in place, one pass over memory per step.
    #[arg(
        long,
        value_name = "TERM",
        allow_hyphen_values = true,
        requires = "dim",
        conflicts_with_all = ["quadratic", "least_squares"]
    )]
    pub separable: Option<String>,
    /// The number of variables of --separable, e.g. 20000000.
    #[arg(
        long,
        value_name = "N",
        allow_hyphen_values = true,
        value_parser = parse_count,
        requires = "separable",
        conflicts_with_all = ["formula", "quadratic", "least_squares"]
    )]
    pub dim: Option<u64>,
    /// A coefficient of --separable, NAME=SOURCE (repeat per name). SOURCE: a number,
    /// const:V, linspace:START:END, uniform:LOW:HIGH[:SEED], or file:PATH (one number per
    /// line, or a Matrix Market vector).
    #[arg(
        long = "coef",
        value_name = "NAME=SOURCE",
        requires = "separable",
        conflicts_with_all = ["formula", "quadratic", "least_squares"]
    )]
    pub coefs: Vec<String>,
    /// f(x) = 1/2 x'Ax - b'x with A from a Matrix Market file (coordinate: sparse,
    /// array: dense; a non-symmetric A is replaced by (A + A')/2, which keeps f).
    #[arg(long, value_name = "A.mtx", conflicts_with = "least_squares")]
    pub quadratic: Option<PathBuf>,
    /// b of --quadratic (default 0): one number per line, or a Matrix Market vector.
    #[arg(
        long,
        value_name = "b.txt",
        requires = "quadratic",
        conflicts_with_all = ["formula", "separable", "least_squares"]
    )]
    pub rhs: Option<PathBuf>,
    /// f(x) = |Ax - b|^2 with A from a Matrix Market file and b from a vector file.
    #[arg(long = "least-squares", value_name = "A.mtx,b.txt", value_parser = parse_file_pair)]
    pub least_squares: Option<(PathBuf, PathBuf)>,
}

/// `A.mtx,b.txt` of `--least-squares`.
fn parse_file_pair(s: &str) -> Result<(PathBuf, PathBuf), String> {
    match s.split_once(',') {
        Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
            Ok((PathBuf::from(a.trim()), PathBuf::from(b.trim())))
        }
        _ => Err(format!(
            "expected two files separated by a comma, A.mtx,b.txt; got '{s}'"
        )),
    }
}

#[derive(Args, Debug)]
pub struct ProblemsArgs {
    /// Methods to compare, comma-separated: NAME or NAME:SEARCH (e.g. gd:wolfe, newton:armijo);
    /// plain gd uses eta 0.001.
    #[arg(
        long,
        value_name = "METHODS",
        value_delimiter = ',',
        default_value = "auto,bfgs,lbfgs,newton,gd:wolfe"
    )]
    pub method: Vec<String>,
    /// Iteration limit of every run, >= 1 (same options for every method).
    #[arg(long, value_name = "N", default_value_t = 2000, allow_hyphen_values = true, value_parser = parse_count)]
    pub steps: u64,
    /// Print the rows as a JSON array instead of the markdown table.
    #[arg(long)]
    pub json: bool,
}

/// `downhill sweep`. Ranges are `start:stop:count` (count values, both ends
/// included, as numpy's linspace); a plain number is a single value.
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// The objective, e.g. "x*cos(0.15*pi*x)" (as for minimize).
    #[arg(long, short = 'f', value_name = "FORMULA", allow_hyphen_values = true)]
    pub formula: String,
    /// The variables in order, e.g. x1,x2 (a declared variable may be absent).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub vars: Option<Vec<String>>,
    /// Start points: per variable a value or a range, comma-separated, e.g. -20:20:1000
    /// (1-D) or -5:5:100,-3:3:100 (a grid over x1, x2); at most two ranges.
    #[arg(long, value_name = "X0", allow_hyphen_values = true, value_parser = crate::sweep::parse_start_axes)]
    pub x0: crate::sweep::StartAxes,
    /// Method, as for minimize (default gd). gd without a line search and momentum run
    /// on the fast lane engine; every other method cell by cell through the driver.
    #[arg(long, value_name = "METHOD", value_parser = MethodName::parse)]
    pub method: Option<MethodName>,
    /// Learning rate(s) > 0: a value or a range, e.g. 0.01:3:1000 (default: the method's).
    #[arg(long, value_name = "ETA", allow_hyphen_values = true, value_parser = crate::sweep::parse_eta_axis)]
    pub eta: Option<downhill::sweep::Axis>,
    #[command(flatten)]
    pub params: MethodParams,
    /// Iteration limit of every cell, >= 1.
    #[arg(long, value_name = "N", default_value_t = 100, allow_hyphen_values = true, value_parser = parse_sweep_steps)]
    pub steps: u64,
    /// Stop a cell when |grad f(x)| <= TOL; 0 (the default) runs exactly --steps steps, as the book.
    #[arg(long, value_name = "TOL", default_value_t = 0.0, allow_hyphen_values = true, value_parser = parse_non_negative)]
    pub tol: f64,
    /// Report divergence when some |x_i| exceeds this (default 1e10 * max(1, |x0|)).
    #[arg(long, value_name = "BOUND", allow_hyphen_values = true, value_parser = parse_positive)]
    pub bound: Option<f64>,
    /// A cell at the iteration limit has settled at a stationary point when |grad f(x)| <= SETTLE.
    #[arg(long, value_name = "SETTLE", default_value = "1e-6", allow_hyphen_values = true, value_parser = parse_non_negative)]
    pub settle: f64,
    /// Settled cells whose final points are within this distance (max norm) reach the same minimum.
    #[arg(long, value_name = "DIST", default_value = "1e-3", allow_hyphen_values = true, value_parser = parse_positive)]
    pub cluster_tol: f64,
    /// Write one row per cell: start, eta, outcome, iterations, final x, f, grad_norm,
    /// f_rose (1 when some step did not decrease f), minimum id.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<std::path::PathBuf>,
    /// Draw the map over the two axes that vary (.svg or .png).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<std::path::PathBuf>,
    /// Colour of the map: minimum, outcome, f, iterations, or a variable (its final value).
    /// Only with --plot.
    #[arg(
        long,
        value_name = "COLOR",
        default_value = "minimum",
        requires = "plot"
    )]
    pub color: String,
    /// Title of the map (default: formula, method, steps). Only with --plot.
    #[arg(
        long,
        value_name = "TEXT",
        allow_hyphen_values = true,
        requires = "plot"
    )]
    pub title: Option<String>,
    /// Print the summary as one JSON object (outcomes, minima) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Run grids of more than 10^8 cells.
    #[arg(long)]
    pub force: bool,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = parse_threads)]
    pub threads: Option<u64>,
    /// Evaluate the lanes with the scalar code: every cell bit-identical to `downhill minimize`
    /// (the SIMD default agrees to rounding; chaotic large-eta cells may end elsewhere), slower.
    #[arg(long)]
    pub exact: bool,
    /// auto (default: lanes for fixed-step gd and momentum, else driver), lanes, driver.
    #[arg(long, value_name = "ENGINE", default_value = "auto", value_parser = crate::sweep::parse_engine)]
    pub engine: downhill::sweep::Engine,
}

/// The method parameters of `minimize` and `sweep` (each applies to some
/// methods only; `MethodSpec::build` says which).
#[derive(Args, Debug)]
pub struct MethodParams {
    /// Hessian treatment for newton (exact, abs, shift) and precond (exact, abs = |diag H|).
    #[arg(long, value_name = "REPAIR", value_parser = parse_hessian)]
    pub hessian: Option<HessianRepair>,
    /// Line search for gd, newton, precond, bfgs, lbfgs: none, exact, golden, armijo, wolfe.
    #[arg(long, value_name = "SEARCH", value_parser = parse_line_search)]
    pub line_search: Option<LineSearchKind>,
    /// Momentum: v <- beta v + g (default 0.9).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_number)]
    pub beta: Option<f64>,
    /// RMSProp: s <- gamma s + (1 - gamma) g^2 (default 0.9).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_number)]
    pub gamma: Option<f64>,
    /// Adadelta's decay rho (default 0.9).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_number)]
    pub rho: Option<f64>,
    /// Adam's first-moment decay (default 0.9).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_number)]
    pub beta1: Option<f64>,
    /// Adam's second-moment decay (default 0.999).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_number)]
    pub beta2: Option<f64>,
    /// Epsilon of adagrad, rmsprop, adam (1e-6) and adadelta (1e-5).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_number)]
    pub eps: Option<f64>,
    /// L-BFGS memory: number of (s, y) pairs kept (default 10).
    #[arg(long, value_name = "M", allow_hyphen_values = true, value_parser = parse_memory)]
    pub memory: Option<usize>,
}

impl MethodParams {
    /// The method `name` with these parameters and step size `eta`.
    pub fn spec(&self, name: MethodName, eta: Option<f64>) -> MethodSpec {
        MethodSpec {
            name,
            eta,
            hessian: self.hessian,
            line_search: self.line_search,
            beta: self.beta,
            gamma: self.gamma,
            rho: self.rho,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            memory: self.memory,
        }
    }
}

/// A start point as parsed from `--x0`.
#[derive(Clone, Debug)]
pub struct Point(pub Vec<f64>);

fn parse_point(s: &str) -> Result<Point, String> {
    if s.trim().is_empty() {
        return Err("expected numbers separated by commas, e.g. -5,-2".into());
    }
    s.split(',')
        .enumerate()
        .map(|(i, part)| {
            let t = part.trim();
            match t.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                Ok(_) => Err(format!("'{t}' is not a finite number (value {} of the list)", i + 1)),
                Err(_) => Err(format!(
                    "'{t}' is not a number (value {} of the list); expected numbers separated by commas, e.g. -5,-2",
                    i + 1
                )),
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Point)
}

pub fn parse_number(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .map_err(|_| format!("'{s}' is not a number"))
}

fn parse_positive(s: &str) -> Result<f64, String> {
    let v = parse_number(s)?;
    if v > 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(format!("must be a finite number > 0, got {s}"))
    }
}

fn parse_non_negative(s: &str) -> Result<f64, String> {
    let v = parse_number(s)?;
    if v >= 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(format!("must be a finite number >= 0, got {s}"))
    }
}

/// A whole number in `min..=max`; anything else (negative, fractional,
/// out of range, not a number) is an error that says which numbers are
/// allowed, so clap prints it after the option's name.
fn parse_whole(s: &str, min: u64, max: u64) -> Result<u64, String> {
    let t = s.trim();
    let allowed = if max == u64::MAX {
        format!(">= {min}")
    } else {
        format!("from {min} to {max}")
    };
    match t.parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        Ok(_) => Err(format!("must be a whole number {allowed}, got {t}")),
        Err(_) if t.parse::<f64>().is_ok() => {
            Err(format!("must be a whole number {allowed}, got {t}"))
        }
        Err(_) => Err(format!("'{t}' is not a whole number {allowed}")),
    }
}

/// Iteration limits, `--trace-every`, `--dim`: a whole number >= 1.
fn parse_count(s: &str) -> Result<u64, String> {
    parse_whole(s, 1, u64::MAX)
}

/// `sweep --steps`: a whole number from 1 to 2^32 - 1 (the lanes count
/// iterations in 32 bits).
fn parse_sweep_steps(s: &str) -> Result<u64, String> {
    parse_whole(s, 1, u64::from(u32::MAX))
}

/// `sweep --threads`: a whole number from 1 to 1024.
fn parse_threads(s: &str) -> Result<u64, String> {
    parse_whole(s, 1, 1024)
}

/// `--memory` of L-BFGS: a whole number >= 1.
fn parse_memory(s: &str) -> Result<usize, String> {
    let v = parse_count(s)?;
    usize::try_from(v).map_err(|_| format!("must be at most {}, got {}", usize::MAX, s.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_parse_with_signs_and_spaces() {
        assert_eq!(parse_point("-5, -2").unwrap().0, vec![-5.0, -2.0]);
        assert_eq!(parse_point("1e-3").unwrap().0, vec![1e-3]);
        assert!(parse_point("abc")
            .unwrap_err()
            .contains("'abc' is not a number"));
        assert!(parse_point("1,,2").is_err());
        assert!(parse_point("inf").is_err());
        assert!(parse_point("").is_err());
    }

    #[test]
    fn step_sizes_must_be_positive() {
        assert!(parse_positive("0").is_err());
        assert!(parse_positive("-1").is_err());
        assert!(parse_positive("nan").is_err());
        assert_eq!(parse_positive("0.5"), Ok(0.5));
    }

    #[test]
    fn counts_are_whole_numbers_in_range() {
        assert_eq!(parse_count("1"), Ok(1));
        assert_eq!(parse_count(" 20 "), Ok(20));
        assert_eq!(
            parse_count("-5").unwrap_err(),
            "must be a whole number >= 1, got -5"
        );
        assert_eq!(
            parse_count("0").unwrap_err(),
            "must be a whole number >= 1, got 0"
        );
        assert_eq!(
            parse_count("2.5").unwrap_err(),
            "must be a whole number >= 1, got 2.5"
        );
        assert_eq!(
            parse_count("ten").unwrap_err(),
            "'ten' is not a whole number >= 1"
        );
        assert_eq!(
            parse_threads("2000").unwrap_err(),
            "must be a whole number from 1 to 1024, got 2000"
        );
        assert_eq!(parse_sweep_steps("4294967295"), Ok(4294967295));
        assert!(parse_sweep_steps("4294967296").is_err());
        assert_eq!(parse_memory("3"), Ok(3));
        assert!(parse_memory("-1").is_err());
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
