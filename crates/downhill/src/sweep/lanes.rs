//! The fast path of a sweep: fixed-step gradient descent (and momentum)
//! advanced over a batch of [`BLOCK`] cells in lock-step.
//!
//! The batch is a structure of arrays: coordinate `i` of all lanes is one
//! `[f64; BLOCK]`, so every lane does `x ← x − η ∇f(x)` with its own `η`
//! in the same instruction stream, and the formula is evaluated for all
//! lanes in one pass ([`Formula::value_gradient_block`]), inlined into the
//! step loop and compiled for the CPU's SIMD instruction set.
//!
//! Each lane keeps the driver's rules ([`crate::driver::run`]), tested at
//! every step: the gradient test before a step, divergence when the new
//! iterate is not finite, leaves the bound, or has a non-finite `f` or
//! `∇f`; a lane that stops keeps its last good iterate and the step count
//! at which it stopped while the others go on, and the batch ends when
//! every lane has stopped. The tests are vector compares and one `or`
//! reduction per step; lanes are visited one by one only in a step where
//! some of them stop.

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
    x: Vec<Lanes>,
    grad: Vec<Lanes>,
    velocity: Vec<Lanes>,
    candidate: Vec<Lanes>,
    candidate_grad: Vec<Lanes>,
    /// The lanes' `η` and divergence bound. On the heap, not in locals:
    /// LLVM would keep the invariant locals in scalar registers across the
    /// step loop and no longer vectorize the lane loops that read them.
    eta_bound: Vec<Lanes>,
    scratch: Vec<f64>,
}

/// Per-lane truth values: all ones for true, 0 for false (what a vector
/// compare gives, so that tests and selections stay vector operations).
type Mask = [u64; BLOCK];

/// The mask of `test` per lane.
#[inline(always)]
fn mask(test: impl Fn(usize) -> bool) -> Mask {
    let mut m = [0; BLOCK];
    for (l, bits) in m.iter_mut().enumerate() {
        *bits = u64::from(test(l)).wrapping_neg();
    }
    m
}

/// Whether some lane of `m` is set.
#[inline(always)]
fn any(m: &Mask) -> bool {
    m.iter().fold(0, |acc, &bits| acc | bits) != 0
}

/// Whether every lane of `m` is set.
#[inline(always)]
fn all(m: &Mask) -> bool {
    m.iter().fold(u64::MAX, |acc, &bits| acc & bits) == u64::MAX
}

/// Clears the lanes of `m` where `test` fails, in place (masks are 1 KiB:
/// no copies in the step loop).
#[inline(always)]
fn keep_if(m: &mut Mask, test: impl Fn(usize) -> bool) {
    for (l, bits) in m.iter_mut().enumerate() {
        *bits &= u64::from(test(l)).wrapping_neg();
    }
}

/// Whether some lane is set in `a` but not in `b`.
#[inline(always)]
fn any_lost(a: &Mask, b: &Mask) -> bool {
    (0..BLOCK).fold(0, |acc, l| acc | (a[l] & !b[l])) != 0
}

/// `into[l] = from[l]` where `m[l]` is set (a bitwise blend).
#[inline(always)]
fn select_into(into: &mut Lanes, from: &Lanes, m: &Mask) {
    let old = *into;
    lanewise(into, |l| blend(m[l], from[l], old[l]));
}

// The lane loops below compute into a local array and store it whole: LLVM
// does not know that the batch's vectors do not overlap, and would not
// vectorize a loop that stores lane by lane.

/// `out = [f(0), f(1), …]`.
#[inline(always)]
fn lanewise(out: &mut Lanes, f: impl Fn(usize) -> f64) {
    let mut result = [0.0; BLOCK];
    for (l, r) in result.iter_mut().enumerate() {
        *r = f(l);
    }
    *out = result;
}

/// `a` where `m` is set, else `b`.
#[inline(always)]
fn blend(m: u64, a: f64, b: f64) -> f64 {
    f64::from_bits((a.to_bits() & m) | (b.to_bits() & !m))
}

/// `c = x − η g` per lane.
#[inline(always)]
fn gd_step(c: &mut Lanes, x: &Lanes, g: &Lanes, eta: &Lanes) {
    lanewise(c, |l| x[l] - eta[l] * g[l]);
}

/// `c = x − η (β v + g)` per lane.
#[inline(always)]
fn momentum_step(c: &mut Lanes, x: &Lanes, g: &Lanes, v: &Lanes, eta: &Lanes, beta: f64) {
    lanewise(c, |l| x[l] - eta[l] * (beta * v[l] + g[l]));
}

/// `v = β v + g` per lane where `m` is set.
#[inline(always)]
fn momentum_velocity(v: &mut Lanes, g: &Lanes, beta: f64, m: &Mask) {
    let old = *v;
    lanewise(v, |l| blend(m[l], beta * old[l] + g[l], old[l]));
}

/// `c` where `m` is set, else `x`, into `c`.
#[inline(always)]
fn keep_where(c: &mut Lanes, x: &Lanes, m: &Mask) {
    let new = *c;
    lanewise(c, |l| blend(m[l], new[l], x[l]));
}

/// Clears the lanes of `ok` where `f` or some component of `∇f` are finite (`|v| < ∞`
/// is false for NaN too).
#[inline(always)]
fn keep_finite(ok: &mut Mask, value: &Lanes, grad: &[Lanes]) {
    keep_if(ok, |l| value[l].abs() < f64::INFINITY);
    for g in grad {
        keep_if(ok, |l| g[l].abs() < f64::INFINITY);
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

impl Batch {
    pub fn new(dim: usize) -> Batch {
        let lanes = || vec![[0.0; BLOCK]; dim];
        Batch {
            x: lanes(),
            grad: lanes(),
            velocity: lanes(),
            candidate: lanes(),
            candidate_grad: lanes(),
            eta_bound: vec![[0.0; BLOCK]; 2],
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
    /// A step is branch-free over the lanes: the update, one vector test of
    /// all lanes for divergence (`|x| ≤ bound` is false for NaN and ±∞ too)
    /// and for a finite `f` and `∇f`, then the new iterate blended in where
    /// the lane goes on. Lanes are handled one by one only in the step
    /// where some of them stop. No fused multiply-add is formed in the
    /// update, so the arithmetic of a step is the same on each instruction
    /// set (the formula's `sin`, `cos`, `exp`, `ln` may differ in the last
    /// bits).
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
            _ => self.run_any::<G, false>(objective, rule, steps, grad_tol, input, out),
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
        self.run_any::<G, true>(objective, rule, steps, grad_tol, input, out);
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
        self.run_any::<G, true>(objective, rule, steps, grad_tol, input, out);
    }

    #[inline(always)]
    fn run_any<G: BlockGradient, const FMA: bool>(
        &mut self,
        objective: &G,
        rule: FastRule,
        steps: usize,
        grad_tol: f64,
        input: &LaneInputs<'_>,
        out: LaneResults<'_>,
    ) {
        let dim = self.x.len();
        let mut value = [0.0; BLOCK];
        let mut candidate_value = [0.0; BLOCK];
        self.x.copy_from_slice(input.x0);
        self.eta_bound[0] = input.eta;
        self.eta_bound[1] = input.bound;
        self.velocity.fill([0.0; BLOCK]);
        objective.value_gradient_block::<FMA>(
            &self.x,
            &mut value,
            &mut self.grad,
            &mut self.scratch,
        );

        // The lanes still running, and those some step of which did not
        // decrease f. Once a lane stops: its outcome and the steps it
        // accepted. Lanes past `used` are stopped from the start.
        let mut live = mask(|l| l < input.used);
        keep_finite(&mut live, &value, &self.grad);
        let mut rose: Mask = [0; BLOCK];
        let mut outcome = [Outcome::Limit; BLOCK];
        let mut accepted = [0u32; BLOCK];
        for (lane, o) in outcome.iter_mut().enumerate().take(input.used) {
            if live[lane] == 0 {
                *o = Outcome::Failed;
            }
        }
        // Records the lanes of `stopped` as stopped with `how` after `k` steps.
        let mut stop = |stopped: &Mask, how: Outcome, k: usize| {
            for lane in 0..BLOCK {
                if stopped[lane] != 0 {
                    outcome[lane] = how;
                    accepted[lane] = k as u32;
                }
            }
        };

        let mut k = 0usize;
        loop {
            // The gradient test, before the step (as the driver does).
            if grad_tol > 0.0 {
                let norms = norms(&self.grad);
                let mut converged = live;
                keep_if(&mut converged, |l| norms[l] <= grad_tol);
                if any(&converged) {
                    stop(&converged, Outcome::Converged, k);
                    keep_if(&mut live, |l| converged[l] == 0);
                }
            }
            if !any(&live) {
                break;
            }
            if k >= steps {
                stop(&live, Outcome::Limit, k);
                break;
            }

            // The step, for every lane.
            let [eta, bound] = &self.eta_bound[..] else {
                unreachable!("two rows")
            };
            match rule {
                FastRule::GradientDescent => {
                    for ((c, x), g) in self.candidate.iter_mut().zip(&self.x).zip(&self.grad) {
                        gd_step(c, x, g, eta);
                    }
                }
                FastRule::Momentum { beta } => {
                    for (((c, x), g), v) in self
                        .candidate
                        .iter_mut()
                        .zip(&self.x)
                        .zip(&self.grad)
                        .zip(&self.velocity)
                    {
                        momentum_step(c, x, g, v, eta, beta);
                    }
                }
            }
            // Running lanes whose new iterate is finite and within the bound.
            let mut inside = live;
            for c in &self.candidate {
                keep_if(&mut inside, |l| c[l].abs() <= bound[l]);
            }
            // The others evaluate their last good iterate (discarded).
            for (c, x) in self.candidate.iter_mut().zip(&self.x) {
                keep_where(c, x, &inside);
            }
            objective.value_gradient_block::<FMA>(
                &self.candidate,
                &mut candidate_value,
                &mut self.candidate_grad,
                &mut self.scratch,
            );
            let mut accept = inside;
            keep_finite(&mut accept, &candidate_value, &self.candidate_grad);
            if any_lost(&live, &accept) {
                let diverged = mask(|l| live[l] & !accept[l] != 0);
                stop(&diverged, Outcome::Diverged, k);
            }
            live = accept;

            // Commit the lanes that go on: the whole batch as a rule.
            for l in 0..BLOCK {
                let up = u64::from(candidate_value[l] >= value[l]).wrapping_neg();
                rose[l] |= up & accept[l];
            }
            if all(&accept) {
                if let FastRule::Momentum { beta } = rule {
                    for (v, g) in self.velocity.iter_mut().zip(&self.grad) {
                        momentum_velocity(v, g, beta, &accept);
                    }
                }
                std::mem::swap(&mut self.x, &mut self.candidate);
                std::mem::swap(&mut self.grad, &mut self.candidate_grad);
                value = candidate_value;
            } else {
                if let FastRule::Momentum { beta } = rule {
                    for (v, g) in self.velocity.iter_mut().zip(&self.grad) {
                        momentum_velocity(v, g, beta, &accept);
                    }
                }
                for (x, c) in self.x.iter_mut().zip(&self.candidate) {
                    select_into(x, c, &accept);
                }
                for (g, c) in self.grad.iter_mut().zip(&self.candidate_grad) {
                    select_into(g, c, &accept);
                }
                select_into(&mut value, &candidate_value, &accept);
            }
            k += 1;
        }

        let norms = norms(&self.grad);
        for lane in 0..input.used {
            out.outcome[lane] = outcome[lane];
            out.iterations[lane] = accepted[lane];
            out.f[lane] = value[lane];
            out.grad_norm[lane] = norms[lane];
            out.rose[lane] = rose[lane] != 0;
            for i in 0..dim {
                out.x[lane * dim + i] = self.x[i][lane];
            }
        }
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

    /// On a formula of `+ − × ÷` (where the SIMD evaluation is exact),
    /// every instruction set gives exactly the scalar evaluator's runs, lane
    /// by lane, also in partial batches, with lanes converging, reaching the
    /// limit, diverging (by the bound and by a non-finite `f`) and failing
    /// at the start, for gradient descent and momentum.
    #[test]
    fn every_level_runs_the_scalar_lanes_exactly() {
        let formula = Formula::parse("x^2 + 3*y^2 + x*y/4 + 1/x").unwrap();
        let x0 = vec![
            std::array::from_fn(|l| {
                if l % 19 == 5 {
                    0.0
                } else {
                    -3.0 + 0.07 * l as f64
                }
            }),
            std::array::from_fn(|l| 1.0 + 0.01 * l as f64),
        ];
        let eta = std::array::from_fn(|l| 0.002 + 0.0027 * l as f64);
        let mut seen = std::collections::BTreeSet::new();
        for used in [1, 77, BLOCK] {
            let input = LaneInputs {
                x0: &x0,
                eta,
                bound: [1e3; BLOCK],
                used,
            };
            for rule in [FastRule::GradientDescent, FastRule::Momentum { beta: 0.5 }] {
                let exact = run(Simd::Portable, &ScalarLanes(&formula), rule, &input);
                seen.extend(exact.outcome.iter().copied());
                for simd in [Simd::Portable, Simd::Avx2, Simd::Avx512] {
                    let lanes = run(simd, &formula, rule, &input);
                    assert_eq!(lanes, exact, "{simd:?}, {rule:?}, {used} lanes");
                }
            }
        }
        for outcome in [
            Outcome::Converged,
            Outcome::Limit,
            Outcome::Diverged,
            Outcome::Failed,
        ] {
            assert!(seen.contains(&outcome), "no lane {outcome:?}");
        }
    }
}
