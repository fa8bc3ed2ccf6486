//! The fast path of a sweep: fixed-step gradient descent (and momentum)
//! advanced over a batch of [`BLOCK`] cells in lock-step.
//!
//! The batch is a structure of arrays: coordinate `i` of all lanes is one
//! `[f64; BLOCK]`, so every lane does `x ← x − η ∇f(x)` with its own `η`
//! in the same instruction stream, and the formula is evaluated for all
//! lanes in one pass ([`Formula::value_gradient_block`]). The step loop and
//! the evaluation are both compiled for the CPU's SIMD instruction set
//! (chosen at run time); the step loop also once each for one, two and any
//! number of coordinates.
//!
//! Each lane keeps the driver's rules ([`crate::driver::run`]), tested at
//! every step: the gradient test before a step, divergence when the new
//! iterate is not finite, leaves the bound, or has a non-finite `f` or
//! `∇f`. A lane that stops has its results (its last good iterate and the
//! steps it accepted) written out at once and is then frozen in place
//! while the others go on; the batch ends when every lane has stopped. The
//! tests are vector compares and one `or` reduction per step; lanes are
//! visited one by one only in a step where some of them stop.

use crate::formula::{Formula, Simd};

use super::Outcome;

/// Cells advanced together in one batch (a block of the formula's SIMD
/// evaluation: several vectors).
pub(crate) const BLOCK: usize = Formula::BLOCK;

/// One number per lane of a batch.
pub(crate) type Lanes = [f64; BLOCK];

/// `f` and `∇f` at [`BLOCK`] points at once, in structure-of-arrays form:
/// `x[i][l]` is coordinate `i` of lane `l`, and likewise `grad`.
pub(crate) trait BlockGradient {
    /// Writes `f(x_l)` into `value[l]` and `∇f(x_l)` into `grad[·][l]` for
    /// every lane `l`; `x.len() == grad.len()` is the dimension. `FMA`:
    /// the caller is compiled with fused multiply-add; `scratch` is reused
    /// from call to call.
    fn value_gradient_block<const FMA: bool>(
        &self,
        x: &[Lanes],
        value: &mut Lanes,
        grad: &mut [Lanes],
        scratch: &mut Vec<f64>,
    );
}

/// [`Formula::value_gradient_block`]: one SIMD pass over all lanes, each
/// lane within a few ulps of [`Formula::value_gradient`] (vectorized `sin`,
/// `cos`, `exp`, `ln`), inlined into the caller.
impl BlockGradient for Formula {
    #[inline(always)]
    fn value_gradient_block<const FMA: bool>(
        &self,
        x: &[Lanes],
        value: &mut Lanes,
        grad: &mut [Lanes],
        scratch: &mut Vec<f64>,
    ) {
        Formula::value_gradient_block::<FMA>(self, x, value, grad, scratch);
    }
}

/// A formula evaluated lane by lane through [`Formula::value_gradient`]:
/// every lane bit-identical to the scalar path (and to
/// [`crate::driver::run`]), at scalar speed. [`super::SweepSpec::exact_lanes`]
/// selects it.
pub(crate) struct ScalarLanes<'a>(pub &'a Formula);

impl BlockGradient for ScalarLanes<'_> {
    fn value_gradient_block<const FMA: bool>(
        &self,
        x: &[Lanes],
        value: &mut Lanes,
        grad: &mut [Lanes],
        scratch: &mut Vec<f64>,
    ) {
        let dim = x.len();
        scratch.resize(2 * dim, 0.0);
        let (point, g) = scratch.split_at_mut(dim);
        for lane in 0..BLOCK {
            for (p, xi) in point.iter_mut().zip(x) {
                *p = xi[lane];
            }
            value[lane] = self.0.value_gradient(point, g);
            for (gi, &partial) in grad.iter_mut().zip(g.iter()) {
                gi[lane] = partial;
            }
        }
    }
}

/// The update rule of the fast path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum FastRule {
    /// `x ← x − η ∇f(x)`.
    GradientDescent,
    /// `v ← β v + ∇f(x)`, `x ← x − η v`, `v = 0` at the start.
    Momentum {
        /// `β`.
        beta: f64,
    },
}

/// What a batch hands back per lane.
pub(crate) struct LaneResults<'a> {
    pub outcome: &'a mut [Outcome],
    pub iterations: &'a mut [u32],
    /// Row-major `lanes × dim`.
    pub x: &'a mut [f64],
    pub f: &'a mut [f64],
    pub grad_norm: &'a mut [f64],
    /// Whether some accepted step did not decrease `f`.
    pub rose: &'a mut [bool],
}

/// Per-lane inputs of a batch; lanes beyond `used` repeat lane 0 and are
/// discarded.
pub(crate) struct LaneInputs<'a> {
    /// `x0[i][l]`.
    pub x0: &'a [Lanes],
    pub eta: Lanes,
    pub bound: Lanes,
    pub used: usize,
}

/// Scratch space of one batch, reused across batches of a thread.
pub(crate) struct Batch {
    x: Vec<Row>,
    grad: Vec<Row>,
    velocity: Vec<Row>,
    candidate: Vec<Row>,
    candidate_grad: Vec<Row>,
    /// `f` at `x` and at `candidate`.
    value: Vec<Row>,
    candidate_value: Vec<Row>,
    /// The lanes' `η` and divergence bound. On the heap, not in locals:
    /// LLVM would keep the invariant locals in scalar registers across the
    /// step loop and no longer vectorize the lane loops that read them.
    eta_bound: Vec<Row>,
    scratch: Vec<f64>,
}

/// One row of a batch ([`Lanes`]) aligned to a cache line: the allocator
/// aligns a `Vec<Lanes>` to 16 bytes only, and a vector load or store that
/// straddles two cache lines costs two.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Row(Lanes);

/// `rows` as plain [`Lanes`].
fn lanes_of(rows: &mut [Row]) -> &mut [Lanes] {
    // SAFETY: `Row` is `repr(C)` around `Lanes`, whose size (2 KiB) is a
    // multiple of the alignment, so a slice of rows has the layout of a
    // slice of `Lanes` of the same length.
    unsafe { std::slice::from_raw_parts_mut(rows.as_mut_ptr().cast(), rows.len()) }
}

/// Per-lane truth values: all ones for true, 0 for false (what a vector
/// compare gives, so that tests and selections stay vector operations).
type Mask = [u64; BLOCK];

/// All ones if `test`, else 0.
#[inline(always)]
fn bits(test: bool) -> u64 {
    u64::from(test).wrapping_neg()
}

/// The mask of `test` per lane.
#[inline(always)]
fn mask(test: impl Fn(usize) -> bool) -> Mask {
    let mut m = [0; BLOCK];
    for (l, b) in m.iter_mut().enumerate() {
        *b = bits(test(l));
    }
    m
}

/// Clears the lanes of `m` where `test` fails, in place.
#[inline(always)]
fn keep_if(m: &mut Mask, test: impl Fn(usize) -> bool) {
    for (l, b) in m.iter_mut().enumerate() {
        *b &= bits(test(l));
    }
}

/// `a` where `m` is set, else `b`.
#[inline(always)]
fn blend(m: u64, a: f64, b: f64) -> f64 {
    f64::from_bits((a.to_bits() & m) | (b.to_bits() & !m))
}

// The lane loops below store in place into an array passed as a parameter
// of its own (`noalias` for LLVM), so they vectorize although LLVM cannot
// tell the batch's arrays apart otherwise. They neither compute a whole
// batch into a local array and assign it (a `memcpy` call per array,
// about a tenth of the sweep's time), nor go a vector at a time in loops
// over chunks (LLVM vectorized those across chunks, with gathers).

/// `v = β v + g` per lane where `m` is set.
#[inline(always)]
fn momentum_velocity(v: &mut Lanes, g: &Lanes, beta: f64, m: &Mask) {
    for (l, v) in v.iter_mut().enumerate() {
        *v = blend(m[l], beta * *v + g[l], *v);
    }
}

/// `‖∇f‖₂` per lane, summed in coordinate order as [`crate::driver::norm`] does.
#[inline(always)]
fn norms(grad: &[Lanes]) -> Lanes {
    let mut sum = [0.0; BLOCK];
    for g in grad {
        for lane in 0..BLOCK {
            sum[lane] += g[lane] * g[lane];
        }
    }
    sum.map(f64::sqrt)
}

/// `out[l] = f(l)` for every lane, in place (see [`crate::formula`]'s
/// `vmath::lanewise`: `out` a parameter of its own, so LLVM vectorizes).
#[inline(always)]
fn lanewise(out: &mut Lanes, f: impl Fn(usize) -> f64) {
    for (l, o) in out.iter_mut().enumerate() {
        *o = f(l);
    }
}

/// Instruction-set levels of the step loop, as [`Simd`].
const PORTABLE: u8 = 0;
const AVX2: u8 = 1;
const AVX512: u8 = 2;

/// `f` and `∇f` of a batch through a function compiled for `LEVEL` (not
/// inlined: one call per step of a batch costs nothing, and the step loop,
/// compiled once per dimension class, then does not carry a copy of the
/// whole evaluator each time). `LEVEL` is [`AVX2`] or [`AVX512`] only in
/// code reached after [`Simd::detected`] found those features.
#[inline(always)]
fn value_gradient<G: BlockGradient, const LEVEL: u8>(
    objective: &G,
    x: &[Lanes],
    value: &mut Lanes,
    grad: &mut [Lanes],
    scratch: &mut Vec<f64>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if LEVEL == AVX512 {
            // SAFETY: see above.
            return unsafe { value_gradient_avx512(objective, x, value, grad, scratch) };
        }
        if LEVEL == AVX2 {
            // SAFETY: see above.
            return unsafe { value_gradient_avx2(objective, x, value, grad, scratch) };
        }
    }
    value_gradient_portable(objective, x, value, grad, scratch);
}

#[inline(never)]
fn value_gradient_portable<G: BlockGradient>(
    objective: &G,
    x: &[Lanes],
    value: &mut Lanes,
    grad: &mut [Lanes],
    scratch: &mut Vec<f64>,
) {
    objective.value_gradient_block::<false>(x, value, grad, scratch);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
#[inline(never)]
unsafe fn value_gradient_avx512<G: BlockGradient>(
    objective: &G,
    x: &[Lanes],
    value: &mut Lanes,
    grad: &mut [Lanes],
    scratch: &mut Vec<f64>,
) {
    objective.value_gradient_block::<true>(x, value, grad, scratch);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn value_gradient_avx2<G: BlockGradient>(
    objective: &G,
    x: &[Lanes],
    value: &mut Lanes,
    grad: &mut [Lanes],
    scratch: &mut Vec<f64>,
) {
    objective.value_gradient_block::<true>(x, value, grad, scratch);
}

impl Batch {
    pub fn new(dim: usize) -> Batch {
        let lanes = |rows| vec![Row([0.0; BLOCK]); rows];
        Batch {
            x: lanes(dim),
            grad: lanes(dim),
            velocity: lanes(dim),
            candidate: lanes(dim),
            candidate_grad: lanes(dim),
            value: lanes(1),
            candidate_value: lanes(1),
            eta_bound: lanes(2),
            scratch: Vec::new(),
        }
    }

    /// Runs up to `steps` iterations of `rule` on every lane, compiled for
    /// the instruction set the formula's lanes use ([`Simd::detected`]).
    pub fn run<G: BlockGradient>(
        &mut self,
        objective: &G,
        rule: FastRule,
        steps: usize,
        grad_tol: f64,
        input: &LaneInputs<'_>,
        out: LaneResults<'_>,
    ) {
        self.run_with(
            Simd::detected(),
            objective,
            rule,
            steps,
            grad_tol,
            input,
            out,
        );
    }

    /// [`run`](Self::run) compiled for at most `simd` (for tests of every
    /// path); a level the CPU lacks falls back to the best it has.
    ///
    /// A step is branch-free over the lanes: the update, the evaluation,
    /// then one pass that tests the new iterate against the bound (`|x| ≤
    /// bound` is false for NaN and ±∞ too) and for a finite `f` and `∇f`,
    /// and records a rise of `f`; the new iterate then replaces the old by
    /// swapping buffers. Lanes are handled one by one only in a step where
    /// some of them stop (see [`Batch::run_dim`]). No fused multiply-add is
    /// formed in the update, so the arithmetic of a step is the same on
    /// each instruction set (the formula's `sin`, `cos`, `exp`, `ln` may
    /// differ in the last bits).
    #[allow(clippy::too_many_arguments)]
    pub fn run_with<G: BlockGradient>(
        &mut self,
        simd: Simd,
        objective: &G,
        rule: FastRule,
        steps: usize,
        grad_tol: f64,
        input: &LaneInputs<'_>,
        out: LaneResults<'_>,
    ) {
        match simd.min(Simd::detected()) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `detected` checked that the CPU has these features.
            Simd::Avx512 => unsafe {
                self.run_avx512(objective, rule, steps, grad_tol, input, out)
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Simd::Avx2 => unsafe { self.run_avx2(objective, rule, steps, grad_tol, input, out) },
            _ => self.run_any::<G, PORTABLE>(objective, rule, steps, grad_tol, input, out),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
    unsafe fn run_avx512<G: BlockGradient>(
        &mut self,
        objective: &G,
        rule: FastRule,
        steps: usize,
        grad_tol: f64,
        input: &LaneInputs<'_>,
        out: LaneResults<'_>,
    ) {
        self.run_any::<G, AVX512>(objective, rule, steps, grad_tol, input, out);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2<G: BlockGradient>(
        &mut self,
        objective: &G,
        rule: FastRule,
        steps: usize,
        grad_tol: f64,
        input: &LaneInputs<'_>,
        out: LaneResults<'_>,
    ) {
        self.run_any::<G, AVX2>(objective, rule, steps, grad_tol, input, out);
    }

    /// The step loop at `LEVEL`, compiled separately for one, two and any
    /// number of coordinates: with the dimension a constant the loops over
    /// coordinates vanish, where LLVM would otherwise vectorize across
    /// coordinates (gathers from every coordinate's array) instead of
    /// across lanes.
    #[inline(always)]
    fn run_any<G: BlockGradient, const LEVEL: u8>(
        &mut self,
        objective: &G,
        rule: FastRule,
        steps: usize,
        grad_tol: f64,
        input: &LaneInputs<'_>,
        out: LaneResults<'_>,
    ) {
        match self.x.len() {
            1 => self.run_dim::<G, LEVEL, 1>(objective, rule, steps, grad_tol, input, out),
            2 => self.run_dim::<G, LEVEL, 2>(objective, rule, steps, grad_tol, input, out),
            _ => self.run_dim::<G, LEVEL, 0>(objective, rule, steps, grad_tol, input, out),
        }
    }

    /// The step loop for `D` coordinates (0: any number).
    ///
    /// A lane that stops has its results written out at once and is then
    /// *frozen*: `η = 0` and bound `+∞`, at a point with a finite `f` and
    /// `∇f` (its last good iterate, or another lane's where it has none), so
    /// that it goes on computing `x − 0·∇f = x` and passes every test. The
    /// steps of a batch are then the same vector code for every lane, with
    /// no per-lane masks: the update, the evaluation, and one pass that
    /// tests every lane and records a rise of `f`; only a step where a test
    /// fails visits lanes one by one.
    #[inline(always)]
    fn run_dim<G: BlockGradient, const LEVEL: u8, const D: usize>(
        &mut self,
        objective: &G,
        rule: FastRule,
        steps: usize,
        grad_tol: f64,
        input: &LaneInputs<'_>,
        mut out: LaneResults<'_>,
    ) {
        let Batch {
            x,
            grad,
            velocity,
            candidate,
            candidate_grad,
            value,
            candidate_value,
            eta_bound,
            scratch,
        } = self;
        // Views as `Lanes`; every step swaps the views of `x` and
        // `candidate` (and of their `f`, `∇f`).
        let (mut x, mut grad, velocity) = (lanes_of(x), lanes_of(grad), lanes_of(velocity));
        let (mut candidate, mut candidate_grad) = (lanes_of(candidate), lanes_of(candidate_grad));
        let (mut value, mut candidate_value) =
            (&mut lanes_of(value)[0], &mut lanes_of(candidate_value)[0]);
        let eta_bound = lanes_of(eta_bound);
        let dim = if D == 0 { x.len() } else { D };
        debug_assert_eq!(dim, x.len());
        x.copy_from_slice(input.x0);
        eta_bound[0] = input.eta;
        eta_bound[1] = input.bound;
        velocity.fill([0.0; BLOCK]);
        value_gradient::<G, LEVEL>(objective, x, value, grad, scratch);

        // The lanes still running (all ones) and those some accepted step
        // of which did not decrease f (meaningful for running lanes only).
        let mut live: Mask = [0; BLOCK];
        let mut rose: Mask = [0; BLOCK];
        let finite_at = |value: &Lanes, grad: &[Lanes], l: usize| {
            value[l].abs() < f64::INFINITY && grad.iter().all(|g| g[l].abs() < f64::INFINITY)
        };
        // Lane `$lane` stops with `$outcome` after `$accepted` steps, at
        // its current iterate.
        macro_rules! stop {
            ($lane:expr, $outcome:expr, $accepted:expr) => {
                record(
                    &mut out,
                    $lane,
                    $outcome,
                    $accepted,
                    &x[..dim],
                    value,
                    &grad[..dim],
                    &rose,
                )
            };
        }
        // A lane with a finite f and ∇f where the frozen lanes may wait
        // (none: no lane runs, and the loop below ends at once).
        let safe = (0..BLOCK).find(|&l| finite_at(value, &grad[..dim], l));
        let mut running = 0usize;
        for lane in 0..BLOCK {
            let usable = finite_at(value, &grad[..dim], lane);
            if lane < input.used && usable {
                live[lane] = u64::MAX;
                running += 1;
                continue;
            }
            if lane < input.used {
                stop!(lane, Outcome::Failed, 0);
            }
            if let (false, Some(safe)) = (usable, safe) {
                for xi in x[..dim].iter_mut() {
                    xi[lane] = xi[safe];
                }
                for g in grad[..dim].iter_mut() {
                    g[lane] = g[safe];
                }
                value[lane] = value[safe];
            }
            freeze(eta_bound, velocity, lane);
        }

        let mut k = 0usize;
        loop {
            // The gradient test, before the step (as the driver does).
            if grad_tol > 0.0 && running > 0 {
                let norms = norms(&grad[..dim]);
                for lane in 0..BLOCK {
                    if live[lane] != 0 && norms[lane] <= grad_tol {
                        stop!(lane, Outcome::Converged, k);
                        live[lane] = 0;
                        running -= 1;
                        freeze(eta_bound, velocity, lane);
                    }
                }
            }
            if running == 0 {
                break;
            }
            if k >= steps {
                for lane in (0..BLOCK).filter(|&l| live[l] != 0) {
                    stop!(lane, Outcome::Limit, k);
                }
                break;
            }

            // The step, for every lane (frozen lanes stay where they are).
            {
                let [eta, _] = &eta_bound[..] else {
                    unreachable!("two rows")
                };
                match rule {
                    FastRule::GradientDescent => {
                        for ((c, x), g) in
                            candidate[..dim].iter_mut().zip(&x[..dim]).zip(&grad[..dim])
                        {
                            lanewise(c, |l| x[l] - eta[l] * g[l]);
                        }
                    }
                    FastRule::Momentum { beta } => {
                        for (((c, x), g), v) in candidate[..dim]
                            .iter_mut()
                            .zip(&x[..dim])
                            .zip(&grad[..dim])
                            .zip(&velocity[..dim])
                        {
                            lanewise(c, |l| x[l] - eta[l] * (beta * v[l] + g[l]));
                        }
                    }
                }
            }
            value_gradient::<G, LEVEL>(
                objective,
                candidate,
                candidate_value,
                candidate_grad,
                scratch,
            );

            // Every lane's tests: the new iterate within the bound (`|c| ≤
            // bound` is false for NaN and ±∞), a finite f and ∇f (`|v| <
            // ∞` is false for NaN too); and the rise of f where they pass.
            let bound = &eta_bound[1];
            let mut failed = 0u64;
            if D == 1 {
                let (c, cg) = (&candidate[0], &candidate_grad[0]);
                for l in 0..BLOCK {
                    // Every operand loaded first: with the tests written on
                    // the arrays, `&&` made LLVM load lazily (masked loads).
                    let (cl, fl, gl, limit) = (c[l], candidate_value[l], cg[l], bound[l]);
                    let ok = cl.abs() <= limit && both_finite::<LEVEL>(fl, gl);
                    failed |= !bits(ok);
                    rose[l] |= bits(fl >= value[l]) & bits(ok);
                }
            } else {
                let mut ok = mask(|l| candidate_value[l].abs() < f64::INFINITY);
                for (c, cg) in candidate[..dim].iter().zip(&candidate_grad[..dim]) {
                    keep_if(&mut ok, |l| {
                        (c[l].abs() <= bound[l]) & (cg[l].abs() < f64::INFINITY)
                    });
                }
                for l in 0..BLOCK {
                    failed |= !ok[l];
                    rose[l] |= bits(candidate_value[l] >= value[l]) & ok[l];
                }
            }
            if failed != 0 {
                // Some lane failed a test: a running lane diverged at this
                // step (its last good iterate is its result), a frozen one
                // (rarely: x − 0·∇f = x may differ in the sign of a zero)
                // stays where it was.
                for lane in 0..BLOCK {
                    let limit = eta_bound[1][lane];
                    let within = candidate[..dim].iter().all(|c| c[lane].abs() <= limit);
                    if within && finite_at(candidate_value, &candidate_grad[..dim], lane) {
                        continue;
                    }
                    if live[lane] != 0 {
                        stop!(lane, Outcome::Diverged, k);
                        live[lane] = 0;
                        running -= 1;
                    }
                    for (c, x) in candidate[..dim].iter_mut().zip(&x[..dim]) {
                        c[lane] = x[lane];
                    }
                    for (c, g) in candidate_grad[..dim].iter_mut().zip(&grad[..dim]) {
                        c[lane] = g[lane];
                    }
                    candidate_value[lane] = value[lane];
                    freeze(eta_bound, velocity, lane);
                }
            }

            // The new iterates replace the old.
            if let FastRule::Momentum { beta } = rule {
                for (v, g) in velocity[..dim].iter_mut().zip(&grad[..dim]) {
                    momentum_velocity(v, g, beta, &live);
                }
            }
            std::mem::swap(&mut x, &mut candidate);
            std::mem::swap(&mut grad, &mut candidate_grad);
            std::mem::swap(&mut value, &mut candidate_value);
            k += 1;
        }
    }
}

/// Whether `a` and `b` are both finite: `0·a + 0·b` is `±0` then, and NaN
/// if either is infinite or NaN (three instructions for two tests, with a
/// fused multiply-add above [`PORTABLE`]).
#[inline(always)]
fn both_finite<const LEVEL: u8>(a: f64, b: f64) -> bool {
    let zero_b = if LEVEL == PORTABLE {
        b * 0.0
    } else {
        b.mul_add(0.0, a * 0.0)
    };
    if LEVEL == PORTABLE {
        a * 0.0 + zero_b == 0.0
    } else {
        zero_b == 0.0
    }
}

/// Freezes lane `lane` (see [`Batch::run_dim`]): `η = 0`, bound `+∞`, no
/// velocity.
#[inline(always)]
fn freeze(eta_bound: &mut [Lanes], velocity: &mut [Lanes], lane: usize) {
    eta_bound[0][lane] = 0.0;
    eta_bound[1][lane] = f64::INFINITY;
    for v in velocity.iter_mut() {
        v[lane] = 0.0;
    }
}

/// Writes the results of lane `lane`, which stopped with `outcome` after
/// `accepted` steps at `x` (its `f` in `value`, `∇f` in `grad`, both of
/// the dimension's length), into `out` when it is one of the cells of the
/// batch.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn record(
    out: &mut LaneResults<'_>,
    lane: usize,
    outcome: Outcome,
    accepted: usize,
    x: &[Lanes],
    value: &Lanes,
    grad: &[Lanes],
    rose: &Mask,
) {
    if lane >= out.outcome.len() {
        return;
    }
    let dim = x.len();
    out.outcome[lane] = outcome;
    out.iterations[lane] = accepted as u32;
    out.f[lane] = value[lane];
    // `‖∇f‖₂` summed in coordinate order, as `norms` does.
    let mut sum = 0.0;
    for g in grad {
        sum += g[lane] * g[lane];
    }
    out.grad_norm[lane] = sum.sqrt();
    out.rose[lane] = rose[lane] != 0;
    for (o, xi) in out.x[lane * dim..(lane + 1) * dim].iter_mut().zip(x) {
        *o = xi[lane];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch's per-lane results.
    #[derive(Debug, PartialEq)]
    struct Results {
        outcome: Vec<Outcome>,
        iterations: Vec<u32>,
        x: Vec<u64>,
        f: Vec<u64>,
        grad_norm: Vec<u64>,
        rose: Vec<bool>,
    }

    fn run<G: BlockGradient>(
        simd: Simd,
        objective: &G,
        rule: FastRule,
        input: &LaneInputs<'_>,
    ) -> Results {
        let (n, dim) = (input.used, input.x0.len());
        let mut outcome = vec![Outcome::Failed; n];
        let mut iterations = vec![0; n];
        let mut x = vec![0.0; n * dim];
        let (mut f, mut grad_norm, mut rose) = (vec![0.0; n], vec![0.0; n], vec![false; n]);
        let out = LaneResults {
            outcome: &mut outcome,
            iterations: &mut iterations,
            x: &mut x,
            f: &mut f,
            grad_norm: &mut grad_norm,
            rose: &mut rose,
        };
        Batch::new(dim).run_with(simd, objective, rule, 300, 1e-6, input, out);
        let bits = |v: Vec<f64>| v.into_iter().map(f64::to_bits).collect();
        Results {
            outcome,
            iterations,
            x: bits(x),
            f: bits(f),
            grad_norm: bits(grad_norm),
            rose,
        }
    }

    /// On formulas of `+ − × ÷` (where the SIMD evaluation is exact),
    /// every instruction set gives exactly the scalar evaluator's runs, lane
    /// by lane, also in partial batches, with lanes converging, reaching the
    /// limit, diverging (by the bound and by a non-finite `f`) and failing
    /// at the start, for gradient descent and momentum; in one, two and
    /// three dimensions (the step loop is compiled separately for one, two
    /// and any number of coordinates).
    #[test]
    fn every_level_runs_the_scalar_lanes_exactly() {
        let first: Lanes = std::array::from_fn(|l| {
            if l % 19 == 5 {
                0.0
            } else {
                -3.0 + 0.07 * l as f64
            }
        });
        let second: Lanes = std::array::from_fn(|l| 1.0 + 0.01 * l as f64);
        let third: Lanes = std::array::from_fn(|l| -0.5 + 0.013 * l as f64);
        let cases = [
            ("x^2 + 1/x", vec!["x"]),
            ("x^2 + 3*y^2 + x*y/4 + 1/x", vec!["x", "y"]),
            (
                "x^2 + 3*y^2 + z^2/2 + x*y/4 - y*z/8 + 1/x",
                vec!["x", "y", "z"],
            ),
        ];
        for (source, variables) in cases {
            let formula = Formula::parse_with_vars(source, &variables).unwrap();
            let x0 = [first, second, third][..variables.len()].to_vec();
            check_every_level(&formula, &x0);
        }
    }

    fn check_every_level(formula: &Formula, x0: &[Lanes]) {
        let eta = std::array::from_fn(|l| 0.002 + 0.0027 * l as f64);
        let mut seen = std::collections::BTreeSet::new();
        for used in [1, 77, BLOCK] {
            let input = LaneInputs {
                x0,
                eta,
                bound: [1e3; BLOCK],
                used,
            };
            for rule in [FastRule::GradientDescent, FastRule::Momentum { beta: 0.5 }] {
                // The lanes run the interpreter's arithmetic (structural
                // zeros included, as `0 * inf` at x = 0 shows).
                let interpreted = formula.clone().with_native(false);
                let exact = run(Simd::Portable, &ScalarLanes(&interpreted), rule, &input);
                seen.extend(exact.outcome.iter().copied());
                for simd in [Simd::Portable, Simd::Avx2, Simd::Avx512] {
                    let lanes = run(simd, formula, rule, &input);
                    assert_eq!(
                        lanes,
                        exact,
                        "{}: {simd:?}, {rule:?}, {used} lanes",
                        formula.source()
                    );
                }
            }
        }
        for outcome in [
            Outcome::Converged,
            Outcome::Limit,
            Outcome::Diverged,
            Outcome::Failed,
        ] {
            assert!(
                seen.contains(&outcome),
                "{}: no lane {outcome:?}",
                formula.source()
            );
        }
    }
}
