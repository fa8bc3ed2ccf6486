//! Runs for objectives with millions of variables: gradient descent and
//! diagonal preconditioning with no allocation per step and, for separable
//! objectives, one pass over memory per step.
//!
//! Both runners keep the generic driver's rules exactly (see
//! [`crate::driver`]): the same stopping tests in the same order, the same
//! divergence checks, and on divergence the last good iterate. What they do
//! not keep is a trace of full iterates: each iteration is summarized by a
//! [`LargeRecord`] (`f`, norms and the first [`HEAD`] coordinates).
//!
//! # One pass per step (separable objectives)
//!
//! [`run_separable`] updates `x` in place. A pass reads `xᵢ` and `cᵢ`,
//! writes `xᵢ⁺ = xᵢ − η g'(xᵢ)`, and while the values are in registers also
//! evaluates `g'` at `xᵢ⁺` and `g`, `g'` at the *next* candidate
//! `xᵢ⁺ − η g'(xᵢ⁺)`: is it finite, within the bound, with finite `f` and
//! `∇f`? The next pass is only made when that look-ahead says it will not
//! diverge, so the last good iterate is never overwritten and no second
//! vector is needed. The look-ahead computes exactly what the next pass
//! would (same code, same rounding), so its verdict is exact, and its sums
//! are the next iterate's `f`, `‖∇f‖²` and `‖x‖²`: each point is evaluated
//! once, plus `g'` once more at the start of the step. Memory: `x` plus
//! stored coefficients; traffic per step: `x` read and written once, stored
//! coefficients read once, asked for ahead of use (`PREFETCH_AHEAD`).
//!
//! # Three vectors (any objective)
//!
//! [`run_vector`] is the driver's loop for objectives whose gradient needs
//! all of `x` (quadratics, least squares): `x`, the candidate and `∇f`
//! (plus the Hessian diagonal for preconditioning), allocated once.

use super::separable::{
    add, for_blocks, for_blocks_pair, for_blocks_ref, lane_sum, load, parallel, prefetch, Acc,
    Separable, PREFETCH_AHEAD,
};
use super::term::{CoefLanes, Term, MAX_COEFS};
use super::{Lanes, LANES};
use crate::driver::{DivergenceReason, Options, RunError, Stall, Status};
use crate::method::{GradientDescent, LineSearchKind, Precond, StepFailure};
use crate::objective::{Evaluations, Objective};
use crate::scratch::{can_allocate, gigabytes};

/// How many leading coordinates a [`LargeRecord`] keeps.
pub const HEAD: usize = 3;

/// The update rule of a large run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Update {
    /// Gradient descent `x ← x − η ∇f(x)`.
    Gradient {
        /// Learning rate `η > 0`.
        eta: f64,
    },
    /// Diagonal preconditioning `xᵢ ← xᵢ − η ∂ᵢf / dᵢ` with `dᵢ = Hᵢᵢ`
    /// (signed) or `max(|Hᵢᵢ|, floor)` (absolute): [`Precond`]'s rule.
    Diagonal {
        /// Step size `η > 0`.
        eta: f64,
        /// Divide by `max(|Hᵢᵢ|, floor)` instead of `Hᵢᵢ`.
        absolute: bool,
        /// Smallest divisor of the absolute variant.
        floor: f64,
    },
}

impl Update {
    /// Gradient descent with learning rate `eta`.
    pub fn gradient(eta: f64) -> Self {
        Update::Gradient { eta }
    }

    /// Diagonal preconditioning as [`Precond::new`] makes it (floor `1e-8`).
    pub fn diagonal(eta: f64, absolute: bool) -> Self {
        Update::Diagonal {
            eta,
            absolute,
            floor: 1e-8,
        }
    }

    /// The rule of a fixed-step [`GradientDescent`]; a line search is an error.
    pub fn from_gradient_descent(method: &GradientDescent) -> Result<Self, String> {
        if method.line_search != LineSearchKind::None {
            return Err("large runs take fixed steps: drop the line search".into());
        }
        Ok(Update::gradient(method.eta))
    }

    /// The rule of a fixed-step [`Precond`]; a line search is an error.
    pub fn from_precond(method: &Precond) -> Result<Self, String> {
        if method.line_search != LineSearchKind::None {
            return Err("large runs take fixed steps: drop the line search".into());
        }
        Ok(Update::Diagonal {
            eta: method.eta,
            absolute: method.absolute,
            floor: method.floor,
        })
    }

    /// The description [`GradientDescent`] and [`Precond`] give themselves.
    pub fn describe(&self) -> String {
        use crate::method::Method;
        match *self {
            Update::Gradient { eta } => GradientDescent::new(eta).describe(),
            Update::Diagonal {
                eta,
                absolute,
                floor,
            } => Precond::new(eta, absolute).with_floor(floor).describe(),
        }
    }

    fn needs_diagonal(&self) -> bool {
        matches!(self, Update::Diagonal { .. })
    }

    fn validate(&self) -> Result<(), RunError> {
        let eta = match *self {
            Update::Gradient { eta } | Update::Diagonal { eta, .. } => eta,
        };
        if eta.is_finite() && eta > 0.0 {
            Ok(())
        } else {
            Err(RunError::InvalidOption(format!(
                "the step size eta must be a finite number > 0, got {eta}"
            )))
        }
    }

    /// `(rule, eta, floor)` with rule 0 = gradient, 1 = signed, 2 = absolute.
    fn parts(&self) -> (u8, f64, f64) {
        match *self {
            Update::Gradient { eta } => (GRADIENT, eta, 0.0),
            Update::Diagonal {
                eta,
                absolute,
                floor,
            } => (if absolute { ABSOLUTE } else { SIGNED }, eta, floor),
        }
    }
}

const GRADIENT: u8 = 0;
const SIGNED: u8 = 1;
const ABSOLUTE: u8 = 2;

/// The divisor of a preconditioned step, as [`Precond`] computes it.
#[inline(always)]
fn divisor<const RULE: u8>(h: f64, floor: f64) -> f64 {
    if RULE == ABSOLUTE {
        h.abs().max(floor)
    } else {
        h
    }
}

/// One coordinate's step, in the arithmetic order of [`GradientDescent`]
/// (`x − η g`) and [`Precond`] (`x − η g / d`), so results agree bit for bit.
#[inline(always)]
fn apply<const RULE: u8>(x: f64, g: f64, h: f64, eta: f64, floor: f64) -> f64 {
    if RULE == GRADIENT {
        x - eta * g
    } else {
        x - eta * g / divisor::<RULE>(h, floor)
    }
}

/// `acc[l] = max(acc[l], v[l])` as a select, so that it vectorizes (NaN
/// never wins: non-finite values are caught by the sums). Padding lanes
/// repeat a real lane, so they cannot change a maximum.
#[inline(always)]
fn max_lanes(acc: &mut Acc, v: &Lanes) {
    for l in 0..LANES {
        let c = acc[l];
        acc[l] = if v[l] > c { v[l] } else { c };
    }
}

#[inline(always)]
fn lane_max(acc: &Acc) -> f64 {
    acc.iter().fold(0.0_f64, |m, v| if *v > m { *v } else { m })
}

#[inline(always)]
fn map<F: Fn(usize) -> f64>(f: F) -> Lanes {
    std::array::from_fn(f)
}

/// What one pass learns: about the current point (after the pass), the
/// step that led to it, and the next candidate (the look-ahead).
///
/// A step pass does not evaluate `f` at its new point: the pass before it
/// did, as its look-ahead, with the same arithmetic. So a step pass fills
/// the step and look-ahead fields; the runner carries `f`, `‖∇f‖²`, `‖x‖²`
/// and `‖x‖∞` over from the previous pass's look-ahead.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PassStats {
    /// `f` at the current point.
    pub f: f64,
    /// `‖∇f‖²` at the current point.
    pub grad2: f64,
    /// NaN iff a gradient component at the current point is not finite
    /// (computed by the start probe only).
    pub grad_bad: f64,
    /// NaN iff a Hessian diagonal entry is not finite (preconditioning).
    pub hess_bad: f64,
    /// The number of zero divisors (preconditioning).
    pub hess_zero: f64,
    /// `‖x‖²` at the current point.
    pub x2: f64,
    /// NaN iff a coordinate of the current point is not finite (computed
    /// by the start probe only).
    pub x_bad: f64,
    /// `‖x⁺ − x‖²`, `‖x⁺ − x‖∞` and `‖x‖∞` of the step just made (the
    /// start probe: `‖x‖∞` of the start in `prev_max`).
    pub step2: f64,
    pub step_max: f64,
    pub prev_max: f64,
    /// NaN iff the next candidate has a non-finite component (vector runner).
    pub ahead_bad: f64,
    /// `‖candidate‖∞`: exact when `ahead_x2` is finite (separable passes
    /// take it as the root of the largest square).
    pub ahead_max: f64,
    /// Separable passes: `f`, `‖∇f‖²` and `‖x‖²` at the candidate. All three
    /// are finite when the candidate and `f`, `∇f` there are; one that is
    /// not (or a sum of squares that overflowed) sends the runner to
    /// [`classify`], which rescans.
    pub ahead_f: f64,
    pub ahead_grad2: f64,
    pub ahead_x2: f64,
}

impl PassStats {
    fn merge(parts: &[PassStats]) -> PassStats {
        let mut total = PassStats::default();
        for p in parts {
            total.f += p.f;
            total.grad2 += p.grad2;
            total.grad_bad += p.grad_bad;
            total.hess_bad += p.hess_bad;
            total.hess_zero += p.hess_zero;
            total.x2 += p.x2;
            total.x_bad += p.x_bad;
            total.step2 += p.step2;
            total.step_max = total.step_max.max(p.step_max);
            total.prev_max = total.prev_max.max(p.prev_max);
            total.ahead_bad += p.ahead_bad;
            total.ahead_max = total.ahead_max.max(p.ahead_max);
            total.ahead_f += p.ahead_f;
            total.ahead_grad2 += p.ahead_grad2;
            total.ahead_x2 += p.ahead_x2;
        }
        total
    }

    /// Whether the look-ahead saw only finite numbers.
    fn ahead_clean(&self) -> bool {
        self.ahead_f.is_finite() && self.ahead_grad2.is_finite() && self.ahead_x2.is_finite()
    }
}

/// One block of a separable pass. `WRITE`: step `x` in place first (else
/// only evaluate at `x`, the start probe).
///
/// Per group of [`LANES`] coordinates: up to three term evaluations into
/// lane arrays, then one loop over the lanes doing every statistic (this
/// shape vectorizes well; separate array operations per statistic measured
/// 1.5-3x slower).
///
/// A step pass stays lean: it computes only what the previous pass could
/// not, the step's norms and the look-ahead (a pass that also evaluated
/// the new point and kept a dozen statistics measured 1.3-1.4x the
/// hand-written step at d = 2·10⁷), and asks for memory ahead of use
/// (`prefetch`: without it, even the lean pass measured 1.2x). `‖·‖∞` of the candidate is the root of its
/// largest square, sharing the square with `‖x‖²` (`√(v²) = |v|` exactly
/// in binary floating point when `v²` neither overflows nor underflows;
/// an overflow makes `ahead_x2` infinite and the runner rescans, and an
/// underflow only happens below 1, under every bound).
#[inline(always)]
fn pass_block<T: Term, const WRITE: bool, const RULE: u8>(
    s: &Separable<T>,
    start: usize,
    x: &mut [f64],
    eta: f64,
    floor: f64,
) -> PassStats {
    let mut c: CoefLanes = [[0.0; LANES]; MAX_COEFS];
    let zero: Acc = [0.0; LANES];
    let (mut f, mut grad2, mut grad_bad, mut hess_bad, mut hess_zero, mut x2, mut x_bad) =
        (zero, zero, zero, zero, zero, zero, zero);
    let (mut step2, mut step_max, mut prev_max) = (zero, zero, zero);
    let (mut ahead_f, mut ahead_grad2, mut ahead_x2, mut ahead_max2) = (zero, zero, zero, zero);
    let term = s.term();
    let precond = RULE != GRADIENT;
    let (block, block_len) = (x.as_ptr(), x.len());
    let stored = s.stored_coefficients();
    with_coefficients!(s, start, x.len(), |sub, len, views| {
        let x = &mut x[sub..sub + len];
        for_groups!(len, |o, valid| {
            s.gather_views(&views, o, valid, &mut c);
            let x_old = load(x, o, valid);
            let cur = if WRITE {
                let x_new = if precond {
                    let t = term.eval(&x_old, &c);
                    map(|l| apply::<RULE>(x_old[l], t.slope[l], t.curvature[l], eta, floor))
                } else {
                    let slope = term.value_slope(&x_old, &c).1;
                    map(|l| apply::<GRADIENT>(x_old[l], slope[l], 0.0, eta, floor))
                };
                x[o..o + valid].copy_from_slice(&x_new[..valid]);
                x_new
            } else {
                x_old
            };
            // The value at `cur` is only used by the probe: a step pass
            // drops it after inlining (closure terms).
            let (value, slope, curvature) = if precond {
                let t = term.eval(&cur, &c);
                (t.value, t.slope, t.curvature)
            } else {
                let (v, g) = term.value_slope(&cur, &c);
                (v, g, [0.0; LANES])
            };
            let next = map(|l| apply::<RULE>(cur[l], slope[l], curvature[l], eta, floor));
            let (next_value, next_slope) = term.value_slope(&next, &c);
            // Padding lanes (l ≥ valid) add nothing; in full groups `valid` is
            // the constant LANES and the test folds away.
            let real = |l: usize| valid == LANES || l < valid;
            let sum = |l: usize, v: f64| if real(l) { v } else { 0.0 };
            let larger = |a: f64, b: f64| if b > a { b } else { a };
            for l in 0..LANES {
                if WRITE {
                    let d = cur[l] - x_old[l];
                    step2[l] += sum(l, d * d);
                    step_max[l] = larger(step_max[l], d.abs());
                } else {
                    prev_max[l] = larger(prev_max[l], cur[l].abs());
                    f[l] += sum(l, value[l]);
                    grad2[l] += sum(l, slope[l] * slope[l]);
                    x2[l] += sum(l, cur[l] * cur[l]);
                    grad_bad[l] += sum(l, slope[l] * 0.0);
                    x_bad[l] += sum(l, cur[l] * 0.0);
                }
                if precond {
                    let h = curvature[l];
                    hess_bad[l] += sum(l, h * 0.0);
                    let zero = if divisor::<RULE>(h, floor) == 0.0 {
                        1.0
                    } else {
                        0.0
                    };
                    hess_zero[l] += sum(l, zero);
                }
                let square = next[l] * next[l];
                ahead_max2[l] = larger(ahead_max2[l], square);
                ahead_x2[l] += sum(l, square);
                ahead_f[l] += sum(l, next_value[l]);
                ahead_grad2[l] += sum(l, next_slope[l] * next_slope[l]);
            }
            // After the group's work: a prefetch before it splits the
            // vectorized loads and stores of the group (measured).
            let ahead = sub + o + PREFETCH_AHEAD;
            prefetch(block, block_len, ahead);
            for &(values, n) in &stored[..term.coefficient_count()] {
                prefetch(values, n, start + ahead);
            }
        });
    });
    PassStats {
        f: lane_sum(&f),
        grad2: lane_sum(&grad2),
        grad_bad: lane_sum(&grad_bad),
        hess_bad: lane_sum(&hess_bad),
        hess_zero: lane_sum(&hess_zero),
        x2: lane_sum(&x2),
        x_bad: lane_sum(&x_bad),
        step2: lane_sum(&step2),
        step_max: lane_max(&step_max),
        prev_max: lane_max(&prev_max),
        ahead_bad: 0.0,
        ahead_max: lane_max(&ahead_max2).sqrt(),
        ahead_f: lane_sum(&ahead_f),
        ahead_grad2: lane_sum(&ahead_grad2),
        ahead_x2: lane_sum(&ahead_x2),
    }
}

fn pass_portable<T: Term, const WRITE: bool, const RULE: u8>(
    s: &Separable<T>,
    start: usize,
    x: &mut [f64],
    eta: f64,
    floor: f64,
) -> PassStats {
    pass_block::<T, WRITE, RULE>(s, start, x, eta, floor)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn pass_avx2<T: Term, const WRITE: bool, const RULE: u8>(
    s: &Separable<T>,
    start: usize,
    x: &mut [f64],
    eta: f64,
    floor: f64,
) -> PassStats {
    pass_block::<T, WRITE, RULE>(s, start, x, eta, floor)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pass_avx512<T: Term, const WRITE: bool, const RULE: u8>(
    s: &Separable<T>,
    start: usize,
    x: &mut [f64],
    eta: f64,
    floor: f64,
) -> PassStats {
    pass_block::<T, WRITE, RULE>(s, start, x, eta, floor)
}

fn pass_with<T: Term, const WRITE: bool, const RULE: u8>(
    s: &Separable<T>,
    x: &mut [f64],
    eta: f64,
    floor: f64,
) -> PassStats {
    let (parts, count) = for_blocks(x, parallel(x.len()), |start, block| {
        #[cfg(target_arch = "x86_64")]
        match super::simd() {
            // SAFETY: the CPU supports the instructions (checked by `simd`).
            super::Simd::Avx512 => {
                return unsafe { pass_avx512::<T, WRITE, RULE>(s, start, block, eta, floor) }
            }
            super::Simd::Avx2 => {
                return unsafe { pass_avx2::<T, WRITE, RULE>(s, start, block, eta, floor) }
            }
            super::Simd::Portable => {}
        }
        pass_portable::<T, WRITE, RULE>(s, start, block, eta, floor)
    });
    PassStats::merge(&parts[..count])
}

/// A separable pass: the start probe (`write = false`) or one step.
pub(crate) fn separable_pass<T: Term>(
    s: &Separable<T>,
    x: &mut [f64],
    update: Update,
    write: bool,
) -> PassStats {
    let (rule, eta, floor) = update.parts();
    match (write, rule) {
        (false, GRADIENT) => pass_with::<T, false, GRADIENT>(s, x, eta, floor),
        (false, SIGNED) => pass_with::<T, false, SIGNED>(s, x, eta, floor),
        (false, _) => pass_with::<T, false, ABSOLUTE>(s, x, eta, floor),
        (true, GRADIENT) => pass_with::<T, true, GRADIENT>(s, x, eta, floor),
        (true, SIGNED) => pass_with::<T, true, SIGNED>(s, x, eta, floor),
        (true, _) => pass_with::<T, true, ABSOLUTE>(s, x, eta, floor),
    }
}

/// One iteration of a large run, as printed and kept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LargeRecord {
    /// Iteration `k` (0 is the start).
    pub iteration: usize,
    /// `f(x_k)`.
    pub f: f64,
    /// `‖∇f(x_k)‖₂`.
    pub grad_norm: f64,
    /// `‖x_k − x_{k−1}‖₂` (0 at the start).
    pub step_norm: f64,
    /// `‖x_k‖₂`.
    pub x_norm: f64,
    /// The number of variables.
    pub dim: usize,
    head: [f64; HEAD],
}

impl LargeRecord {
    fn new(iteration: usize, stats: &PassStats, x: &[f64]) -> Self {
        let mut head = [0.0; HEAD];
        let shown = x.len().min(HEAD);
        head[..shown].copy_from_slice(&x[..shown]);
        LargeRecord {
            iteration,
            f: stats.f,
            grad_norm: stats.grad2.sqrt(),
            step_norm: stats.step2.sqrt(),
            x_norm: stats.x2.sqrt(),
            dim: x.len(),
            head,
        }
    }

    /// A record from values computed elsewhere (e.g. a generic-driver run
    /// of a large objective); `x` is the iterate.
    pub fn from_point(iteration: usize, f: f64, grad_norm: f64, step_norm: f64, x: &[f64]) -> Self {
        let stats = PassStats {
            f,
            grad2: grad_norm * grad_norm,
            step2: step_norm * step_norm,
            x2: scan(x).sum_sq,
            ..PassStats::default()
        };
        LargeRecord::new(iteration, &stats, x)
    }

    /// The first `min(dim, HEAD)` coordinates of `x_k`.
    pub fn head(&self) -> &[f64] {
        &self.head[..self.dim.min(HEAD)]
    }
}

/// A bounded history: at most `cap` records (thinned evenly: when full,
/// every other record goes and the stride doubles) plus the last one.
/// Its memory is reserved at the start, so pushing never allocates.
#[derive(Clone, Debug)]
struct History {
    records: Vec<LargeRecord>,
    stride: usize,
    cap: usize,
    pending: Option<LargeRecord>,
}

impl History {
    fn new(cap: usize) -> Self {
        History {
            records: Vec::with_capacity(cap + 1),
            stride: 1,
            cap,
            pending: None,
        }
    }

    fn push(&mut self, record: LargeRecord) {
        if record.iteration.is_multiple_of(self.stride) && self.records.len() == self.cap {
            let stride = 2 * self.stride;
            self.records.retain(|r| r.iteration.is_multiple_of(stride));
            self.stride = stride;
        }
        if record.iteration.is_multiple_of(self.stride) {
            self.records.push(record);
            self.pending = None;
        } else {
            self.pending = Some(record);
        }
    }

    fn finish(mut self) -> Vec<LargeRecord> {
        if let Some(p) = self.pending.take() {
            self.records.push(p);
        }
        self.records
    }
}

/// Records kept by a large run's history (thinned evenly beyond that).
pub const HISTORY_CAP: usize = 1024;

/// The outcome of a large run: [`crate::driver::RunResult`]'s fields, with
/// a [`LargeRecord`] history instead of a trace of full iterates.
#[derive(Clone, Debug)]
pub struct LargeRun {
    /// The update rule, described as the generic methods describe themselves.
    pub method: String,
    /// Why the run stopped (the driver's statuses and rules).
    pub status: Status,
    /// The last iterate (for a diverged or failed run: the last good one).
    pub x: Vec<f64>,
    /// `f(x)`.
    pub f: f64,
    /// `‖∇f(x)‖₂`.
    pub grad_norm: f64,
    /// Iterations taken.
    pub iterations: usize,
    /// Evaluations, counted as the driver counts them (one `f`, `∇f` and,
    /// for preconditioning, Hessian diagonal per iterate).
    pub evaluations: Evaluations,
    /// Iteration summaries: the start, evenly thinned iterations, the last.
    pub history: Vec<LargeRecord>,
}

impl From<crate::driver::RunResult> for LargeRun {
    /// A generic-driver run summarized as a large run (its history: the
    /// final iterate).
    fn from(result: crate::driver::RunResult) -> Self {
        let step_norm = if result.trace.is_empty() {
            0.0
        } else {
            result.trace.get(result.trace.len() - 1).step_norm
        };
        let last = LargeRecord::from_point(
            result.iterations,
            result.f,
            result.grad_norm,
            step_norm,
            &result.x,
        );
        LargeRun {
            method: result.method,
            status: result.status,
            x: result.x,
            f: result.f,
            grad_norm: result.grad_norm,
            iterations: result.iterations,
            evaluations: result.evaluations,
            history: vec![last],
        }
    }
}

impl LargeRun {
    /// The last record (the final iterate).
    pub fn last(&self) -> &LargeRecord {
        self.history.last().expect("a run records its start")
    }

    /// Machine-readable summary: the fields of [`crate::driver::RunResult::to_json`]
    /// with `x` replaced by `dim`, `x_head` and `x_norm` when `full_x` is false.
    pub fn to_json(&self, full_x: bool) -> serde_json::Value {
        use crate::trace::json_number;
        let last = self.last();
        let mut object = serde_json::json!({
            "method": self.method,
            "status": self.status.code(),
            "message": self.status.to_string(),
            "dim": self.x.len(),
            "x_head": last.head().iter().map(|v| json_number(*v)).collect::<Vec<_>>(),
            "x_norm": json_number(last.x_norm),
            "f": json_number(self.f),
            "grad_norm": json_number(self.grad_norm),
            "iterations": self.iterations,
            "evaluations": {
                "f": self.evaluations.f,
                "grad": self.evaluations.grad,
                "hess": self.evaluations.hess,
            },
        });
        if full_x {
            object["x"] = self.x.iter().map(|v| json_number(*v)).collect();
        }
        if let Some(iteration) = self.status.iteration() {
            object["stopped_at_iteration"] = serde_json::json!(iteration);
        }
        object
    }
}

fn check_dimension(x: &[f64], dim: usize) -> Result<(), RunError> {
    if x.len() == dim {
        Ok(())
    } else {
        Err(RunError::DimensionMismatch {
            expected: dim,
            given: x.len(),
        })
    }
}

/// The driver's start checks after the dimension, in its order: a finite
/// start (`start_bad` is NaN iff a coordinate is not), then the options and
/// the step size.
fn check_start(start_bad: f64, options: &Options, update: &Update) -> Result<(), RunError> {
    if start_bad.is_nan() {
        return Err(RunError::NonFiniteStart);
    }
    options.validate()?;
    update.validate()
}

/// The first failing coordinate of a preconditioned step, as [`Precond`]
/// reports it (scanning in order).
fn first_failure(diagonal: impl Iterator<Item = f64>, update: &Update) -> StepFailure {
    let (rule, _, floor) = update.parts();
    for h in diagonal {
        if !h.is_finite() {
            return StepFailure::NonFiniteHessian;
        }
        let d = if rule == ABSOLUTE {
            divisor::<ABSOLUTE>(h, floor)
        } else {
            h
        };
        if d == 0.0 {
            return StepFailure::SingularHessian;
        }
    }
    StepFailure::SingularHessian
}

fn stagnation(options: &Options, stats: &PassStats, f_old: f64) -> Option<Stall> {
    if options.x_tol > 0.0 {
        let scale = 1.0_f64.max(stats.prev_max);
        if stats.step_max <= options.x_tol * scale {
            return Some(Stall::Step);
        }
    }
    if options.f_tol > 0.0 {
        let scale = 1.0_f64.max(f_old.abs()).max(stats.f.abs());
        if (stats.f - f_old).abs() <= options.f_tol * scale {
            return Some(Stall::Value);
        }
    }
    None
}

/// Below this bound, `‖candidate‖∞` taken as the root of a square might be
/// inexact (underflow), so every pass rescans instead.
const SQUARES_EXACT_ABOVE: f64 = 1e-140;

/// Whether the step from `x` diverges and why, in the driver's order of
/// checks: a non-finite candidate, then the bound, then `f` (`f_next`, the
/// pass's sum) or `∇f` not finite there; with `‖candidate‖∞`. The rare path
/// after a pass's look-ahead saw a non-finite number: one more pass.
fn classify<T: Term>(
    s: &Separable<T>,
    x: &[f64],
    update: Update,
    bound: f64,
    f_next: f64,
) -> (Option<DivergenceReason>, f64) {
    let (rule, eta, floor) = update.parts();
    let mut largest = 0.0_f64;
    let mut slope_bad = false;
    for (i, &xi) in x.iter().enumerate() {
        // The same term calls as the pass: value_slope for gradient steps,
        // eval for preconditioned ones.
        let next = match rule {
            GRADIENT => apply::<GRADIENT>(xi, s.value_slope_at(i, xi).1, 0.0, eta, floor),
            SIGNED => {
                let (_, g, h) = s.eval_at(i, xi);
                apply::<SIGNED>(xi, g, h, eta, floor)
            }
            _ => {
                let (_, g, h) = s.eval_at(i, xi);
                apply::<ABSOLUTE>(xi, g, h, eta, floor)
            }
        };
        if !next.is_finite() {
            return (Some(DivergenceReason::NonFiniteIterate), f64::INFINITY);
        }
        largest = largest.max(next.abs());
        slope_bad |= !s.value_slope_at(i, next).1.is_finite();
    }
    let reason = if largest > bound {
        Some(DivergenceReason::OutOfBounds { largest, bound })
    } else if !f_next.is_finite() || slope_bad {
        // f may overflow although every term is finite.
        Some(DivergenceReason::NonFiniteValue)
    } else {
        // Only a sum of squares overflowed: no divergence.
        None
    };
    (reason, largest)
}

/// Runs `update` on a separable objective, in place: one pass over `x` (and
/// stored coefficients) per step, no allocation after the start. Stopping,
/// divergence and failure follow [`crate::driver::run`] exactly; `observer`
/// sees every iteration's record and iterate.
///
/// ```
/// use downhill::driver::{Options, Status};
/// use downhill::large::{run_separable, Coef, Separable, Update};
/// let f = Separable::new(100_000, [Coef::linspace(1.0, 2.0)], |x, [a]| x * x * a).unwrap();
/// let run = run_separable(&f, Update::gradient(0.1), vec![1.0; 100_000],
///                         &Options::book(50), &mut |_, _| {}).unwrap();
/// assert_eq!(run.status, Status::IterationLimit);
/// assert!((run.x[0] - 0.8f64.powi(50)).abs() < 1e-18); // x1 shrinks by 1 - 2·0.1·1
/// assert_eq!(run.history.len(), 51);
/// ```
pub fn run_separable<T: Term>(
    objective: &Separable<T>,
    update: Update,
    mut x: Vec<f64>,
    options: &Options,
    observer: &mut dyn FnMut(&LargeRecord, &[f64]),
) -> Result<LargeRun, RunError> {
    check_dimension(&x, objective.dim())?;
    let diagonal = update.needs_diagonal();
    // The probe also checks the start: one pass over x instead of three.
    let mut stats = separable_pass(objective, &mut x, update, false);
    check_start(stats.x_bad, options, &update)?;
    if !stats.f.is_finite() {
        return Err(RunError::NotFiniteAtStart {
            what: "value",
            detail: format!("f = {}", crate::trace::format_number(stats.f)),
        });
    }
    if stats.grad_bad.is_nan() {
        return Err(RunError::NotFiniteAtStart {
            what: "gradient",
            detail: "a component is nan or inf".into(),
        });
    }
    if diagonal && stats.hess_bad.is_nan() {
        return Err(RunError::NotFiniteAtStart {
            what: "Hessian",
            detail: "a diagonal entry is nan or inf".into(),
        });
    }
    let bound = options.divergence_bound_for(stats.prev_max);
    // ‖x_k‖∞ of the current iterate.
    let mut current_max = stats.prev_max;
    let mut evaluations = Evaluations {
        f: 1,
        grad: 1,
        hess: usize::from(diagonal),
    };
    let mut history = History::new(HISTORY_CAP);
    let record = LargeRecord::new(0, &stats, &x);
    history.push(record);
    observer(&record, &x);
    let converged = |s: &PassStats| options.grad_tol > 0.0 && s.grad2.sqrt() <= options.grad_tol;
    let mut iteration = 0;
    let status = loop {
        if converged(&stats) {
            break Status::Converged;
        }
        if iteration >= options.max_iterations {
            break Status::IterationLimit;
        }
        let next = iteration + 1;
        if diagonal && (stats.hess_bad.is_nan() || stats.hess_zero > 0.0) {
            let failure = first_failure(
                x.iter()
                    .enumerate()
                    .map(|(i, &v)| objective.eval_at(i, v).2),
                &update,
            );
            break Status::MethodFailed {
                iteration: next,
                reason: failure.to_string(),
            };
        }
        // The look-ahead's verdict on the candidate x_{k+1}: exact when it
        // saw only finite numbers, else a rescan tells a divergence from a
        // sum of squares that overflowed.
        if !stats.ahead_clean() || bound < SQUARES_EXACT_ABOVE {
            let (reason, largest) = classify(objective, &x, update, bound, stats.ahead_f);
            if let Some(reason) = reason {
                if reason == DivergenceReason::NonFiniteValue {
                    evaluations.f += 1;
                    evaluations.grad += 1;
                    evaluations.hess += usize::from(diagonal);
                }
                break Status::Diverged {
                    iteration: next,
                    reason,
                };
            }
            stats.ahead_max = largest;
        }
        if stats.ahead_max > bound {
            break Status::Diverged {
                iteration: next,
                reason: DivergenceReason::OutOfBounds {
                    largest: stats.ahead_max,
                    bound,
                },
            };
        }
        let before = stats;
        stats = separable_pass(objective, &mut x, update, true);
        // The new point's f, ‖∇f‖² and ‖x‖² are the look-ahead's of the
        // pass before; ‖x_k‖∞ (the step's scale) is the one before that.
        stats.f = before.ahead_f;
        stats.grad2 = before.ahead_grad2;
        stats.x2 = before.ahead_x2;
        stats.prev_max = current_max;
        current_max = before.ahead_max;
        iteration = next;
        evaluations.f += 1;
        evaluations.grad += 1;
        evaluations.hess += usize::from(diagonal);
        let record = LargeRecord::new(iteration, &stats, &x);
        history.push(record);
        observer(&record, &x);
        if !converged(&stats) {
            if let Some(stall) = stagnation(options, &stats, before.f) {
                break Status::Stalled(stall);
            }
        }
    };
    Ok(LargeRun {
        method: update.describe(),
        status,
        f: stats.f,
        grad_norm: stats.grad2.sqrt(),
        x,
        iterations: iteration,
        evaluations,
        history: history.finish(),
    })
}

/// What one read of a vector `v` tells.
#[derive(Clone, Copy, Debug, Default)]
struct Scan {
    /// `Σ v²` in block-lane order.
    sum_sq: f64,
    /// NaN iff some `v` is not finite.
    bad: f64,
    /// `‖v‖∞` (meaningful when `bad` is not NaN).
    max_abs: f64,
}

fn scan(v: &[f64]) -> Scan {
    let (parts, count) = for_blocks_ref(v, parallel(v.len()), |_, block: &[f64]| {
        let (mut sq, mut bad, mut largest) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
        for_groups!(block.len(), |o, valid| {
            let x = load(block, o, valid);
            add(&mut sq, &map(|l| x[l] * x[l]), valid);
            add(&mut bad, &map(|l| x[l] * 0.0), valid);
            max_lanes(&mut largest, &map(|l| x[l].abs()));
        });
        Scan {
            sum_sq: lane_sum(&sq),
            bad: lane_sum(&bad),
            max_abs: lane_max(&largest),
        }
    });
    parts[..count].iter().fold(Scan::default(), |t, p| Scan {
        sum_sq: t.sum_sq + p.sum_sq,
        bad: t.bad + p.bad,
        max_abs: t.max_abs.max(p.max_abs),
    })
}

/// The step of the vector runner: `y = x − η g` (or `x − η g / d`), with
/// the candidate's checks and the step's norms in the same pass.
fn vector_step(x: &[f64], grad: &[f64], diag: &[f64], y: &mut [f64], update: &Update) -> PassStats {
    let (rule, eta, floor) = update.parts();
    let work = |start: usize, x: &[f64], y: &mut [f64]| -> PassStats {
        let n = x.len();
        let g = &grad[start..start + n];
        let zero = [0.0; LANES];
        let (mut step2, mut step_max, mut prev_max) = (zero, zero, zero);
        let (mut bad, mut ymax, mut y2, mut hess_bad, mut hess_zero) =
            (zero, zero, zero, zero, zero);
        for_groups!(n, |o, valid| {
            let xo = load(x, o, valid);
            let go = load(g, o, valid);
            let h = if rule == GRADIENT {
                [0.0; LANES]
            } else {
                load(&diag[start..start + n], o, valid)
            };
            let yn = match rule {
                GRADIENT => map(|l| apply::<GRADIENT>(xo[l], go[l], h[l], eta, floor)),
                SIGNED => map(|l| apply::<SIGNED>(xo[l], go[l], h[l], eta, floor)),
                _ => map(|l| apply::<ABSOLUTE>(xo[l], go[l], h[l], eta, floor)),
            };
            y[o..o + valid].copy_from_slice(&yn[..valid]);
            let d = map(|l| yn[l] - xo[l]);
            add(&mut step2, &map(|l| d[l] * d[l]), valid);
            max_lanes(&mut step_max, &map(|l| d[l].abs()));
            max_lanes(&mut prev_max, &map(|l| xo[l].abs()));
            add(&mut bad, &map(|l| yn[l] * 0.0), valid);
            max_lanes(&mut ymax, &map(|l| yn[l].abs()));
            add(&mut y2, &map(|l| yn[l] * yn[l]), valid);
            if rule != GRADIENT {
                add(&mut hess_bad, &map(|l| h[l] * 0.0), valid);
                let zeros = map(|l| {
                    let d = if rule == ABSOLUTE {
                        divisor::<ABSOLUTE>(h[l], floor)
                    } else {
                        h[l]
                    };
                    if d == 0.0 {
                        1.0
                    } else {
                        0.0
                    }
                });
                add(&mut hess_zero, &zeros, valid);
            }
        });
        PassStats {
            step2: lane_sum(&step2),
            step_max: lane_max(&step_max),
            prev_max: lane_max(&prev_max),
            ahead_bad: lane_sum(&bad),
            ahead_max: lane_max(&ymax),
            x2: lane_sum(&y2),
            hess_bad: lane_sum(&hess_bad),
            hess_zero: lane_sum(&hess_zero),
            ..PassStats::default()
        }
    };
    let (parts, count) = for_blocks_pair(x, y, parallel(x.len()), work);
    PassStats::merge(&parts[..count])
}

/// Runs `update` on any objective with three vectors (`x`, the candidate,
/// `∇f`; plus the Hessian diagonal for preconditioning) allocated once:
/// the generic driver's loop without its per-iterate copies and trace.
/// Preconditioning needs [`Objective::hessian_diagonal`].
pub fn run_vector(
    objective: &dyn Objective,
    update: Update,
    mut x: Vec<f64>,
    options: &Options,
    observer: &mut dyn FnMut(&LargeRecord, &[f64]),
) -> Result<LargeRun, RunError> {
    let n = objective.dim();
    check_dimension(&x, n)?;
    let start = scan(&x);
    check_start(start.bad, options, &update)?;
    let diagonal = update.needs_diagonal();
    let vectors = if diagonal { 3 } else { 2 };
    if !n.checked_mul(vectors).is_some_and(can_allocate::<f64>) {
        return Err(RunError::TooLarge(format!(
            "the run needs {vectors} more vectors of {n} numbers ({}), more than can be allocated",
            gigabytes(8.0 * (vectors * n) as f64)
        )));
    }
    let mut grad = vec![0.0; n];
    let mut diag = if diagonal { vec![0.0; n] } else { Vec::new() };
    let mut y = vec![0.0; n];
    let mut f = objective.value_gradient(&x, &mut grad);
    let mut evaluations = Evaluations {
        f: 1,
        grad: 1,
        hess: usize::from(diagonal),
    };
    if diagonal && objective.hessian_diagonal(&x, &mut diag).is_none() {
        return Err(RunError::InvalidOption(
            "this objective gives no Hessian diagonal: diagonal preconditioning needs one".into(),
        ));
    }
    if !f.is_finite() {
        return Err(RunError::NotFiniteAtStart {
            what: "value",
            detail: format!("f = {}", crate::trace::format_number(f)),
        });
    }
    let Scan {
        sum_sq: mut grad2,
        bad: grad_bad,
        ..
    } = scan(&grad);
    if grad_bad.is_nan() {
        return Err(RunError::NotFiniteAtStart {
            what: "gradient",
            detail: "a component is nan or inf".into(),
        });
    }
    if diagonal && scan(&diag).bad.is_nan() {
        return Err(RunError::NotFiniteAtStart {
            what: "Hessian",
            detail: "a diagonal entry is nan or inf".into(),
        });
    }
    let bound = options.divergence_bound_for(start.max_abs);
    let mut history = History::new(HISTORY_CAP);
    let first = PassStats {
        f,
        grad2,
        x2: start.sum_sq,
        ..PassStats::default()
    };
    let record = LargeRecord::new(0, &first, &x);
    history.push(record);
    observer(&record, &x);
    let converged = |grad2: f64| options.grad_tol > 0.0 && grad2.sqrt() <= options.grad_tol;
    let mut iteration = 0;
    let status = loop {
        if converged(grad2) {
            break Status::Converged;
        }
        if iteration >= options.max_iterations {
            break Status::IterationLimit;
        }
        let next = iteration + 1;
        let mut step = vector_step(&x, &grad, &diag, &mut y, &update);
        if diagonal && (step.hess_bad.is_nan() || step.hess_zero > 0.0) {
            break Status::MethodFailed {
                iteration: next,
                reason: first_failure(diag.iter().copied(), &update).to_string(),
            };
        }
        if step.ahead_bad.is_nan() {
            break Status::Diverged {
                iteration: next,
                reason: DivergenceReason::NonFiniteIterate,
            };
        }
        if step.ahead_max > bound {
            break Status::Diverged {
                iteration: next,
                reason: DivergenceReason::OutOfBounds {
                    largest: step.ahead_max,
                    bound,
                },
            };
        }
        // ∇f(x_k) is no longer needed: the candidate's gradient goes in its place.
        let f_new = objective.value_gradient(&y, &mut grad);
        evaluations.f += 1;
        evaluations.grad += 1;
        if diagonal {
            evaluations.hess += 1;
        }
        let Scan {
            sum_sq: g2, bad, ..
        } = scan(&grad);
        if !f_new.is_finite() || bad.is_nan() {
            break Status::Diverged {
                iteration: next,
                reason: DivergenceReason::NonFiniteValue,
            };
        }
        if diagonal {
            objective.hessian_diagonal(&y, &mut diag);
        }
        std::mem::swap(&mut x, &mut y);
        let f_old = f;
        f = f_new;
        grad2 = g2;
        iteration = next;
        step.f = f;
        step.grad2 = grad2;
        let record = LargeRecord::new(iteration, &step, &x);
        history.push(record);
        observer(&record, &x);
        if !converged(grad2) {
            if let Some(stall) = stagnation(options, &step, f_old) {
                break Status::Stalled(stall);
            }
        }
    };
    Ok(LargeRun {
        method: update.describe(),
        status,
        f,
        grad_norm: grad2.sqrt(),
        x,
        iterations: iteration,
        evaluations,
        history: history.finish(),
    })
}
