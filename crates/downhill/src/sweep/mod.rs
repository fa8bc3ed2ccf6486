//! Basin and stability maps: one method run from every cell of a grid of
//! start points and learning rates (`downhill sweep`).
//!
//! A sweep runs the same method, with the same stopping rules, from each
//! cell of a [`Grid`] (start coordinates `x0` and, optionally, learning
//! rates `η`) and keeps per cell only a few numbers: the [`Outcome`], the
//! final `x`, `f(x)`, `‖∇f(x)‖` and the iterations taken. Cells that settle
//! at the same stationary point are then given the same minimum id
//! ([`SweepResult::minima`]). On the chapter's `f(x) = x cos(0.15πx)` the
//! map over `x0 × η` shows which local minimum each start reaches, and
//! where the learning rate is too large for the curvature of that basin:
//! there the iterates overshoot (`f` rises at some step) and oscillate
//! without settling, or diverge.
//!
//! ```
//! use downhill::formula::Formula;
//! use downhill::method::{MethodName, MethodSpec};
//! use downhill::sweep::{self, Axis, Grid, Outcome, SweepSpec};
//!
//! let f = Formula::parse("x*cos(0.15*pi*x)").unwrap();
//! let grid = Grid::new(vec![Axis::parse("-20:20:41").unwrap()], Some(Axis::parse("0.01:3:30").unwrap())).unwrap();
//! let mut spec = SweepSpec::new(f, MethodSpec::new(MethodName::Gd), grid);
//! spec.steps = 50;
//! let result = sweep::run(&spec, None).unwrap();
//! assert_eq!(result.len(), 41 * 30);
//! assert_eq!(result.count(Outcome::Limit), 41 * 30); // tol 0: exactly 50 steps each
//! assert_eq!(result.minima().len(), 4); // the local minima near -13.7, -1.8, 7.3, 20.2
//! assert!(result.oscillating() > 0); // too large a learning rate for its basin
//! ```
//!
//! # Rules of a cell
//!
//! Each cell follows [`crate::driver::run`] exactly: `--tol` (`tol`) is the
//! gradient test before each step (0, the default of a sweep, turns it off
//! so every cell makes exactly `steps` steps, as the book's runs do); a step
//! to a non-finite `x`, beyond the divergence bound (`1e10 · max(1, ‖x0‖∞)`
//! unless given), or to a point where `f` or `∇f` is not finite is
//! divergence, and the cell keeps its last good iterate. A cell whose `f` or
//! `∇f` is not finite at the start point is [`Outcome::Failed`] (as is one
//! whose method fails).
//!
//! # Minima
//!
//! A cell *settles* when it converged (`‖∇f‖ ≤ tol`), or when it reached
//! the iteration limit (or stalled) with `‖∇f(x)‖ ≤ settle` (default
//! `1e-6`). Settled cells are grouped by their final `x`: visited in cell
//! order, a cell joins a group whose first cell (its leader) ended within
//! `cluster_tol` (default `1e-3`, in the max norm) of it, or starts a new
//! group; so the cells of a group end within `cluster_tol` of its leader.
//! Each group is reported with the point of its member with the smallest
//! gradient, `f` there, the kind of stationary point (from the Hessian's
//! eigenvalues: a minimum, maximum, saddle or degenerate point) and its
//! number of cells; ids count from 1 in increasing order of the point
//! (first coordinate first). Cells that did not settle (slow, oscillating
//! or diverged) have no id.
//!
//! Every cell also records whether some accepted step did not decrease `f`
//! ([`SweepResult::rose`]). Fixed-step gradient descent with `η` below
//! `2/L` on a region of curvature at most `L` decreases `f` at every step,
//! so among the cells that did not settle this separates the slow ones
//! (still descending) from those whose step is too large for their basin
//! (overshooting, oscillating, chaotic): the stability boundary on a map.
//!
//! # Engines
//!
//! Fixed-step gradient descent and momentum run on the fast path
//! ([`Engine::Lanes`]): batches of 128 cells (sixteen SIMD vectors of
//! [`LANES`](crate::formula::LANES)) advanced in lock-step, one
//! structure-of-arrays batch at a time, every batch on its own core
//! (rayon), each lane with its own `η`, its own divergence test and its own
//! gradient test. Every other method ([`MethodSpec`]) runs cell by cell
//! through [`crate::driver::run`] ([`Engine::Driver`]), also on all cores.
//! The lanes evaluate `f` and `∇f` as [`Formula::value_gradient_lanes`]
//! does, bit for bit (SIMD, vectorized `sin`/`cos`/`exp`/`ln` within a few ulps of the
//! standard library's), so a cell agrees with the scalar run
//! ([`crate::driver::run`], `downhill minimize`) to rounding wherever the
//! iteration contracts: converging and settled cells match to about
//! `1e-12`. Large learning rates make the iteration chaotic: there a
//! difference of one rounding error grows exponentially (up to about 2.4×
//! per step on the book's function), so such cells may end at different
//! points, or diverge at another step, with an equally accurate
//! evaluation. [`SweepSpec::exact_lanes`] evaluates the lanes one by one
//! with the scalar code instead: bit-identical to the driver, slower.

mod cluster;
mod grid;
mod lanes;
mod output;

pub use cluster::StationaryKind;
pub use grid::{Axis, Grid, MAX_X_AXES};
pub use output::MapColor;

use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::driver::{self, Options, RunError, Status};
use crate::formula::Formula;
use crate::method::{LineSearchKind, MethodName, MethodSpec, State};
use crate::scratch::{can_allocate, gigabytes};
use crate::trace::TracePolicy;

use lanes::{Batch, FastRule, LaneInputs, LaneResults, ScalarLanes, BLOCK};

/// How a cell's run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Outcome {
    /// `‖∇f(x)‖ ≤ tol` (only when `tol > 0`).
    Converged,
    /// The iteration limit was reached.
    Limit,
    /// The iterates or `f` stopped changing (the stagnation tests of
    /// `auto`; never on the fast path).
    Stalled,
    /// The iterates left the finite range or the divergence bound, or `f`
    /// or `∇f` became non-finite.
    Diverged,
    /// `f` or `∇f` is not finite at the start point, or the method failed.
    Failed,
}

impl Outcome {
    /// Every outcome, in the order of tables.
    pub const ALL: [Outcome; 5] = [
        Outcome::Converged,
        Outcome::Limit,
        Outcome::Stalled,
        Outcome::Diverged,
        Outcome::Failed,
    ];

    /// The name in tables, CSV and JSON: `converged`, `limit`, `stalled`,
    /// `diverged`, `failed`.
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Converged => "converged",
            Outcome::Limit => "limit",
            Outcome::Stalled => "stalled",
            Outcome::Diverged => "diverged",
            Outcome::Failed => "failed",
        }
    }

    fn of(status: &Status) -> Outcome {
        match status {
            Status::Converged => Outcome::Converged,
            Status::IterationLimit => Outcome::Limit,
            Status::Stalled(_) => Outcome::Stalled,
            Status::Diverged { .. } => Outcome::Diverged,
            Status::MethodFailed { .. } => Outcome::Failed,
        }
    }
}

/// Which engine runs the cells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// The fast path when the method allows it, else the driver.
    #[default]
    Auto,
    /// Batches of cells in lock-step: fixed-step gradient descent
    /// and momentum only.
    Lanes,
    /// Cell by cell through [`crate::driver::run`]: every method.
    Driver,
}

impl Engine {
    /// `auto`, `lanes` or `driver`.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Auto => "auto",
            Engine::Lanes => "lanes",
            Engine::Driver => "driver",
        }
    }
}

/// What to sweep: an objective, a method and its stopping rules, a grid.
#[derive(Clone, Debug)]
pub struct SweepSpec {
    /// The objective.
    pub formula: Formula,
    /// The method and its parameters; with an `eta` axis in the grid, its
    /// `eta` is replaced cell by cell.
    pub method: MethodSpec,
    /// Iteration limit of every cell (default 100).
    pub steps: usize,
    /// Gradient tolerance; 0 (the default) runs exactly `steps` steps.
    pub tol: f64,
    /// Divergence bound on `‖x‖∞` (`None`: `1e10 · max(1, ‖x0‖∞)`, the driver's).
    pub bound: Option<f64>,
    /// Start points and learning rates.
    pub grid: Grid,
    /// A cell that reached the limit counts as settled when `‖∇f(x)‖ ≤
    /// settle` (default `1e-6`).
    pub settle: f64,
    /// Settled cells whose final points are within this (max norm) share a
    /// minimum (default `1e-3`).
    pub cluster_tol: f64,
    /// Which engine to use (default [`Engine::Auto`]).
    pub engine: Engine,
    /// On the lanes engine, evaluate the lanes one by one with the scalar
    /// evaluator instead of SIMD: every cell bit-identical
    /// to [`crate::driver::run`], at scalar speed (default `false`).
    pub exact_lanes: bool,
}

impl SweepSpec {
    /// A sweep of `method` on `formula` over `grid` with the defaults: 100
    /// steps, no gradient tolerance, the driver's divergence bound,
    /// `settle = 1e-6`, `cluster_tol = 1e-3`, the engine chosen
    /// automatically.
    pub fn new(formula: Formula, method: MethodSpec, grid: Grid) -> SweepSpec {
        SweepSpec {
            formula,
            method,
            steps: 100,
            tol: 0.0,
            bound: None,
            grid,
            settle: 1e-6,
            cluster_tol: 1e-3,
            engine: Engine::Auto,
            exact_lanes: false,
        }
    }

    /// The driver options of every cell (those of `downhill minimize`:
    /// stagnation tests only for `auto`).
    pub fn options(&self) -> Options {
        let defaults = if self.method.name == MethodName::Auto {
            Options::robust()
        } else {
            Options::default()
        };
        Options {
            max_iterations: self.steps,
            grad_tol: self.tol,
            max_abs_x: self.bound,
            trace: TracePolicy::Ends,
            ..defaults
        }
    }

    /// The method of one cell: the spec's, with the cell's `eta` if the
    /// grid has an `eta` axis.
    pub fn method_for(&self, eta: Option<f64>) -> MethodSpec {
        let mut spec = self.method.clone();
        if eta.is_some() {
            spec.eta = eta;
        }
        spec
    }

    /// The fast-path rule, when the method has one.
    fn fast_rule(&self) -> Option<FastRule> {
        let m = &self.method;
        match m.name {
            MethodName::Gd if matches!(m.line_search, None | Some(LineSearchKind::None)) => {
                Some(FastRule::GradientDescent)
            }
            MethodName::Momentum => Some(FastRule::Momentum {
                beta: m.beta.unwrap_or(MOMENTUM_BETA),
            }),
            _ => None,
        }
    }

    /// Checks the spec; returns the engine that will run it and the
    /// description of the method (with the first `eta` of the grid).
    fn check(&self) -> Result<(Engine, String), SweepError> {
        let dim = self.formula.dim();
        if dim == 0 {
            return Err(SweepError::new("the formula has no variables"));
        }
        if self.grid.x0().len() != dim {
            return Err(SweepError::new(format!(
                "the start point has {} coordinate{} but the formula has {dim} variable{} ({})",
                self.grid.x0().len(),
                plural(self.grid.x0().len()),
                plural(dim),
                self.formula.variables().join(", ")
            )));
        }
        if let Some(eta) = self.grid.eta() {
            if !(eta.start > 0.0 && eta.stop > 0.0) {
                return Err(SweepError::new(format!(
                    "every learning rate must be > 0, got the range {eta}"
                )));
            }
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return Err(SweepError::new(format!(
                "the gradient tolerance must be a finite number >= 0, got {}",
                self.tol
            )));
        }
        if let Some(bound) = self.bound {
            if bound.is_nan() || bound <= 0.0 {
                return Err(SweepError::new(format!(
                    "the divergence bound must be > 0, got {bound}"
                )));
            }
        }
        if !(self.settle >= 0.0 && self.settle.is_finite()) {
            return Err(SweepError::new(format!(
                "the settle tolerance must be a finite number >= 0, got {}",
                self.settle
            )));
        }
        if !(self.cluster_tol > 0.0 && self.cluster_tol.is_finite()) {
            return Err(SweepError::new(format!(
                "the cluster tolerance must be a finite number > 0, got {}",
                self.cluster_tol
            )));
        }
        if u32::try_from(self.steps).is_err() {
            return Err(SweepError::new(format!(
                "at most {} steps per cell, got {}",
                u32::MAX,
                self.steps
            )));
        }
        let first_eta = self.grid.eta().map(|a| a.start);
        let (method, _) = self
            .method_for(first_eta)
            .build(dim)
            .map_err(SweepError::new)?;
        let engine = match (self.engine, self.fast_rule()) {
            (Engine::Auto | Engine::Lanes, Some(_)) => Engine::Lanes,
            (Engine::Lanes, None) => {
                return Err(SweepError::new(format!(
                    "the lanes engine runs fixed-step gd and momentum only, not {}",
                    method.describe()
                )))
            }
            _ => Engine::Driver,
        };
        let description = match self.grid.eta() {
            Some(eta) if eta.varies() => method
                .describe()
                .replace(&format!("eta = {}", eta.start), "eta swept")
                .replace(&format!("step {}", eta.start), "step swept"),
            _ => method.describe(),
        };
        Ok((engine, description))
    }
}

/// Gradient descent's default learning rate (as [`MethodSpec::build`]).
const GD_ETA: f64 = 0.1;
/// Momentum's default learning rate and `β` (as [`MethodSpec::build`]).
const MOMENTUM_ETA: f64 = 0.1;
const MOMENTUM_BETA: f64 = 0.9;

/// A sweep that could not start (bad grid or method parameters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepError {
    /// What is wrong.
    pub message: String,
}

impl SweepError {
    fn new(message: impl Into<String>) -> SweepError {
        SweepError {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for SweepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SweepError {}

/// One stationary point reached by settled cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Minimum {
    /// The id of the group, from 1, in increasing order of `x`.
    pub id: usize,
    /// The final point of the member with the smallest `‖∇f‖`.
    pub x: Vec<f64>,
    /// `f(x)`.
    pub f: f64,
    /// `‖∇f(x)‖`.
    pub grad_norm: f64,
    /// Minimum, maximum, saddle or degenerate (from `∇²f(x)`).
    pub kind: StationaryKind,
    /// How many cells settled here.
    pub cells: usize,
}

/// The result of one cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell<'a> {
    /// The start point.
    pub x0: Vec<f64>,
    /// The learning rate of the cell (`None`: the method's own).
    pub eta: Option<f64>,
    /// How the run ended.
    pub outcome: Outcome,
    /// Steps accepted; a diverged cell diverged at step `iterations + 1`.
    pub iterations: usize,
    /// The final (last good) iterate.
    pub x: &'a [f64],
    /// `f(x)`.
    pub f: f64,
    /// `‖∇f(x)‖₂`.
    pub grad_norm: f64,
    /// Whether some step did not decrease `f`.
    pub rose: bool,
    /// The id of the minimum it settled at, if any.
    pub minimum: Option<usize>,
}

/// What a sweep found, cell by cell (a structure of arrays: a few numbers
/// per cell, no traces) and summed up.
#[derive(Clone, Debug)]
pub struct SweepResult {
    formula: String,
    variables: Vec<String>,
    method: String,
    steps: usize,
    tol: f64,
    settle: f64,
    cluster_tol: f64,
    grid: Grid,
    engine: Engine,
    threads: usize,
    elapsed: Duration,
    outcome: Vec<Outcome>,
    iterations: Vec<u32>,
    x: Vec<f64>,
    f: Vec<f64>,
    grad_norm: Vec<f64>,
    rose: Vec<bool>,
    minimum: Vec<u32>,
    minima: Vec<Minimum>,
}

/// No minimum, in [`SweepResult`]'s per-cell ids.
const NO_MINIMUM: u32 = 0;

impl SweepResult {
    /// Number of cells.
    pub fn len(&self) -> usize {
        self.outcome.len()
    }

    /// Whether there are no cells (never: a grid has at least one).
    pub fn is_empty(&self) -> bool {
        self.outcome.is_empty()
    }

    /// The grid swept.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// The variable names of the formula.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// The formula text.
    pub fn formula(&self) -> &str {
        &self.formula
    }

    /// The method with its parameters (`eta swept` when `eta` is an axis).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The iteration limit of every cell.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The gradient tolerance (0: fixed steps).
    pub fn tol(&self) -> f64 {
        self.tol
    }

    /// The settle tolerance on `‖∇f‖` of cells at the limit.
    pub fn settle(&self) -> f64 {
        self.settle
    }

    /// The distance within which settled cells share a minimum.
    pub fn cluster_tol(&self) -> f64 {
        self.cluster_tol
    }

    /// The engine that ran the cells ([`Engine::Lanes`] or [`Engine::Driver`]).
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// rayon threads used.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Wall time of the run (cells and clustering).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The outcome of cell `i`.
    pub fn outcome(&self, i: usize) -> Outcome {
        self.outcome[i]
    }

    /// Steps accepted by cell `i`.
    pub fn iterations(&self, i: usize) -> usize {
        self.iterations[i] as usize
    }

    /// The final (last good) iterate of cell `i`.
    pub fn x(&self, i: usize) -> &[f64] {
        let d = self.variables.len();
        &self.x[i * d..(i + 1) * d]
    }

    /// `f` at the final iterate of cell `i`.
    pub fn f(&self, i: usize) -> f64 {
        self.f[i]
    }

    /// `‖∇f‖₂` at the final iterate of cell `i`.
    pub fn grad_norm(&self, i: usize) -> f64 {
        self.grad_norm[i]
    }

    /// Whether some step of cell `i` did not decrease `f` (the iterates
    /// overshot: a learning rate too large for the curvature met).
    pub fn rose(&self, i: usize) -> bool {
        self.rose[i]
    }

    /// The id of the minimum cell `i` settled at (`minima()[id − 1]`), if any.
    pub fn minimum(&self, i: usize) -> Option<usize> {
        match self.minimum[i] {
            NO_MINIMUM => None,
            id => Some(id as usize),
        }
    }

    /// Everything about cell `i`.
    pub fn cell(&self, i: usize) -> Cell<'_> {
        let (x0, eta) = self.grid.cell(i);
        Cell {
            x0,
            eta,
            outcome: self.outcome(i),
            iterations: self.iterations(i),
            x: self.x(i),
            f: self.f(i),
            grad_norm: self.grad_norm(i),
            rose: self.rose(i),
            minimum: self.minimum(i),
        }
    }

    /// The stationary points reached, by id.
    pub fn minima(&self) -> &[Minimum] {
        &self.minima
    }

    /// How many cells ended with `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.outcome.iter().filter(|&&o| o == outcome).count()
    }

    /// Whether cell `i` ended without settling at a stationary point (and
    /// did not diverge or fail): a slow or an oscillating run.
    pub fn is_unsettled(&self, i: usize) -> bool {
        matches!(
            self.outcome[i],
            Outcome::Converged | Outcome::Limit | Outcome::Stalled
        ) && self.minimum[i] == NO_MINIMUM
    }

    /// Cells that did not settle at a stationary point (and did not diverge
    /// or fail): slow or oscillating runs.
    pub fn unsettled(&self) -> usize {
        (0..self.len()).filter(|&i| self.is_unsettled(i)).count()
    }

    /// Unsettled cells some step of which did not decrease `f`: the
    /// learning rate is too large for them (they oscillate or wander).
    pub fn oscillating(&self) -> usize {
        (0..self.len())
            .filter(|&i| self.is_unsettled(i) && self.rose[i])
            .count()
    }
}

/// At most this many cells per parallel work item on the fast path (a
/// multiple of [`BLOCK`]); smaller grids are cut into about eight items per
/// thread, whole batches each.
const LANE_CHUNK: usize = 32 * BLOCK;
/// Cells per parallel work item on the driver path.
const DRIVER_CHUNK: usize = 16;

/// Runs every cell of `spec` on all cores of the current rayon pool and
/// groups the settled cells into minima. `progress`, if given, is called
/// from the worker threads with the number of cells just finished (its
/// calls add up to the number of cells).
///
/// # Errors
/// A start point of the wrong dimension, a learning rate ≤ 0, a method
/// parameter out of range or not applying to the method, bad tolerances,
/// or [`Engine::Lanes`] for a method without a fast path.
pub fn run(
    spec: &SweepSpec,
    progress: Option<&(dyn Fn(usize) + Sync)>,
) -> Result<SweepResult, SweepError> {
    let (engine, method) = spec.check()?;
    let started = Instant::now();
    let n = spec.grid.len();
    let dim = spec.formula.dim();
    // The per-cell results: the final point, f, ‖∇f‖, the iterations, the
    // outcome and whether f rose (22 bytes).
    let per_cell = 8 * dim + 22;
    if !n.checked_mul(per_cell).is_some_and(can_allocate::<u8>) {
        return Err(SweepError::new(format!(
            "the grid's {n} cells need {} for their results, more than can be allocated",
            gigabytes(n as f64 * per_cell as f64)
        )));
    }
    let mut outcome = vec![Outcome::Limit; n];
    let mut iterations = vec![0u32; n];
    let mut x = vec![0.0; n * dim];
    let mut f = vec![0.0; n];
    let mut grad_norm = vec![0.0; n];
    let mut rose = vec![false; n];

    let chunk = if engine == Engine::Lanes {
        let items = 8 * rayon::current_num_threads();
        n.div_ceil(items).next_multiple_of(BLOCK).min(LANE_CHUNK)
    } else {
        DRIVER_CHUNK
    };
    let rule = spec.fast_rule();
    outcome
        .par_chunks_mut(chunk)
        .zip(iterations.par_chunks_mut(chunk))
        .zip(x.par_chunks_mut(chunk * dim))
        .zip(f.par_chunks_mut(chunk))
        .zip(grad_norm.par_chunks_mut(chunk))
        .zip(rose.par_chunks_mut(chunk))
        .enumerate()
        .for_each(|(k, (((((o, it), xs), fs), gs), up))| {
            let first = k * chunk;
            let out = LaneResults {
                outcome: o,
                iterations: it,
                x: xs,
                f: fs,
                grad_norm: gs,
                rose: up,
            };
            match (engine, rule) {
                (Engine::Lanes, Some(rule)) => run_lanes(spec, rule, first, out),
                _ => run_driver(spec, first, out),
            }
            if let Some(report) = progress {
                report(o.len());
            }
        });

    let mut result = SweepResult {
        formula: spec.formula.source().to_string(),
        variables: spec.formula.variables().to_vec(),
        method,
        steps: spec.steps,
        tol: spec.tol,
        settle: spec.settle,
        cluster_tol: spec.cluster_tol,
        grid: spec.grid.clone(),
        engine,
        threads: rayon::current_num_threads(),
        elapsed: Duration::ZERO,
        outcome,
        iterations,
        x,
        f,
        grad_norm,
        rose,
        minimum: Vec::new(),
        minima: Vec::new(),
    };
    let (minimum, minima) = cluster::group(&result, &spec.formula);
    result.minimum = minimum;
    result.minima = minima;
    result.elapsed = started.elapsed();
    Ok(result)
}

/// The fast path over the cells `first ..` of one chunk.
fn run_lanes(spec: &SweepSpec, rule: FastRule, first: usize, out: LaneResults<'_>) {
    let dim = spec.formula.dim();
    let default_eta = spec.method.eta.unwrap_or(match rule {
        FastRule::GradientDescent => GD_ETA,
        FastRule::Momentum { .. } => MOMENTUM_ETA,
    });
    let mut batch = Batch::new(dim);
    let mut x0 = vec![[0.0; BLOCK]; dim];
    let tables = spec.grid.tables();
    let (x_tables, eta_table) = tables.split_at(dim);
    let eta_table = eta_table.first();
    let cells = out.outcome.len();
    let LaneResults {
        outcome,
        iterations,
        x,
        f,
        grad_norm,
        rose,
    } = out;
    for start in (0..cells).step_by(BLOCK) {
        let used = BLOCK.min(cells - start);
        let mut eta = [0.0; BLOCK];
        let mut bound = [0.0; BLOCK];
        // The cells of the batch in order: their axis indices are counted
        // up like an odometer rather than divided out of the cell number
        // per lane (two integer divisions per axis, a noticeable part of a
        // batch of cheap steps), their values looked up.
        let mut index = spec.grid.indices(first + start);
        for lane in 0..BLOCK {
            if lane == used {
                // Lanes past the end repeat the first cell of the batch.
                index = spec.grid.indices(first + start);
            }
            let mut largest = 1.0_f64;
            for ((lanes, table), &i) in x0.iter_mut().zip(x_tables).zip(&index) {
                let v = table[i];
                lanes[lane] = v;
                largest = largest.max(v.abs());
            }
            eta[lane] = eta_table.map_or(default_eta, |t| t[index[dim]]);
            bound[lane] = spec.bound.unwrap_or(1e10 * largest);
            if lane + 1 < used {
                spec.grid.next_index(&mut index);
            }
        }
        let input = LaneInputs {
            x0: &x0,
            eta,
            bound,
            used,
        };
        let end = start + used;
        let results = LaneResults {
            outcome: &mut outcome[start..end],
            iterations: &mut iterations[start..end],
            x: &mut x[start * dim..end * dim],
            f: &mut f[start..end],
            grad_norm: &mut grad_norm[start..end],
            rose: &mut rose[start..end],
        };
        if spec.exact_lanes {
            let scalar = ScalarLanes(&spec.formula);
            batch.run(&scalar, rule, spec.steps, spec.tol, &input, results);
        } else {
            batch.run(&spec.formula, rule, spec.steps, spec.tol, &input, results);
        }
    }
}

/// The driver path: every cell through [`crate::driver::run`].
fn run_driver(spec: &SweepSpec, first: usize, out: LaneResults<'_>) {
    let dim = spec.formula.dim();
    let options = spec.options();
    let mut point = vec![0.0; dim];
    let mut grad = vec![0.0; dim];
    for i in 0..out.outcome.len() {
        let eta = spec.grid.cell_into(first + i, &mut point);
        let xs = &mut out.x[i * dim..(i + 1) * dim];
        let built = spec.method_for(eta).build(dim);
        let mut previous = f64::NAN;
        let mut rose = false;
        let mut watch = |state: &State| {
            if state.iteration > 0 {
                rose |= state.f >= previous;
            }
            previous = state.f;
        };
        let result = built
            .map_err(RunError::InvalidOption)
            .and_then(|(mut method, _)| {
                driver::run_observed(&spec.formula, method.as_mut(), &point, &options, &mut watch)
            });
        out.rose[i] = rose;
        match result {
            Ok(r) => {
                out.outcome[i] = Outcome::of(&r.status);
                out.iterations[i] = u32::try_from(r.iterations).unwrap_or(u32::MAX);
                xs.copy_from_slice(&r.x);
                out.f[i] = r.f;
                out.grad_norm[i] = r.grad_norm;
            }
            Err(_) => {
                out.outcome[i] = Outcome::Failed;
                out.iterations[i] = 0;
                xs.copy_from_slice(&point);
                out.f[i] = spec.formula.value_gradient(&point, &mut grad);
                out.grad_norm[i] = driver::norm(&grad);
            }
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method::Method;

    /// The fast path's defaults are [`MethodSpec::build`]'s.
    #[test]
    fn fast_path_defaults_match_the_method_spec() {
        let (gd, _) = MethodSpec::new(MethodName::Gd).build(1).unwrap();
        assert_eq!(
            gd.describe(),
            crate::method::GradientDescent::new(GD_ETA).describe()
        );
        let (momentum, _) = MethodSpec::new(MethodName::Momentum).build(1).unwrap();
        assert_eq!(
            momentum.describe(),
            crate::method::Momentum::new(MOMENTUM_ETA, MOMENTUM_BETA).describe()
        );
    }
}
