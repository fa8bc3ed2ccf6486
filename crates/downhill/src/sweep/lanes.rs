//! The fast path of a sweep: fixed-step gradient descent (and momentum)
//! advanced over a batch of [`LANES`] cells in lock-step.
//!
//! The batch is a structure of arrays: coordinate `i` of all lanes is one
//! `[f64; LANES]`, so every lane does `x ← x − η ∇f(x)` with its own `η`
//! in the same instruction stream. Each lane keeps the driver's rules
//! ([`crate::driver::run`]): the gradient test before a step, divergence
//! when the new iterate is not finite, leaves the bound, or has a
//! non-finite `f` or `∇f`; a lane that stops keeps its last good iterate
//! while the others go on, and the batch ends when every lane has stopped.

use crate::formula::{Formula, Simd};

use super::Outcome;

/// Cells advanced together in one batch (the formula's SIMD width).
pub use crate::formula::LANES;

/// `f` and `∇f` at [`LANES`] points at once, in structure-of-arrays form:
/// `x[i][l]` is coordinate `i` of lane `l`, and likewise `grad`.
pub trait LaneGradient {
    /// Writes `f(x_l)` into `value[l]` and `∇f(x_l)` into `grad[·][l]` for
    /// every lane `l`; `x.len() == grad.len()` is the dimension.
    fn value_gradient_lanes(
        &self,
        x: &[[f64; LANES]],
        value: &mut [f64; LANES],
        grad: &mut [[f64; LANES]],
    );
}

/// [`Formula::value_gradient_lanes`]: one SIMD pass over all lanes, each
/// lane within a few ulps of [`Formula::value_gradient`] (vectorized `sin`,
/// `cos`, `exp`, `ln`).
impl LaneGradient for Formula {
    fn value_gradient_lanes(
        &self,
        x: &[[f64; LANES]],
        value: &mut [f64; LANES],
        grad: &mut [[f64; LANES]],
    ) {
        Formula::value_gradient_lanes(self, x, value, grad);
    }
}

/// A formula evaluated lane by lane through [`Formula::value_gradient`]:
/// every lane bit-identical to the scalar path (and to
/// [`crate::driver::run`]), at scalar speed. [`super::SweepSpec::exact_lanes`]
/// selects it.
pub struct ScalarLanes<'a>(pub &'a Formula);

impl LaneGradient for ScalarLanes<'_> {
    fn value_gradient_lanes(
        &self,
        x: &[[f64; LANES]],
        value: &mut [f64; LANES],
        grad: &mut [[f64; LANES]],
    ) {
        let dim = x.len();
        let mut point = [0.0; 4];
        let mut g = [0.0; 4];
        if dim <= 4 {
            for lane in 0..LANES {
                for i in 0..dim {
                    point[i] = x[i][lane];
                }
                value[lane] = self.0.value_gradient(&point[..dim], &mut g[..dim]);
                for i in 0..dim {
                    grad[i][lane] = g[i];
                }
            }
        } else {
            let mut point = vec![0.0; dim];
            let mut g = vec![0.0; dim];
            for lane in 0..LANES {
                for i in 0..dim {
                    point[i] = x[i][lane];
                }
                value[lane] = self.0.value_gradient(&point, &mut g);
                for i in 0..dim {
                    grad[i][lane] = g[i];
                }
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
    pub x0: &'a [[f64; LANES]],
    pub eta: [f64; LANES],
    pub bound: [f64; LANES],
    pub used: usize,
}

/// Scratch space of one batch, reused across batches of a thread.
pub(crate) struct Batch {
    x: Vec<[f64; LANES]>,
    grad: Vec<[f64; LANES]>,
    velocity: Vec<[f64; LANES]>,
    candidate: Vec<[f64; LANES]>,
    candidate_grad: Vec<[f64; LANES]>,
}

impl Batch {
    pub fn new(dim: usize) -> Batch {
        Batch {
            x: vec![[0.0; LANES]; dim],
            grad: vec![[0.0; LANES]; dim],
            velocity: vec![[0.0; LANES]; dim],
            candidate: vec![[0.0; LANES]; dim],
            candidate_grad: vec![[0.0; LANES]; dim],
        }
    }

    /// Runs up to `steps` iterations of `rule` on every lane.
    ///
    /// While every lane runs, a step is branch-free over the lanes: the
    /// update, one vectorizable test of all lanes for divergence (`|x| ≤
    /// bound` is false for NaN and ±∞ too) and for a finite `f` and `∇f`,
    /// then the new iterate is swapped in. Lanes are handled one by one
    /// only in the step where one of them stops, and after that.
    ///
    /// The bookkeeping is compiled for the instruction set the formula's
    /// lanes use ([`Simd::detected`]): AVX-512 or AVX2 where the CPU has
    /// them, else the build's baseline. (No fused multiply-add is formed:
    /// the arithmetic, and so every result, is the same on each.)
    pub fn run<G: LaneGradient + ?Sized>(
        &mut self,
        objective: &G,
        rule: FastRule,
        steps: usize,
        grad_tol: f64,
        input: &LaneInputs<'_>,
        out: LaneResults<'_>,
    ) {
        #[cfg(target_arch = "x86_64")]
        match Simd::detected() {
            // SAFETY: `detected` checked that the CPU has these features.
            Simd::Avx512 => unsafe {
                return self.run_avx512(objective, rule, steps, grad_tol, input, out);
            },
            // SAFETY: as above.
            Simd::Avx2 => unsafe {
                return self.run_avx2(objective, rule, steps, grad_tol, input, out);
            },
            Simd::Portable => {}
        }
        self.run_any(objective, rule, steps, grad_tol, input, out);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
    unsafe fn run_avx512<G: LaneGradient + ?Sized>(
        &mut self,
        objective: &G,
        rule: FastRule,
        steps: usize,
        grad_tol: f64,
        input: &LaneInputs<'_>,
        out: LaneResults<'_>,
    ) {
        self.run_any(objective, rule, steps, grad_tol, input, out);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2<G: LaneGradient + ?Sized>(
        &mut self,
        objective: &G,
        rule: FastRule,
        steps: usize,
        grad_tol: f64,
        input: &LaneInputs<'_>,
        out: LaneResults<'_>,
    ) {
        self.run_any(objective, rule, steps, grad_tol, input, out);
    }

    #[inline(always)]
    fn run_any<G: LaneGradient + ?Sized>(
        &mut self,
        objective: &G,
        rule: FastRule,
        steps: usize,
        grad_tol: f64,
        input: &LaneInputs<'_>,
        out: LaneResults<'_>,
    ) {
        let dim = self.x.len();
        let mut value = [0.0; LANES];
        let mut candidate_value = [0.0; LANES];
        self.x.copy_from_slice(input.x0);
        for v in &mut self.velocity {
            *v = [0.0; LANES];
        }
        objective.value_gradient_lanes(&self.x, &mut value, &mut self.grad);

        // Lane sets are bit masks (bit `l` for lane `l`): the lanes still
        // running, and those some step of which did not decrease f. Once a
        // lane stops: its outcome and the steps it accepted. Lanes past
        // `used` are stopped from the start.
        let used = if input.used >= LANES {
            ALL
        } else {
            (1 << input.used) - 1
        };
        let mut running = finite_lanes(&value, &self.grad) & used;
        let mut rose: Mask = 0;
        let mut outcome = [Outcome::Limit; LANES];
        let mut accepted = [0u32; LANES];
        for (lane, o) in outcome.iter_mut().enumerate() {
            if used & !running & (1 << lane) != 0 {
                *o = Outcome::Failed;
            }
        }
        // Marks the lanes of `stopped` that are running as stopped with `how`.
        let mut stop = |running: &mut Mask, stopped: Mask, how: Outcome, k: usize| {
            let newly = *running & stopped;
            for lane in 0..LANES {
                if newly & (1 << lane) != 0 {
                    outcome[lane] = how;
                    accepted[lane] = k as u32;
                }
            }
            *running &= !newly;
        };
        let momentum = match rule {
            FastRule::GradientDescent => None,
            FastRule::Momentum { beta } => Some(beta),
        };

        let mut k = 0usize;
        loop {
            // The gradient test, before the step (as the driver does).
            if grad_tol > 0.0 {
                let norms = norms(&self.grad);
                stop(
                    &mut running,
                    mask(|l| norms[l] <= grad_tol),
                    Outcome::Converged,
                    k,
                );
            }
            if running == 0 {
                break;
            }
            if k >= steps {
                stop(&mut running, ALL, Outcome::Limit, k);
                break;
            }

            // The step, for every lane.
            match momentum {
                None => {
                    for ((c, x), g) in self.candidate.iter_mut().zip(&self.x).zip(&self.grad) {
                        for lane in 0..LANES {
                            c[lane] = x[lane] - input.eta[lane] * g[lane];
                        }
                    }
                }
                Some(beta) => {
                    for (((c, x), g), v) in self
                        .candidate
                        .iter_mut()
                        .zip(&self.x)
                        .zip(&self.grad)
                        .zip(&self.velocity)
                    {
                        for lane in 0..LANES {
                            c[lane] = x[lane] - input.eta[lane] * (beta * v[lane] + g[lane]);
                        }
                    }
                }
            }
            // Divergence of the iterate: not finite or beyond the bound.
            let mut inside = ALL;
            for c in &self.candidate {
                inside &= mask(|l| c[l].abs() <= input.bound[l]);
            }
            let before = running;
            if inside != ALL {
                stop(&mut running, !inside, Outcome::Diverged, k);
            }
            if running != ALL {
                // Stopped lanes evaluate their last good iterate (discarded).
                for (c, x) in self.candidate.iter_mut().zip(&self.x) {
                    for lane in 0..LANES {
                        if running & (1 << lane) == 0 {
                            c[lane] = x[lane];
                        }
                    }
                }
            }
            objective.value_gradient_lanes(
                &self.candidate,
                &mut candidate_value,
                &mut self.candidate_grad,
            );
            let ok = finite_lanes(&candidate_value, &self.candidate_grad);
            if ok != ALL {
                stop(&mut running, !ok, Outcome::Diverged, k);
            }
            let up = mask(|l| candidate_value[l] >= value[l]);

            // Commit: swap the whole batch in, or lane by lane.
            if before == ALL && running == ALL {
                if let Some(beta) = momentum {
                    for (v, g) in self.velocity.iter_mut().zip(&self.grad) {
                        for lane in 0..LANES {
                            v[lane] = beta * v[lane] + g[lane];
                        }
                    }
                }
                std::mem::swap(&mut self.x, &mut self.candidate);
                std::mem::swap(&mut self.grad, &mut self.candidate_grad);
                rose |= up;
                value = candidate_value;
            } else {
                let keep = |lane: usize| running & (1 << lane) != 0;
                if let Some(beta) = momentum {
                    for (v, g) in self.velocity.iter_mut().zip(&self.grad) {
                        for lane in 0..LANES {
                            if keep(lane) {
                                v[lane] = beta * v[lane] + g[lane];
                            }
                        }
                    }
                }
                let pairs = self.x.iter_mut().zip(&mut self.grad);
                for ((x, g), (c, cg)) in pairs.zip(self.candidate.iter().zip(&self.candidate_grad))
                {
                    for lane in 0..LANES {
                        if keep(lane) {
                            x[lane] = c[lane];
                            g[lane] = cg[lane];
                        }
                    }
                }
                for lane in 0..LANES {
                    if keep(lane) {
                        value[lane] = candidate_value[lane];
                    }
                }
                rose |= up & running;
            }
            k += 1;
        }

        let norms = norms(&self.grad);
        for lane in 0..input.used {
            out.outcome[lane] = outcome[lane];
            out.iterations[lane] = accepted[lane];
            out.f[lane] = value[lane];
            out.grad_norm[lane] = norms[lane];
            out.rose[lane] = rose & (1 << lane) != 0;
            for i in 0..dim {
                out.x[lane * dim + i] = self.x[i][lane];
            }
        }
    }
}

/// A set of lanes: bit `l` for lane `l`.
type Mask = u32;
const _: () = assert!(LANES <= 32, "lane masks are u32");
/// Every lane.
const ALL: Mask = if LANES == 32 {
    u32::MAX
} else {
    (1 << LANES) - 1
};

/// The lanes where `test` holds (a vector compare and a mask move).
#[inline(always)]
fn mask(test: impl Fn(usize) -> bool) -> Mask {
    let mut m = 0;
    for lane in 0..LANES {
        m |= Mask::from(test(lane)) << lane;
    }
    m
}

/// The lanes where `f` and every component of `∇f` are finite (`|v| < ∞`
/// is false for NaN too).
#[inline(always)]
fn finite_lanes(value: &[f64; LANES], grad: &[[f64; LANES]]) -> Mask {
    let mut ok = mask(|l| value[l].abs() < f64::INFINITY);
    for g in grad {
        ok &= mask(|l| g[l].abs() < f64::INFINITY);
    }
    ok
}

/// `‖∇f‖₂` per lane, summed in coordinate order as [`crate::driver::norm`] does.
#[inline(always)]
fn norms(grad: &[[f64; LANES]]) -> [f64; LANES] {
    let mut sum = [0.0; LANES];
    for g in grad {
        for lane in 0..LANES {
            sum[lane] += g[lane] * g[lane];
        }
    }
    sum.map(f64::sqrt)
}
