//! Value and gradient at [`LANES`] independent points at once, for sweeps:
//! the tape runs once, each register holding `LANES` numbers, so LLVM turns
//! every instruction into a few SIMD instructions.
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

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU8, Ordering};

use super::ast::UnaryFunction;
use super::eval;
use super::local::{
    pow_local, powf_derivatives, powi, powi_derivatives, takes_second, unary_local,
};
use super::program::{Op, Output, Reg, Tape};
use super::vmath::{self, V};
use super::LANES;

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
    let level = level.min(Simd::detected());
    #[cfg(target_arch = "x86_64")]
    match level {
        // SAFETY: `detected` checked that the CPU has these features.
        Simd::Avx512 => return unsafe { lanes_avx512(tape, x, value, gradient) },
        // SAFETY: as above.
        Simd::Avx2 => return unsafe { lanes_avx2(tape, x, value, gradient) },
        Simd::Portable => {}
    }
    let _ = level;
    lanes::<false>(tape, x, value, gradient);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn lanes_avx2(tape: &Tape, x: &[V], value: &mut V, gradient: &mut [V]) {
    lanes::<true>(tape, x, value, gradient);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
fn lanes_avx512(tape: &Tape, x: &[V], value: &mut V, gradient: &mut [V]) {
    lanes::<true>(tape, x, value, gradient);
}

/// A lane register in the scratch buffer, aligned to a cache line: a
/// 64-byte store that straddles two lines cannot be forwarded to the load
/// of the next instruction, which made every instruction several times
/// slower.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Register(V);

thread_local! {
    static SCRATCH: Cell<Vec<Register>> = const { Cell::new(Vec::new()) };
}

/// The generic evaluator; `FMA` where the instruction set has it.
#[inline(always)]
fn lanes<const FMA: bool>(tape: &Tape, x: &[V], value: &mut V, gradient: &mut [V]) {
    match tape.inputs() {
        0 => {
            for g in gradient.iter_mut() {
                *g = [0.0; LANES];
            }
            *value = [eval::value(tape, &[]); LANES];
        }
        1 => forward::<1, FMA>(tape, x, value, gradient),
        2 => forward::<2, FMA>(tape, x, value, gradient),
        3 => forward::<3, FMA>(tape, x, value, gradient),
        4 => forward::<4, FMA>(tape, x, value, gradient),
        _ => lane_by_lane(tape, x, value, gradient),
    }
}

/// Many active variables: the scalar reverse mode, one lane at a time, on
/// reused buffers.
fn lane_by_lane(tape: &Tape, x: &[V], value: &mut V, gradient: &mut [V]) {
    thread_local! {
        static POINT: RefCell<(Vec<f64>, Vec<f64>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    }
    POINT.with(|cell| {
        let mut buffers = cell.borrow_mut();
        let (point, partials) = &mut *buffers;
        point.resize(x.len(), 0.0);
        partials.resize(x.len(), 0.0);
        for lane in 0..LANES {
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

/// Forward mode over lanes with `N` tangents.
#[inline(always)]
fn forward<const N: usize, const FMA: bool>(
    tape: &Tape,
    x: &[V],
    value: &mut V,
    gradient: &mut [V],
) {
    let inputs = tape.inputs();
    let output = match tape.output() {
        Output::Constant(c) => {
            *value = [c; LANES];
            for g in gradient.iter_mut() {
                *g = [0.0; LANES];
            }
            return;
        }
        Output::Register(register) => register,
    };
    let count = tape.registers();
    // The buffer is taken out of the thread-local and put back, so that no
    // closure (which might be compiled without the caller's target
    // features) runs the evaluation.
    let mut buffer = SCRATCH.take();
    if buffer.len() < count * (N + 1) {
        buffer.resize(count * (N + 1), Register([0.0; LANES]));
    }
    let (values, rest) = buffer.split_at_mut(count);
    let (tangents, _) = rest.as_chunks_mut::<N>();
    for (slot, &variable) in values.iter_mut().zip(tape.active()) {
        *slot = Register(x[variable]);
    }
    for (k, &op) in tape.ops().iter().enumerate() {
        let (v, t) = lane_op::<N, FMA>(op, values, tangents);
        values[inputs + k] = Register(v);
        tangents[inputs + k] = t.map(Register);
    }
    *value = values[output as usize].0;
    let tangent = tangent_of(tangents, output);
    SCRATCH.set(buffer);
    if tape.all_active() {
        for (g, t) in gradient.iter_mut().zip(tangent) {
            *g = t;
        }
    } else {
        for g in gradient.iter_mut() {
            *g = [0.0; LANES];
        }
        for (t, &variable) in tangent.iter().zip(tape.active()) {
            gradient[variable] = *t;
        }
    }
}

/// The tangent of `register`: computed unit vectors for inputs.
#[inline(always)]
fn tangent_of<const N: usize>(tangents: &[[Register; N]], register: Reg) -> [V; N] {
    let register = register as usize;
    if register < N {
        std::array::from_fn(|j| [if j == register { 1.0 } else { 0.0 }; LANES])
    } else {
        tangents[register].map(|t| t.0)
    }
}

/// `f(a, b)` lane by lane.
#[inline(always)]
fn zip(a: &V, b: &V, f: impl Fn(f64, f64) -> f64) -> V {
    std::array::from_fn(|l| f(a[l], b[l]))
}

/// Each tangent times the per-lane `slope`.
#[inline(always)]
fn scale<const N: usize>(t: &[V; N], slope: &V) -> [V; N] {
    t.map(|d| zip(&d, slope, |d, s| d * s))
}

/// One instruction over lanes; the scalar evaluator's arithmetic
/// (`eval::tangent_op`) lane by lane.
#[inline(always)]
fn lane_op<const N: usize, const FMA: bool>(
    op: Op,
    values: &[Register],
    tangents: &[[Register; N]],
) -> (V, [V; N]) {
    let v = |register: Reg| values[register as usize].0;
    let t = |register: Reg| tangent_of(tangents, register);
    let map = |a: &V, f: &dyn Fn(f64) -> f64| -> V { std::array::from_fn(|l| f(a[l])) };
    match op {
        Op::Const(c) => ([c; LANES], [[0.0; LANES]; N]),
        Op::Neg(a) => (v(a).map(|x| -x), t(a).map(|d| d.map(|x| -x))),
        Op::Add(a, b) | Op::Sub(a, b) => {
            let sign = if matches!(op, Op::Add(..)) { 1.0 } else { -1.0 };
            let (ta, tb) = (t(a), t(b));
            let value = if sign > 0.0 {
                zip(&v(a), &v(b), |x, y| x + y)
            } else {
                zip(&v(a), &v(b), |x, y| x - y)
            };
            let tangent = std::array::from_fn(|i| {
                if sign > 0.0 {
                    zip(&ta[i], &tb[i], |x, y| x + y)
                } else {
                    zip(&ta[i], &tb[i], |x, y| x - y)
                }
            });
            (value, tangent)
        }
        Op::Mul(a, b) => {
            let (va, vb, ta, tb) = (v(a), v(b), t(a), t(b));
            let tangent = std::array::from_fn(|i| {
                std::array::from_fn(|l| ta[i][l] * vb[l] + tb[i][l] * va[l])
            });
            (zip(&va, &vb, |x, y| x * y), tangent)
        }
        Op::Div(a, b) => {
            let (va, vb, ta, tb) = (v(a), v(b), t(a), t(b));
            let value = zip(&va, &vb, |x, y| x / y);
            let tangent = std::array::from_fn(|i| {
                std::array::from_fn(|l| (ta[i][l] - tb[i][l] * value[l]) / vb[l])
            });
            (value, tangent)
        }
        Op::AddC(a, c) => (v(a).map(|x| x + c), t(a)),
        Op::CSub(c, b) => (v(b).map(|x| c - x), t(b).map(|d| d.map(|x| -x))),
        Op::MulC(a, c) => (v(a).map(|x| x * c), t(a).map(|d| d.map(|x| x * c))),
        Op::DivC(a, c) => (v(a).map(|x| x / c), t(a).map(|d| d.map(|x| x / c))),
        Op::CDiv(c, b) => {
            let vb = v(b);
            let value = vb.map(|x| c / x);
            let slope = zip(&value, &vb, |q, x| -q / x);
            (value, scale(&t(b), &slope))
        }
        Op::Min(a, b) | Op::Max(a, b) => {
            let maximum = matches!(op, Op::Max(..));
            let (va, vb, ta, tb) = (v(a), v(b), t(a), t(b));
            // Per lane: 0 = a, 1 = b, NaN = neither.
            let pick: [u8; LANES] = std::array::from_fn(|l| {
                if va[l].is_nan() || vb[l].is_nan() {
                    2
                } else {
                    u8::from(takes_second(maximum, va[l], vb[l]))
                }
            });
            let choose = |x: &V, y: &V, nan: f64| -> V {
                std::array::from_fn(|l| match pick[l] {
                    0 => x[l],
                    1 => y[l],
                    _ => nan,
                })
            };
            let value = choose(&va, &vb, f64::NAN);
            let tangent = std::array::from_fn(|i| choose(&ta[i], &tb[i], 0.0));
            (value, tangent)
        }
        Op::Square(a) => {
            let va = v(a);
            (va.map(|x| x * x), scale(&t(a), &va.map(|x| 2.0 * x)))
        }
        Op::PowI(a, n) => {
            let va = v(a);
            let value = va.map(|x| powi(x, n));
            let slope = va.map(|x| powi_derivatives(x, n).0);
            (value, scale(&t(a), &slope))
        }
        Op::PowF(a, p) => {
            let va = v(a);
            let value = map(&va, &|x| x.powf(p));
            let slope = map(&va, &|x| powf_derivatives(x, p).0);
            (value, scale(&t(a), &slope))
        }
        Op::CPow(c, b) => {
            let vb = v(b);
            let value = map(&vb, &|x| c.powf(x));
            let ln = c.ln();
            (value, scale(&t(b), &value.map(|q| q * ln)))
        }
        Op::Pow(a, b) => {
            let (va, vb, ta, tb) = (v(a), v(b), t(a), t(b));
            let value = zip(&va, &vb, f64::powf);
            let partials: [[f64; 5]; LANES] =
                std::array::from_fn(|l| pow_local::<false>(value[l], va[l], vb[l]));
            let tangent = std::array::from_fn(|i| {
                std::array::from_fn(|l| ta[i][l] * partials[l][0] + tb[i][l] * partials[l][1])
            });
            (value, tangent)
        }
        Op::Unary(function, a) => {
            let va = v(a);
            let (value, slope) = unary_lanes::<FMA>(function, &va);
            (value, scale(&t(a), &slope))
        }
    }
}

/// A one-argument function and its derivative, per lane.
#[inline(always)]
fn unary_lanes<const FMA: bool>(function: UnaryFunction, x: &V) -> (V, V) {
    match function {
        UnaryFunction::Exp => {
            let value = vmath::exp::<FMA>(x);
            (value, value)
        }
        UnaryFunction::Ln => (vmath::ln::<FMA>(x), x.map(|v| 1.0 / v)),
        UnaryFunction::Sqrt => {
            let value = x.map(f64::sqrt);
            (value, value.map(|s| 0.5 / s))
        }
        UnaryFunction::Abs => (x.map(f64::abs), x.map(f64::signum)),
        UnaryFunction::Sin => {
            let (sin, cos) = vmath::sin_cos::<FMA>(x);
            (sin, cos)
        }
        UnaryFunction::Cos => {
            let (sin, cos) = vmath::sin_cos::<FMA>(x);
            (cos, sin.map(|s| -s))
        }
        _ => {
            let local: [(f64, f64, f64); LANES] =
                std::array::from_fn(|l| unary_local::<false>(function, x[l]));
            (local.map(|(v, _, _)| v), local.map(|(_, d, _)| d))
        }
    }
}
