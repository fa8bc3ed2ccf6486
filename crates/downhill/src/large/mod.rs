//! Objectives with millions of variables, and the runs that keep up with
//! memory bandwidth.
//!
//! * [`Separable`]: `f(x) = Σᵢ g(xᵢ; cᵢ)` written once, as a Rust closure
//!   over dual numbers ([`DualTerm`]) or a formula ([`FormulaTerm`]), with
//!   per-coordinate coefficients stored or generated ([`Coef`]).
//! * [`Quadratic`]: `½ xᵀA x − bᵀx` with `A` dense, diagonal or sparse (CSR).
//! * [`LeastSquares`]: `‖A x − b‖²`.
//! * Matrix Market and plain vector files: [`read_matrix`], [`read_vector`].
//! * Runs: [`run_separable`] (in place, one pass over memory per step) and
//!   [`run_vector`] (any objective, three vectors), both for gradient
//!   descent and diagonal preconditioning ([`Update`]), with the generic
//!   driver's stopping and divergence rules and no allocation per step.
//!
//! All of them are also [`crate::objective::Objective`]s, so every method of
//! [`crate::method`] runs on them through [`crate::driver::run`] (which keeps
//! more vectors per iterate; at `d = 2·10⁷` that is the difference between
//! one pass over memory per step and about seven).

/// Runs `$body` for each group of [`LANES`] coordinates of a block of
/// `$len`: `$o` is the group's offset, `$valid` how many of its lanes are
/// real (`LANES` except in the last group). The body is expanded twice, with
/// `$valid` the constant `LANES` in the main loop, so it is inlined and
/// vectorized without a call per group.
macro_rules! for_groups {
    ($len:expr, |$o:ident, $valid:ident| $body:block) => {{
        let len: usize = $len;
        let full = len / $crate::large::LANES * $crate::large::LANES;
        let mut offset = 0;
        while offset < full {
            let $o = offset;
            let $valid = $crate::large::LANES;
            $body
            offset += $crate::large::LANES;
        }
        if full < len {
            let $o = full;
            let $valid = len - full;
            $body
        }
    }};
}

/// Runs `$body` for each sub-block of at most [`SUB`] coordinates of the
/// block starting at coordinate `$start` of `$s` (a [`Separable`]), with
/// `$views` the coefficient slices of those coordinates (stored ones
/// borrowed, generated ones written to a stack buffer) and `$sub`, `$len`
/// the sub-block's offset in the block and length.
macro_rules! with_coefficients {
    ($s:expr, $start:expr, $total:expr, |$sub:ident, $len:ident, $views:ident| $body:block) => {{
        let mut buffers = [[0.0_f64; $crate::large::SUB]; $crate::large::MAX_COEFS];
        let total: usize = $total;
        let mut offset = 0;
        while offset < total {
            let $sub = offset;
            let $len = $crate::large::SUB.min(total - offset);
            let $views = $s.views($start + offset, $len, &mut buffers);
            $body
            offset += $crate::large::SUB;
        }
    }};
}

mod coef;
mod least_squares;
mod matrix;
mod mtx;
mod quadratic;
mod runner;
mod separable;
mod team;
mod term;

/// The dual number a [`DualTerm`] closure computes with, and the trait
/// with its functions (`sin`, `exp`, `powi`, ...), re-exported from
/// `num-dual` for convenience.
pub use num_dual::{Dual2_64, DualNum};

pub use coef::Coef;
pub use least_squares::LeastSquares;
pub use matrix::{Csr, Matrix};
pub use mtx::{parse_matrix, parse_vector, read_matrix, read_vector, MatrixError};
pub use quadratic::Quadratic;
pub use runner::{run_separable, run_vector, LargeRecord, LargeRun, Update, HEAD, HISTORY_CAP};
pub use separable::{Separable, MAX_BLOCKS, PARALLEL_MIN_DIM};
pub use term::{CoefLanes, DualTerm, FormulaTerm, Term, TermLanes, MAX_COEFS};

/// Coordinates evaluated together (one AVX-512 register, two AVX2 ones).
pub const LANES: usize = 8;

/// Coordinates per sub-block whose coefficients are resolved at once.
pub(crate) const SUB: usize = 512;

/// One value per lane.
pub type Lanes = [f64; LANES];

/// The instruction set the kernels are compiled for, chosen once per
/// process from the CPU. Results are bit-identical at every level: the
/// lanes and the order of every sum are fixed, and Rust never fuses
/// `a*b + c` into one rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Simd {
    Portable,
    Avx2,
    Avx512,
}

/// The best [`Simd`] level of this CPU (`DOWNHILL_SIMD=portable|avx2`
/// caps it, for tests and comparisons).
pub(crate) fn simd() -> Simd {
    static LEVEL: std::sync::OnceLock<Simd> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        let detected = if std::arch::is_x86_feature_detected!("avx512f") {
            Simd::Avx512
        } else if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            Simd::Avx2
        } else {
            Simd::Portable
        };
        #[cfg(not(target_arch = "x86_64"))]
        let detected = Simd::Portable;
        let cap = match std::env::var("DOWNHILL_SIMD").as_deref() {
            Ok("portable") => Simd::Portable,
            Ok("avx2") => Simd::Avx2,
            _ => Simd::Avx512,
        };
        detected.min(cap)
    })
}

/// A line for one iteration of a large run: the book's `epoch k, x1: ...`
/// with every coordinate when `dim ≤ 10`, otherwise the first [`HEAD`]
/// coordinates, the dimension and `‖x‖₂`:
/// `epoch 50, x1: 0.000014, x2: 0.000014, x3: 0.000014, ... (20000000 variables), |x|: 0.0621`.
pub fn epoch_line(record: &LargeRecord, x: &[f64]) -> String {
    let names = crate::objective::default_variable_names(record.dim.min(10));
    if record.dim <= 10 {
        return crate::report::epoch_line(&names, record.iteration, x);
    }
    let mut line = crate::report::epoch_line(&names[..HEAD], record.iteration, record.head());
    line.push_str(&format!(
        ", ... ({} variables), |x|: {}",
        record.dim,
        crate::report::format_value(record.x_norm)
    ));
    line
}

/// The run's summary in the layout of [`crate::report::summary`]: every
/// coordinate when `dim ≤ 10`, otherwise the first [`HEAD`] and `‖x‖₂`.
pub fn summary(run: &LargeRun, options: &crate::driver::Options) -> String {
    use crate::driver::Status;
    use crate::report::format_value;
    let mut out = String::new();
    let outcome = match &run.status {
        Status::Converged => "converged",
        Status::IterationLimit => "iteration limit",
        Status::Stalled(_) => "stalled",
        Status::Diverged { .. } => "diverged",
        Status::MethodFailed { .. } => "method failed",
    };
    out.push_str(&format!("outcome      {outcome}: {}\n", run.status));
    out.push_str(&format!("method       {}\n", run.method));
    let label = if matches!(run.status, Status::Diverged { .. }) {
        "last finite x"
    } else {
        "final x"
    };
    let dim = run.x.len();
    let names = crate::objective::default_variable_names(dim.min(10));
    let shown = if dim <= 10 { dim } else { HEAD };
    let mut point: Vec<String> = names
        .iter()
        .zip(&run.x[..shown])
        .map(|(n, v)| format!("{n} = {}", format_value(*v)))
        .collect();
    if dim > 10 {
        let norm = run.x.iter().map(|v| v * v).sum::<f64>().sqrt();
        point.push(format!(
            "... ({dim} variables), |x| = {}",
            format_value(norm)
        ));
    }
    out.push_str(&format!("{label:<12} {}\n", point.join(", ")));
    out.push_str(&crate::report::measures(
        run.f,
        run.grad_norm,
        run.iterations,
        run.evaluations,
        options,
    ));
    out
}

// The formula term hands whole lane groups to the formula's lane evaluator.
const _: () = assert!(LANES == crate::formula::LANES);
