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
    /// sixteen vectors of [`LANES`]. Larger blocks amortize the dispatch of
    /// an instruction and the per-block work of a sweep step over more
    /// points and give the CPU more independent chains, while a block's
    /// registers (1 KiB each) still stay in L1. Measured on the sweep
    /// benchmark (AVX-512): 64 points 4 % slower than 128, 32 points 30 %.
    pub(crate) const BLOCK: usize = 16 * LANES;

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

/// Forward mode over `W` lanes with `N` tangents: register `r` has the
/// value `values[r]` and the tangents `tangents[r]` (unit vectors for the
/// inputs), each instruction writing its own register from lower ones.
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
    let buffer = registers::<W>(scratch, count * (N + 1));
    let (values, rest) = buffer.split_at_mut(count);
    let (tangents, _) = rest.as_chunks_mut::<N>();
    let tangents = &mut tangents[..count];
    for (input, (slot, &variable)) in values.iter_mut().zip(tape.active()).enumerate() {
        vmath::copy(&mut slot.0, &x[variable]);
        for (j, t) in tangents[input].iter_mut().enumerate() {
            vmath::fill(&mut t.0, if j == input { 1.0 } else { 0.0 });
        }
    }
    for (k, &op) in tape.ops().iter().enumerate() {
        // Operands are below the destination: split there.
        let (operands, destination) = values.split_at_mut(N + k);
        let (operand_tangents, destination_tangents) = tangents.split_at_mut(N + k);
        lane_op::<W, N, FMA>(
            op,
            operands,
            operand_tangents,
            &mut destination[0].0,
            &mut destination_tangents[0],
        );
    }
    vmath::copy(value, &values[output].0);
    let tangent = &tangents[output];
    if tape.all_active() {
        for (g, t) in gradient.iter_mut().zip(tangent) {
            vmath::copy(g, &t.0);
        }
    } else {
        gradient.fill([0.0; W]);
        for (t, &variable) in tangent.iter().zip(tape.active()) {
            vmath::copy(&mut gradient[variable], &t.0);
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

/// `out[j][l] = f(a[j][l], l)`: each tangent of a one-operand instruction
/// from its operand's.
#[inline(always)]
fn tangent1<const W: usize, const N: usize>(
    out: &mut [Register<W>; N],
    a: &[Register<W>; N],
    f: impl Fn(f64, usize) -> f64,
) {
    for (o, a) in out.iter_mut().zip(a) {
        lanewise(&mut o.0, |l| f(a.0[l], l));
    }
}

/// One instruction over `W` lanes, into `out` and `out_tangents`; the
/// scalar evaluator's arithmetic (`eval::tangent_op`) lane by lane.
#[inline(always)]
fn lane_op<const W: usize, const N: usize, const FMA: bool>(
    op: Op,
    values: &[Register<W>],
    tangents: &[[Register<W>; N]],
    out: &mut [f64; W],
    out_tangents: &mut [Register<W>; N],
) {
    let v = |register: Reg| &values[register as usize].0;
    let t = |register: Reg| &tangents[register as usize];
    match op {
        Op::Const(c) => {
            vmath::fill(out, c);
            for o in out_tangents.iter_mut() {
                vmath::fill(&mut o.0, 0.0);
            }
        }
        Op::Neg(a) => {
            map(out, v(a), |x| -x);
            tangent1(out_tangents, t(a), |d, _| -d);
        }
        Op::Add(a, b) | Op::Sub(a, b) => {
            let add = matches!(op, Op::Add(..));
            let (va, vb) = (v(a), v(b));
            if add {
                zip(out, va, vb, |x, y| x + y);
            } else {
                zip(out, va, vb, |x, y| x - y);
            }
            for ((o, ta), tb) in out_tangents.iter_mut().zip(t(a)).zip(t(b)) {
                if add {
                    zip(&mut o.0, &ta.0, &tb.0, |x, y| x + y);
                } else {
                    zip(&mut o.0, &ta.0, &tb.0, |x, y| x - y);
                }
            }
        }
        Op::Mul(a, b) => {
            let (va, vb) = (v(a), v(b));
            zip(out, va, vb, |x, y| x * y);
            for ((o, ta), tb) in out_tangents.iter_mut().zip(t(a)).zip(t(b)) {
                lanewise(&mut o.0, |l| ta.0[l] * vb[l] + tb.0[l] * va[l]);
            }
        }
        Op::Div(a, b) => {
            let (va, vb) = (v(a), v(b));
            zip(out, va, vb, |x, y| x / y);
            for ((o, ta), tb) in out_tangents.iter_mut().zip(t(a)).zip(t(b)) {
                lanewise(&mut o.0, |l| (ta.0[l] - tb.0[l] * out[l]) / vb[l]);
            }
        }
        Op::AddC(a, c) => {
            map(out, v(a), |x| x + c);
            tangent1(out_tangents, t(a), |d, _| d);
        }
        Op::CSub(c, b) => {
            map(out, v(b), |x| c - x);
            tangent1(out_tangents, t(b), |d, _| -d);
        }
        Op::MulC(a, c) => {
            map(out, v(a), |x| x * c);
            tangent1(out_tangents, t(a), |d, _| d * c);
        }
        Op::DivC(a, c) => {
            map(out, v(a), |x| x / c);
            tangent1(out_tangents, t(a), |d, _| d / c);
        }
        Op::CDiv(c, b) => {
            let vb = v(b);
            map(out, vb, |x| c / x);
            let mut slope = [0.0; W];
            zip(&mut slope, out, vb, |q, x| -q / x);
            tangent1(out_tangents, t(b), |d, l| d * slope[l]);
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
            let choose = |out: &mut [f64; W], x: &[f64; W], y: &[f64; W], nan: f64| {
                lanewise(out, |l| match pick[l] {
                    0 => x[l],
                    1 => y[l],
                    _ => nan,
                });
            };
            choose(out, va, vb, f64::NAN);
            for ((o, ta), tb) in out_tangents.iter_mut().zip(t(a)).zip(t(b)) {
                choose(&mut o.0, &ta.0, &tb.0, 0.0);
            }
        }
        Op::Square(a) => {
            let va = v(a);
            map(out, va, |x| x * x);
            tangent1(out_tangents, t(a), |d, l| d * (2.0 * va[l]));
        }
        Op::PowI(a, n) => {
            let va = v(a);
            map(out, va, |x| powi(x, n));
            let mut slope = [0.0; W];
            map(&mut slope, va, |x| powi_derivatives(x, n).0);
            tangent1(out_tangents, t(a), |d, l| d * slope[l]);
        }
        Op::PowF(a, p) => {
            let va = v(a);
            map(out, va, |x| x.powf(p));
            let mut slope = [0.0; W];
            map(&mut slope, va, |x| powf_derivatives(x, p).0);
            tangent1(out_tangents, t(a), |d, l| d * slope[l]);
        }
        Op::CPow(c, b) => {
            map(out, v(b), |x| c.powf(x));
            let ln = c.ln();
            tangent1(out_tangents, t(b), |d, l| d * (out[l] * ln));
        }
        Op::Pow(a, b) => {
            let (va, vb) = (v(a), v(b));
            zip(out, va, vb, f64::powf);
            let partials: [[f64; 5]; W] =
                std::array::from_fn(|l| pow_local::<false>(out[l], va[l], vb[l]));
            for ((o, ta), tb) in out_tangents.iter_mut().zip(t(a)).zip(t(b)) {
                lanewise(&mut o.0, |l| {
                    ta.0[l] * partials[l][0] + tb.0[l] * partials[l][1]
                });
            }
        }
        Op::Unary(UnaryFunction::Cos, a) => {
            // cos' = −sin, the sign taken into the tangents' product (d·(−s)
            // = −(d·s) exactly): one pass over the block fewer.
            let mut sin = [0.0; W];
            vmath::sin_cos::<W, FMA>(v(a), &mut sin, out);
            tangent1(out_tangents, t(a), |d, l| -(d * sin[l]));
        }
        Op::Unary(function, a) => {
            let mut slope = [0.0; W];
            unary_lanes::<W, FMA>(function, v(a), out, &mut slope);
            tangent1(out_tangents, t(a), |d, l| d * slope[l]);
        }
    }
}

/// A one-argument function into `value` and its derivative into `slope`,
/// per lane.
#[inline(always)]
fn unary_lanes<const W: usize, const FMA: bool>(
    function: UnaryFunction,
    x: &[f64; W],
    value: &mut [f64; W],
    slope: &mut [f64; W],
) {
    match function {
        UnaryFunction::Exp => {
            vmath::exp::<W, FMA>(x, value);
            *slope = *value;
        }
        UnaryFunction::Ln => {
            vmath::ln::<W, FMA>(x, value);
            map(slope, x, |v| 1.0 / v);
        }
        UnaryFunction::Sqrt => {
            map(value, x, f64::sqrt);
            map(slope, value, |s| 0.5 / s);
        }
        UnaryFunction::Abs => {
            map(value, x, f64::abs);
            map(slope, x, f64::signum);
        }
        UnaryFunction::Sin => vmath::sin_cos::<W, FMA>(x, value, slope),
        UnaryFunction::Cos => {
            vmath::sin_cos::<W, FMA>(x, slope, value);
            for s in slope.iter_mut() {
                *s = -*s;
            }
        }
        _ => {
            for l in 0..W {
                (value[l], slope[l], _) = unary_local::<false>(function, x[l]);
            }
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
