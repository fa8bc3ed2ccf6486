//! Value and gradient at many independent points at once, for sweeps: the
//! tape runs once, each register holding `W` numbers ([`LANES`] for
//! [`Formula::value_gradient_lanes`](super::Formula::value_gradient_lanes),
//! [`Formula::BLOCK`] for a sweep's blocks of cells), so LLVM turns every
//! instruction into a few SIMD instructions. SIMD is the point: a sweep
//! evaluates one formula at a million points, and the scalar evaluator
//! (one point per instruction dispatch, scalar `sin`) is several times
//! slower than the hardware allows. A wide block amortizes the dispatch of
//! an instruction and the loads and stores of its registers over `W /
//! LANES` vectors, and gives the CPU independent chains to overlap.
//!
//! Forward mode with one tangent array per active variable (up to four);
//! formulas with more active variables fall back to the scalar reverse mode
//! lane by lane. `sin`, `cos`, `exp` and `ln` use the branch-free kernels of
//! [`vmath`](super::vmath) (within 2 ulp of the standard library); the
//! rarer functions call the standard library lane by lane. Everything else
//! is the scalar evaluator's arithmetic, so lanes agree with
//! [`Formula::value_gradient`](super::Formula::value_gradient) to within a
//! few ulps (exactly, for formulas of `+ - * /`, powers with integer
//! exponents, `sqrt`, `abs`, `min`, `max`).
//!
//! The same generic code is compiled three times: portable (SSE2 on
//! x86-64), and inside `#[target_feature]` functions for AVX2+FMA and
//! AVX-512; the best one the CPU has is chosen at run time (once, cached).
//! Everything below the entry points is `#[inline(always)]`, so that the
//! whole evaluation (and a sweep's step loop around it) is compiled with
//! the caller's instruction set.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU8, Ordering};

use super::ast::UnaryFunction;
use super::eval;
use super::local::{
    pow_local, powf_derivatives, powi, powi_derivatives, takes_second, unary_local,
};
use super::program::{Op, Output, Reg, Tape};
use super::vmath::{self, lanewise, V};
use super::{Formula, LANES};

/// The instruction sets the lane evaluator is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Simd {
    /// The build's baseline (SSE2 on x86-64), no fused multiply-add.
    Portable,
    /// AVX2 with FMA (x86-64).
    Avx2,
    /// AVX-512 F/DQ/VL with FMA (x86-64).
    Avx512,
}

impl Simd {
    /// The best level this CPU supports (detected once).
    pub fn detected() -> Simd {
        static LEVEL: AtomicU8 = AtomicU8::new(0);
        match LEVEL.load(Ordering::Relaxed) {
            1 => Simd::Portable,
            2 => Simd::Avx2,
            3 => Simd::Avx512,
            _ => {
                let level = detect();
                LEVEL.store(level as u8 + 1, Ordering::Relaxed);
                level
            }
        }
    }

    /// Lower-case name: `portable`, `avx2` or `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Simd::Portable => "portable",
            Simd::Avx2 => "avx2",
            Simd::Avx512 => "avx512",
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Simd {
    if is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("fma")
    {
        Simd::Avx512
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        Simd::Avx2
    } else {
        Simd::Portable
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Simd {
    Simd::Portable
}

/// Evaluates at `level`, or the best supported level below it.
pub(crate) fn value_gradient_lanes(
    level: Simd,
    tape: &Tape,
    x: &[V],
    value: &mut V,
    gradient: &mut [V],
) {
    thread_local! {
        static SCRATCH: Cell<Vec<f64>> = const { Cell::new(Vec::new()) };
    }
    // The buffer is taken out of the thread-local and put back, so that no
    // closure (which might be compiled without the caller's target
    // features) runs the evaluation.
    let mut scratch = SCRATCH.take();
    let level = level.min(Simd::detected());
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `detected` checked that the CPU has these features.
        Simd::Avx512 => unsafe { lanes_avx512(tape, x, value, gradient, &mut scratch) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Simd::Avx2 => unsafe { lanes_avx2(tape, x, value, gradient, &mut scratch) },
        _ => evaluate::<LANES, false>(tape, x, value, gradient, &mut scratch),
    }
    SCRATCH.set(scratch);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn lanes_avx2(tape: &Tape, x: &[V], value: &mut V, gradient: &mut [V], scratch: &mut Vec<f64>) {
    evaluate::<LANES, true>(tape, x, value, gradient, scratch);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
fn lanes_avx512(tape: &Tape, x: &[V], value: &mut V, gradient: &mut [V], scratch: &mut Vec<f64>) {
    evaluate::<LANES, true>(tape, x, value, gradient, scratch);
}

/// A register of `W` lanes in a scratch buffer, aligned to a cache line: a
/// vector store that straddles two lines cannot be forwarded to the load of
/// the next instruction, which made every instruction several times
/// slower.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Register<const W: usize>([f64; W]);

/// `count` registers in `buffer` (grown as needed), cache-line aligned.
#[inline(always)]
fn registers<const W: usize>(buffer: &mut Vec<f64>, count: usize) -> &mut [Register<W>] {
    // One cache line of slack for the alignment.
    let needed = count * W + 8;
    if buffer.len() < needed {
        buffer.resize(needed, 0.0);
    }
    // SAFETY: `Register<W>` is `repr(C)` around `[f64; W]`, so every bit
    // pattern of its `f64`s is a valid value; `align_to_mut` hands out only
    // an aligned, in-bounds middle part.
    let (_, registers, _) = unsafe { buffer.align_to_mut::<Register<W>>() };
    &mut registers[..count]
}

impl Formula {
    /// Points per block of [`value_gradient_block`](Formula::value_gradient_block):
    /// 32 vectors of [`LANES`]. Larger blocks amortize the dispatch of an
    /// instruction and the per-block work of a sweep step over more points
    /// and give the CPU more independent chains, while the registers of a
    /// small formula's block (2 KiB each) and a sweep batch's rows mostly
    /// stay in L1. Measured on the sweep: with AVX-512, 64 points 4 % slower
    /// than 128, 32 points 30 %; with AVX2 (Zen 3), 256 points 1 % (one
    /// thread) to 3 % (two threads) faster than 128, with 6 % fewer
    /// instructions.
    pub(crate) const BLOCK: usize = 32 * LANES;

    /// `f` and `∇f` at the [`BLOCK`](Formula::BLOCK) points `x` (structure
    /// of arrays, as [`value_gradient_lanes`](Formula::value_gradient_lanes)),
    /// every point computed exactly as `value_gradient_lanes` computes it.
    /// `x` and `grad` have length [`dim`](Formula::dim) (debug-asserted);
    /// `scratch` holds the registers from one call to the next (any vector:
    /// it is resized as needed).
    ///
    /// Inlined, so that a caller's loop and the whole evaluation are
    /// compiled together: `FMA` must be true only inside a function
    /// compiled with fused multiply-add (`#[target_feature(enable =
    /// "fma")]`); elsewhere `mul_add` would be a slow library call. The
    /// results depend on it only through the last bits of `sin`, `cos`,
    /// `exp` and `ln`, as for `value_gradient_lanes`.
    #[inline(always)]
    pub(crate) fn value_gradient_block<const FMA: bool>(
        &self,
        x: &[[f64; Formula::BLOCK]],
        value: &mut [f64; Formula::BLOCK],
        grad: &mut [[f64; Formula::BLOCK]],
        scratch: &mut Vec<f64>,
    ) {
        debug_assert!(x.len() == self.dim() && grad.len() == self.dim());
        evaluate::<{ Formula::BLOCK }, FMA>(&self.tape, x, value, grad, scratch);
    }
}

/// The generic evaluator over `W` lanes; `FMA` where the instruction set
/// has it.
#[inline(always)]
fn evaluate<const W: usize, const FMA: bool>(
    tape: &Tape,
    x: &[[f64; W]],
    value: &mut [f64; W],
    gradient: &mut [[f64; W]],
    scratch: &mut Vec<f64>,
) {
    match tape.inputs() {
        0 => {
            gradient.fill([0.0; W]);
            *value = [eval::value(tape, &[]); W];
        }
        1 => forward::<W, 1, FMA>(tape, x, value, gradient, scratch),
        2 => forward::<W, 2, FMA>(tape, x, value, gradient, scratch),
        3 => forward::<W, 3, FMA>(tape, x, value, gradient, scratch),
        4 => forward::<W, 4, FMA>(tape, x, value, gradient, scratch),
        _ => lane_by_lane(tape, x, value, gradient),
    }
}

/// Many active variables: the scalar reverse mode, one lane at a time, on
/// reused buffers.
fn lane_by_lane<const W: usize>(
    tape: &Tape,
    x: &[[f64; W]],
    value: &mut [f64; W],
    gradient: &mut [[f64; W]],
) {
    thread_local! {
        static POINT: RefCell<(Vec<f64>, Vec<f64>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    }
    POINT.with(|cell| {
        let mut buffers = cell.borrow_mut();
        let (point, partials) = &mut *buffers;
        point.resize(x.len(), 0.0);
        partials.resize(x.len(), 0.0);
        for lane in 0..W {
            for (p, xi) in point.iter_mut().zip(x) {
                *p = xi[lane];
            }
            value[lane] = eval::value_gradient(tape, point, partials);
            for (g, &partial) in gradient.iter_mut().zip(partials.iter()) {
                g[lane] = partial;
            }
        }
    });
}

/// The tangents that are one number in every lane, whatever the point:
/// `plan[r * inputs + j]` is `Some(t)` when tangent `j` of register `r` is
/// `t` in every lane, `None` when it varies. The inputs' unit tangents are
/// such numbers, and so is what `+`, `−` and constant factors make of them
/// (`c*x`, `x + 1`, `2*x - y`): the lane evaluator then neither stores nor
/// loads them, and reads the number instead. Computed with the same `f64`
/// operations [`lane_op`] would apply per lane, so results do not change.
/// Empty for tapes without inputs or with more than [`MAX_TANGENTS`].
pub(crate) fn uniform_tangents(inputs: usize, ops: &[Op]) -> Vec<Option<f64>> {
    if inputs == 0 || inputs > MAX_TANGENTS {
        return Vec::new();
    }
    let mut plan = Vec::with_capacity((inputs + ops.len()) * inputs);
    for i in 0..inputs {
        plan.extend((0..inputs).map(|j| Some(if i == j { 1.0 } else { 0.0 })));
    }
    for &op in ops {
        for j in 0..inputs {
            let t = |r: Reg| plan[r as usize * inputs + j];
            let both = |a: Reg, b: Reg| t(a).zip(t(b));
            let uniform = match op {
                Op::Const(_) => Some(0.0),
                Op::Neg(a) | Op::CSub(_, a) => t(a).map(|d| -d),
                Op::AddC(a, _) => t(a),
                Op::MulC(a, c) => t(a).map(|d| d * c),
                Op::DivC(a, c) => t(a).map(|d| d / c),
                Op::Add(a, b) => both(a, b).map(|(x, y)| x + y),
                Op::Sub(a, b) => both(a, b).map(|(x, y)| x - y),
                _ => None,
            };
            plan.push(uniform);
        }
    }
    plan
}

/// The most active variables the forward mode handles (one tangent array
/// each); more fall back to [`lane_by_lane`].
const MAX_TANGENTS: usize = 4;

/// An operand's tangent in one direction: a register's lanes, or one
/// number for every lane (see [`uniform_tangents`]).
#[derive(Clone, Copy)]
enum Tangent<'a, const W: usize> {
    Lanes(&'a [f64; W]),
    Uniform(f64),
}

/// Lane `l` of a tangent, once [`with_tangent!`] has resolved which kind it
/// is (so that the lane loop has no branch and vectorizes).
trait AtLane: Copy {
    fn at(self, l: usize) -> f64;
}

impl<const W: usize> AtLane for &[f64; W] {
    #[inline(always)]
    fn at(self, l: usize) -> f64 {
        self[l]
    }
}

/// One number in every lane.
#[derive(Clone, Copy)]
struct Splat(f64);

impl AtLane for Splat {
    #[inline(always)]
    fn at(self, _: usize) -> f64 {
        self.0
    }
}

/// `$body` with `$name` bound to the [`AtLane`] form of the [`Tangent`]
/// `$tangent`: compiled once per kind, each copy a branch-free lane loop.
/// (A macro, since a closure cannot be generic over the two kinds.)
macro_rules! with_tangent {
    ($tangent:expr, $name:ident => $body:expr) => {
        match $tangent {
            Tangent::Lanes($name) => $body,
            Tangent::Uniform(c) => {
                let $name = Splat(c);
                $body
            }
        }
    };
    ($a:expr, $b:expr, ($na:ident, $nb:ident) => $body:expr) => {
        with_tangent!($a, $na => with_tangent!($b, $nb => $body))
    };
}

/// The registers an instruction reads: the inputs straight from the
/// caller's points (not copied), the others from the scratch registers;
/// tangents as [`Tangent`]s.
struct Operands<'a, const W: usize, const N: usize> {
    inputs: [&'a [f64; W]; N],
    values: &'a [Register<W>],
    tangents: &'a [[Register<W>; N]],
    /// [`uniform_tangents`] of the tape.
    uniform: &'a [Option<f64>],
}

impl<'a, const W: usize, const N: usize> Operands<'a, W, N> {
    #[inline(always)]
    fn value(&self, register: Reg) -> &'a [f64; W] {
        let r = register as usize;
        if r < N {
            self.inputs[r]
        } else {
            &self.values[r].0
        }
    }

    #[inline(always)]
    fn tangent(&self, register: Reg, j: usize) -> Tangent<'a, W> {
        let r = register as usize;
        match self.uniform[r * N + j] {
            Some(c) => Tangent::Uniform(c),
            None => Tangent::Lanes(&self.tangents[r][j].0),
        }
    }
}

/// Forward mode over `W` lanes with `N` tangents: register `r` has the
/// value `values[r]` and the tangents `tangents[r]`, each instruction
/// writing its own register from lower ones. Inputs are read from `x`;
/// tangents the same in every lane ([`uniform_tangents`]) are never
/// stored; the last instruction, when it computes the result and every
/// variable is active, writes `value` and `gradient` directly. Each pass
/// over the lanes costs loads and stores of whole blocks, which for a
/// small formula take as long as its arithmetic.
#[inline(always)]
fn forward<const W: usize, const N: usize, const FMA: bool>(
    tape: &Tape,
    x: &[[f64; W]],
    value: &mut [f64; W],
    gradient: &mut [[f64; W]],
    scratch: &mut Vec<f64>,
) {
    let output = match tape.output() {
        Output::Constant(c) => {
            *value = [c; W];
            gradient.fill([0.0; W]);
            return;
        }
        Output::Register(register) => register as usize,
    };
    let count = tape.registers();
    let uniform = tape.uniform_tangents();
    let buffer = registers::<W>(scratch, count * (N + 1));
    let (values, rest) = buffer.split_at_mut(count);
    let (tangents, _) = rest.as_chunks_mut::<N>();
    let tangents = &mut tangents[..count];
    let inputs: [&[f64; W]; N] = std::array::from_fn(|i| &x[tape.active()[i]]);
    let ops = tape.ops();
    let direct = tape.all_active() && output + 1 == count && output >= N;
    for (k, &op) in ops.iter().enumerate() {
        let register = N + k;
        // Operands are below the destination: split there.
        let (operand_values, destination) = values.split_at_mut(register);
        let (operand_tangents, destination_tangents) = tangents.split_at_mut(register);
        let operands = Operands {
            inputs,
            values: operand_values,
            tangents: operand_tangents,
            uniform,
        };
        let planned = &uniform[register * N..][..N];
        if direct && register == output {
            let Some(grad) = gradient.first_chunk_mut::<N>() else {
                unreachable!("every variable is active: the gradient has N rows")
            };
            lane_op::<W, N, FMA>(op, &operands, value, grad.each_mut(), planned);
            for (g, t) in grad.iter_mut().zip(planned) {
                if let Some(t) = *t {
                    vmath::fill(g, t);
                }
            }
        } else {
            let out_tangents = destination_tangents[0].each_mut().map(|t| &mut t.0);
            lane_op::<W, N, FMA>(op, &operands, &mut destination[0].0, out_tangents, planned);
        }
    }
    if direct {
        return;
    }
    let operands = Operands {
        inputs,
        values,
        tangents,
        uniform,
    };
    vmath::copy(value, operands.value(output as Reg));
    let copy_tangent = |j: usize, g: &mut [f64; W]| match operands.tangent(output as Reg, j) {
        Tangent::Lanes(t) => vmath::copy(g, t),
        Tangent::Uniform(t) => vmath::fill(g, t),
    };
    if tape.all_active() {
        for (j, g) in gradient.iter_mut().enumerate() {
            copy_tangent(j, g);
        }
    } else {
        gradient.fill([0.0; W]);
        for (j, &variable) in tape.active().iter().enumerate() {
            copy_tangent(j, &mut gradient[variable]);
        }
    }
}

// The lane loops store in place through [`vmath::lanewise`], whose output
// is a parameter of its own: the destination register and the operands are
// in one buffer, and LLVM, not knowing that they do not overlap, would not
// vectorize a loop storing lane by lane otherwise.

/// `out[l] = f(a[l])` for every lane.
#[inline(always)]
fn map<const W: usize>(out: &mut [f64; W], a: &[f64; W], f: impl Fn(f64) -> f64) {
    lanewise(out, |l| f(a[l]));
}

/// `out[l] = f(a[l], b[l])` for every lane.
#[inline(always)]
fn zip<const W: usize>(
    out: &mut [f64; W],
    a: &[f64; W],
    b: &[f64; W],
    f: impl Fn(f64, f64) -> f64,
) {
    lanewise(out, |l| f(a[l], b[l]));
}

/// One instruction over `W` lanes, into `out` and `out_tangents`; the
/// scalar evaluator's arithmetic (`eval::tangent_op`) lane by lane.
/// Tangent `j` is left alone where `planned[j]` gives it as one number
/// ([`uniform_tangents`]). With one tangent, the common instructions
/// compute the value and the tangent in one pass over the lanes.
#[inline(always)]
fn lane_op<const W: usize, const N: usize, const FMA: bool>(
    op: Op,
    operands: &Operands<'_, W, N>,
    out: &mut [f64; W],
    out_tangents: [&mut [f64; W]; N],
    planned: &[Option<f64>],
) {
    let v = |register: Reg| operands.value(register);
    let t = |register: Reg, j: usize| operands.tangent(register, j);
    // One tangent, not uniform: value and tangent in one pass.
    let fused = N == 1 && planned[0].is_none();
    // The tangents to compute, with their direction.
    let each = out_tangents
        .into_iter()
        .enumerate()
        .filter(|(j, _)| planned[*j].is_none());
    match op {
        Op::Const(c) => {
            vmath::fill(out, c);
            for (_, o) in each {
                vmath::fill(o, 0.0);
            }
        }
        Op::Neg(a) => {
            map(out, v(a), |x| -x);
            for (j, o) in each {
                with_tangent!(t(a, j), d => lanewise(o, |l| -d.at(l)));
            }
        }
        Op::Add(a, b) | Op::Sub(a, b) => {
            let (va, vb) = (v(a), v(b));
            if matches!(op, Op::Add(..)) {
                zip(out, va, vb, |x, y| x + y);
                for (j, o) in each {
                    with_tangent!(t(a, j), t(b, j), (ta, tb) => {
                        lanewise(o, |l| ta.at(l) + tb.at(l));
                    });
                }
            } else {
                zip(out, va, vb, |x, y| x - y);
                for (j, o) in each {
                    with_tangent!(t(a, j), t(b, j), (ta, tb) => {
                        lanewise(o, |l| ta.at(l) - tb.at(l));
                    });
                }
            }
        }
        Op::Mul(a, b) => {
            let (va, vb) = (v(a), v(b));
            if fused {
                for (j, o) in each {
                    with_tangent!(t(a, j), t(b, j), (ta, tb) => {
                        vmath::lanewise2(out, o, |l| {
                            (va[l] * vb[l], ta.at(l) * vb[l] + tb.at(l) * va[l])
                        });
                    });
                }
            } else {
                zip(out, va, vb, |x, y| x * y);
                for (j, o) in each {
                    with_tangent!(t(a, j), t(b, j), (ta, tb) => {
                        lanewise(o, |l| ta.at(l) * vb[l] + tb.at(l) * va[l]);
                    });
                }
            }
        }
        Op::Div(a, b) => {
            let (va, vb) = (v(a), v(b));
            if fused {
                for (j, o) in each {
                    with_tangent!(t(a, j), t(b, j), (ta, tb) => {
                        vmath::lanewise2(out, o, |l| {
                            let q = va[l] / vb[l];
                            (q, (ta.at(l) - tb.at(l) * q) / vb[l])
                        });
                    });
                }
            } else {
                zip(out, va, vb, |x, y| x / y);
                for (j, o) in each {
                    with_tangent!(t(a, j), t(b, j), (ta, tb) => {
                        lanewise(o, |l| (ta.at(l) - tb.at(l) * out[l]) / vb[l]);
                    });
                }
            }
        }
        Op::AddC(a, c) => {
            map(out, v(a), |x| x + c);
            for (j, o) in each {
                with_tangent!(t(a, j), d => lanewise(o, |l| d.at(l)));
            }
        }
        Op::CSub(c, b) => {
            map(out, v(b), |x| c - x);
            for (j, o) in each {
                with_tangent!(t(b, j), d => lanewise(o, |l| -d.at(l)));
            }
        }
        Op::MulC(a, c) => {
            map(out, v(a), |x| x * c);
            for (j, o) in each {
                with_tangent!(t(a, j), d => lanewise(o, |l| d.at(l) * c));
            }
        }
        Op::DivC(a, c) => {
            map(out, v(a), |x| x / c);
            for (j, o) in each {
                with_tangent!(t(a, j), d => lanewise(o, |l| d.at(l) / c));
            }
        }
        Op::CDiv(c, b) => {
            let vb = v(b);
            map(out, vb, |x| c / x);
            let mut slope = [0.0; W];
            zip(&mut slope, out, vb, |q, x| -q / x);
            slope_tangents(each, operands, b, &slope);
        }
        Op::Min(a, b) | Op::Max(a, b) => {
            let maximum = matches!(op, Op::Max(..));
            let (va, vb) = (v(a), v(b));
            // Per lane: 0 = a, 1 = b, 2 = neither (a NaN operand).
            let pick: [u8; W] = std::array::from_fn(|l| {
                if va[l].is_nan() || vb[l].is_nan() {
                    2
                } else {
                    u8::from(takes_second(maximum, va[l], vb[l]))
                }
            });
            lanewise(out, |l| match pick[l] {
                0 => va[l],
                1 => vb[l],
                _ => f64::NAN,
            });
            for (j, o) in each {
                with_tangent!(t(a, j), t(b, j), (ta, tb) => {
                    lanewise(o, |l| match pick[l] {
                        0 => ta.at(l),
                        1 => tb.at(l),
                        _ => 0.0,
                    });
                });
            }
        }
        Op::Square(a) => {
            let va = v(a);
            if fused {
                for (j, o) in each {
                    with_tangent!(t(a, j), d => {
                        vmath::lanewise2(out, o, |l| (va[l] * va[l], d.at(l) * (2.0 * va[l])));
                    });
                }
            } else {
                map(out, va, |x| x * x);
                for (j, o) in each {
                    with_tangent!(t(a, j), d => lanewise(o, |l| d.at(l) * (2.0 * va[l])));
                }
            }
        }
        Op::PowI(a, n) => {
            let va = v(a);
            map(out, va, |x| powi(x, n));
            let mut slope = [0.0; W];
            map(&mut slope, va, |x| powi_derivatives(x, n).0);
            slope_tangents(each, operands, a, &slope);
        }
        Op::PowF(a, p) => {
            let va = v(a);
            map(out, va, |x| x.powf(p));
            let mut slope = [0.0; W];
            map(&mut slope, va, |x| powf_derivatives(x, p).0);
            slope_tangents(each, operands, a, &slope);
        }
        Op::CPow(c, b) => {
            map(out, v(b), |x| c.powf(x));
            let ln = c.ln();
            for (j, o) in each {
                with_tangent!(t(b, j), d => lanewise(o, |l| d.at(l) * (out[l] * ln)));
            }
        }
        Op::Pow(a, b) => {
            let (va, vb) = (v(a), v(b));
            zip(out, va, vb, f64::powf);
            let partials: [[f64; 5]; W] =
                std::array::from_fn(|l| pow_local::<false>(out[l], va[l], vb[l]));
            for (j, o) in each {
                with_tangent!(t(a, j), t(b, j), (ta, tb) => {
                    lanewise(o, |l| ta.at(l) * partials[l][0] + tb.at(l) * partials[l][1]);
                });
            }
        }
        Op::Unary(function, a) => {
            unary_op::<W, N, FMA>(function, operands, a, out, each, fused);
        }
    }
}

/// Tangent `j` as `d_j · slope` per lane, for the directions in `each`.
#[inline(always)]
fn slope_tangents<'o, const W: usize, const N: usize>(
    each: impl Iterator<Item = (usize, &'o mut [f64; W])>,
    operands: &Operands<'_, W, N>,
    a: Reg,
    slope: &[f64; W],
) {
    for (j, o) in each {
        with_tangent!(operands.tangent(a, j), d => lanewise(o, |l| d.at(l) * slope[l]));
    }
}

/// A one-argument function of register `a` into `out`, its tangents
/// `d · f'(a)` into the directions of `each` (in the same pass when
/// `fused`). `sin`, `cos`, `exp` and `ln` through the branch-free kernels
/// of [`vmath`], lanes outside their fast range recomputed with the
/// standard library; `sqrt` and `abs` are single instructions; the rest
/// goes lane by lane through the scalar evaluator's [`unary_local`].
#[inline(always)]
fn unary_op<'o, const W: usize, const N: usize, const FMA: bool>(
    function: UnaryFunction,
    operands: &Operands<'_, W, N>,
    a: Reg,
    out: &mut [f64; W],
    each: impl Iterator<Item = (usize, &'o mut [f64; W])>,
    fused: bool,
) {
    let x = operands.value(a);
    let kernel = Kernel {
        operands,
        a,
        x,
        fused,
    };
    match function {
        UnaryFunction::Sin => {
            let trig = vmath::TrigConstants::opaque();
            kernel.apply(
                out,
                each,
                #[inline(always)]
                |x| vmath::sin_cos_lane::<FMA>(x, &trig),
                vmath::trig_fast,
                f64::sin_cos,
            );
        }
        // cos' = −sin: d·(−s) is −(d·s) exactly.
        UnaryFunction::Cos => {
            let trig = vmath::TrigConstants::opaque();
            kernel.apply(
                out,
                each,
                #[inline(always)]
                |x| {
                    let (s, c) = vmath::sin_cos_lane::<FMA>(x, &trig);
                    (c, -s)
                },
                vmath::trig_fast,
                |x| {
                    let (s, c) = x.sin_cos();
                    (c, -s)
                },
            );
        }
        UnaryFunction::Exp => {
            let constants = vmath::ExpConstants::opaque();
            kernel.apply(
                out,
                each,
                #[inline(always)]
                |x| {
                    let e = vmath::exp_lane::<FMA>(x, &constants);
                    (e, e)
                },
                vmath::exp_fast,
                |x| (x.exp(), x.exp()),
            );
        }
        UnaryFunction::Ln => {
            let constants = vmath::LnConstants::opaque();
            kernel.apply(
                out,
                each,
                #[inline(always)]
                |x| (vmath::ln_lane::<FMA>(x, &constants), 1.0 / x),
                vmath::ln_fast,
                |x| (x.ln(), 1.0 / x),
            );
        }
        UnaryFunction::Sqrt => {
            let root = |x: f64| {
                let s = x.sqrt();
                (s, 0.5 / s)
            };
            kernel.apply(out, each, root, |_| true, root);
        }
        UnaryFunction::Abs => {
            let abs = |x: f64| (x.abs(), x.signum());
            kernel.apply(out, each, abs, |_| true, abs);
        }
        _ => {
            let mut slope = [0.0; W];
            for l in 0..W {
                (out[l], slope[l], _) = unary_local::<false>(function, x[l]);
            }
            slope_tangents(each, operands, a, &slope);
        }
    }
}

/// A one-argument function of one register, lane by lane.
struct Kernel<'a, 'b, const W: usize, const N: usize> {
    operands: &'b Operands<'a, W, N>,
    a: Reg,
    x: &'a [f64; W],
    fused: bool,
}

impl<const W: usize, const N: usize> Kernel<'_, '_, W, N> {
    /// `(f, f')` per lane by `fast` where `in_range`, else by `exact`.
    #[inline(always)]
    fn apply<'o>(
        &self,
        out: &mut [f64; W],
        each: impl Iterator<Item = (usize, &'o mut [f64; W])>,
        fast: impl Fn(f64) -> (f64, f64),
        in_range: impl Fn(f64) -> bool,
        exact: impl Fn(f64) -> (f64, f64),
    ) {
        let x = self.x;
        let outside = vmath::any_outside(x, &in_range);
        if self.fused {
            for (j, o) in each {
                with_tangent!(self.operands.tangent(self.a, j), d => {
                    vmath::lanewise2(
                        out,
                        o,
                        #[inline(always)]
                        |l| {
                        let (f, slope) = fast(x[l]);
                        (f, d.at(l) * slope)
                    });
                    if outside {
                        for l in 0..W {
                            if !in_range(x[l]) {
                                let (f, slope) = exact(x[l]);
                                (out[l], o[l]) = (f, d.at(l) * slope);
                            }
                        }
                    }
                });
            }
        } else {
            let mut slope = [0.0; W];
            vmath::lanewise2(
                out,
                &mut slope,
                #[inline(always)]
                |l| fast(x[l]),
            );
            if outside {
                for l in 0..W {
                    if !in_range(x[l]) {
                        (out[l], slope[l]) = exact(x[l]);
                    }
                }
            }
            slope_tangents(each, self.operands, self.a, &slope);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: usize = Formula::BLOCK;

    /// [`Formula::value_gradient_block`] compiled for at most `level`.
    fn block_with(
        level: Simd,
        formula: &Formula,
        x: &[[f64; BLOCK]],
        value: &mut [f64; BLOCK],
        grad: &mut [[f64; BLOCK]],
    ) {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
        fn avx512(f: &Formula, x: &[[f64; BLOCK]], v: &mut [f64; BLOCK], g: &mut [[f64; BLOCK]]) {
            f.value_gradient_block::<true>(x, v, g, &mut Vec::new());
        }
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn avx2(f: &Formula, x: &[[f64; BLOCK]], v: &mut [f64; BLOCK], g: &mut [[f64; BLOCK]]) {
            f.value_gradient_block::<true>(x, v, g, &mut Vec::new());
        }
        match level.min(Simd::detected()) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `detected` checked that the CPU has these features.
            Simd::Avx512 => unsafe { avx512(formula, x, value, grad) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Simd::Avx2 => unsafe { avx2(formula, x, value, grad) },
            _ => formula.value_gradient_block::<false>(x, value, grad, &mut Vec::new()),
        }
    }

    /// Deterministic numbers in `[lo, hi)` (xorshift).
    fn uniform(state: &mut u64, lo: f64, hi: f64) -> f64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        lo + (hi - lo) * ((*state >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// Every point of a block equals the [`LANES`]-wide evaluation at the
    /// same level bit for bit (so the block inherits its bound against the
    /// scalar evaluator, checked in `tests/formula_lanes.rs`), and is within
    /// that bound (`1e-13` relative) of the scalar evaluator itself; on
    /// every level this CPU has.
    #[test]
    fn blocks_equal_lanes_and_agree_with_scalar() {
        let formulas = [
            ("x*cos(0.15*pi*x)", vec!["x"]),
            ("sin(x)*exp(-y^2/4) + ln(1 + x^2 + y^2)", vec!["x", "y"]),
            (
                "max(x, y) - min(x, 0.5) + abs(x*y) / (1 + sqrt(x^2 + y^2))",
                vec!["x", "y"],
            ),
            ("x^3 - 2^x + x^y + (x^2 + 1)^0.5 + 3/x - 7", vec!["x", "y"]),
            ("a*b + c*d - cos(a + b + c + d)", vec!["a", "b", "c", "d"]),
            ("a + b*c + d*f", vec!["a", "b", "c", "d", "f"]),
            ("tanh(x) + atan(y)", vec!["x", "y", "unused"]),
            ("cos(2) + 1", vec!["x"]),
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15;
        for (source, variables) in formulas {
            let formula = Formula::parse_with_vars(source, &variables).unwrap();
            let dim = formula.dim();
            let x: Vec<[f64; BLOCK]> = (0..dim)
                .map(|_| std::array::from_fn(|_| uniform(&mut state, 0.1, 4.0)))
                .collect();
            for level in [Simd::Portable, Simd::Avx2, Simd::Avx512] {
                let mut value = [f64::NAN; BLOCK];
                let mut grad = vec![[f64::NAN; BLOCK]; dim];
                block_with(level, &formula, &x, &mut value, &mut grad);
                for base in (0..BLOCK).step_by(LANES) {
                    let lanes: Vec<V> = x
                        .iter()
                        .map(|xi| xi[base..base + LANES].try_into().unwrap())
                        .collect();
                    let mut lane_value = [f64::NAN; LANES];
                    let mut lane_grad = vec![[f64::NAN; LANES]; dim];
                    formula.value_gradient_lanes_with(
                        level,
                        &lanes,
                        &mut lane_value,
                        &mut lane_grad,
                    );
                    assert_eq!(value[base..base + LANES], lane_value, "{source}");
                    for (g, lg) in grad.iter().zip(&lane_grad) {
                        assert_eq!(g[base..base + LANES], *lg, "{source}");
                    }
                }
                for l in 0..BLOCK {
                    let point: Vec<f64> = x.iter().map(|xi| xi[l]).collect();
                    let mut scalar_grad = vec![0.0; dim];
                    let scalar = formula.value_gradient(&point, &mut scalar_grad);
                    let close = |a: f64, b: f64| (a - b).abs() <= 1e-13 * b.abs().max(1.0);
                    assert!(close(value[l], scalar), "{source} at {point:?}");
                    for (g, s) in grad.iter().zip(&scalar_grad) {
                        assert!(close(g[l], *s), "{source} at {point:?}");
                    }
                }
            }
        }
    }
}
