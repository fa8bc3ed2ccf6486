//! Scalar evaluation of a [`Tape`]: the value alone, the value with the
//! gradient, or the value with gradient and Hessian, each in one pass.
//!
//! | active variables `m` | gradient                          | Hessian                              |
//! |----------------------|-----------------------------------|--------------------------------------|
//! | 0                    | value only, zero gradient         | value only                           |
//! | 1 to 4               | forward, registers `[f64; m + 1]` | forward second order, fixed width    |
//! | 5 and up             | reverse (one adjoint sweep)       | forward second order, runtime width  |
//!
//! Forward mode carries each register's value with its `m` partial
//! derivatives (and, for Hessians, the `m (m + 1) / 2` distinct second
//! partials), so a small tape costs one interpretation pass with a few
//! fused multiply-adds per instruction. For many variables, reverse mode
//! computes the value and each instruction's local partials forwards, then
//! accumulates adjoints backwards: the cost no longer grows with `m`.
//!
//! Gradients and Hessians of one or two variables, all declared ones used,
//! usually take a shortcut chosen when the tape is compiled (`small.rs`):
//! the same forward mode, specialised, without this module's per-call
//! decisions.
//!
//! The value and the fixed-width modes run the tape's fused steps
//! (`fused.rs`: one-operand chains applied in the CPU's registers, fewer
//! instructions to interpret); the wide modes run the plain tape, which is
//! also the tested reference of the fused steps (module `reference`).
//!
//! Tapes of up to [`STACK_REGISTERS`] registers keep them in arrays on the
//! stack; larger ones use a reused thread-local scratch buffer: no
//! evaluation allocates once the buffer has grown to the largest tape used
//! on the thread. Every mode computes the value with the same `f64`
//! operations as [`value`], so values agree bit for bit across modes.

use std::cell::RefCell;
use std::mem::MaybeUninit;

use super::fused::{Post, Shape, Step};
use super::local::{
    pow_local, powf_derivatives, powi, powi_derivatives, takes_second, unary_local, unary_value,
};
use super::program::{Op, Output, Reg, Tape};
use super::small::{self, Plan};

thread_local! {
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on `len` scratch numbers (contents unspecified), reusing this
/// thread's buffer; a nested call (none happens today) gets a fresh one.
#[inline(always)]
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f64]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < len {
                buffer.resize(len, 0.0);
            }
            f(&mut buffer[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// The output register, or the constant value of a tape without one.
fn output_register(output: Output) -> Result<usize, f64> {
    match output {
        Output::Constant(value) => Err(value),
        Output::Register(register) => Ok(register as usize),
    }
}

/// The value of one instruction in plain `f64`: the reference arithmetic
/// every other mode reproduces bit for bit.
#[inline(always)]
fn op_value(op: Op, r: impl Fn(Reg) -> f64) -> f64 {
    match op {
        Op::Const(c) => c,
        Op::Neg(a) => -r(a),
        Op::Add(a, b) => r(a) + r(b),
        Op::Sub(a, b) => r(a) - r(b),
        Op::Mul(a, b) => r(a) * r(b),
        Op::Div(a, b) => r(a) / r(b),
        Op::AddC(a, c) => r(a) + c,
        Op::CSub(c, b) => c - r(b),
        Op::MulC(a, c) => r(a) * c,
        Op::DivC(a, c) => r(a) / c,
        Op::CDiv(c, b) => c / r(b),
        Op::Min(a, b) | Op::Max(a, b) => {
            let (a, b) = (r(a), r(b));
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else if takes_second(matches!(op, Op::Max(..)), a, b) {
                b
            } else {
                a
            }
        }
        Op::Square(a) => r(a) * r(a),
        Op::PowI(a, n) => powi(r(a), n),
        Op::PowF(a, p) => r(a).powf(p),
        Op::CPow(c, b) => c.powf(r(b)),
        Op::Pow(a, b) => r(a).powf(r(b)),
        Op::Unary(function, a) => unary_value(function, r(a)),
    }
}

/// An instruction a sweep runs: a plain tape instruction (the reference
/// in tests) or a fused [`Step`] (what evaluation runs).
pub(crate) trait Instruction: Copy {
    /// The instruction proper.
    fn op(self) -> Op;
    /// The one-operand operations applied to its result, if any.
    fn post(self) -> Option<Post>;
}

impl Instruction for Op {
    #[inline(always)]
    fn op(self) -> Op {
        self
    }
    #[inline(always)]
    fn post(self) -> Option<Post> {
        None
    }
}

impl Instruction for Step {
    #[inline(always)]
    fn op(self) -> Op {
        self.op
    }
    #[inline(always)]
    fn post(self) -> Option<Post> {
        self.post
    }
}

/// `f(x)` (`x.len()` checked by the caller).
pub(crate) fn value(tape: &Tape, x: &[f64]) -> f64 {
    let fused = tape.fused();
    value_with(tape, &fused.steps, fused.output, x)
}

/// `f(x)` by running `code` (the tape's instructions or steps) with result
/// `output`.
fn value_with<I: Instruction>(tape: &Tape, code: &[I], output: Output, x: &[f64]) -> f64 {
    let output = match output_register(output) {
        Ok(register) => register,
        Err(value) => return value,
    };
    let count = tape.inputs() + code.len();
    if count <= STACK_REGISTERS {
        let mut values = [MaybeUninit::<f64>::uninit(); STACK_REGISTERS];
        value_sweep(tape, code, x, &mut values, output)
    } else {
        with_scratch(count, |values| {
            value_sweep(tape, code, x, as_uninit(values), output)
        })
    }
}

/// One plain sweep of `code` over `values` (at least one per input and
/// instruction); returns register `output`.
#[inline(always)]
fn value_sweep<I: Instruction>(
    tape: &Tape,
    code: &[I],
    x: &[f64],
    values: &mut [MaybeUninit<f64>],
    output: usize,
) -> f64 {
    let inputs = tape.inputs();
    let count = inputs + code.len();
    assert!(values.len() >= count && output < count);
    for (slot, &variable) in values.iter_mut().zip(tape.active()) {
        slot.write(x[variable]);
    }
    for (k, &instruction) in code.iter().enumerate() {
        // SAFETY: `values` has `count` registers; inputs are stored above
        // and instruction `k` reads only registers below `inputs + k`.
        unsafe {
            let mut v = op_value(instruction.op(), |r| read(values, r));
            if let Some(post) = instruction.post() {
                v = post_value(post, v, |r| read(values, r));
            }
            values.get_unchecked_mut(inputs + k).write(v);
        }
    }
    // SAFETY: `output < count`, and every register has been written.
    unsafe { read(values, output as Reg) }
}

/// `$apply::<$generics.., SQUARE, AFFINE, UNARY, PLUS>($args)` with the
/// flags of the [`Shape`] `$shape`: one branch to code that applies exactly
/// the parts present (the post-operations are written once, generic over
/// the flags, and monomorphized for each shape).
macro_rules! by_shape {
    ($shape:expr, $apply:ident $(::<$($generic:ident),*>)? ($($arg:expr),*)) => {
        match $shape {
            Shape::Square => $apply::<$($($generic,)*)? true, false, false, false>($($arg),*),
            Shape::Affine => $apply::<$($($generic,)*)? false, true, false, false>($($arg),*),
            Shape::SquareAffine => $apply::<$($($generic,)*)? true, true, false, false>($($arg),*),
            Shape::Unary => $apply::<$($($generic,)*)? false, false, true, false>($($arg),*),
            Shape::SquareUnary => $apply::<$($($generic,)*)? true, false, true, false>($($arg),*),
            Shape::AffineUnary => $apply::<$($($generic,)*)? false, true, true, false>($($arg),*),
            Shape::SquareAffineUnary => {
                $apply::<$($($generic,)*)? true, true, true, false>($($arg),*)
            }
            Shape::Plus => $apply::<$($($generic,)*)? false, false, false, true>($($arg),*),
            Shape::SquarePlus => $apply::<$($($generic,)*)? true, false, false, true>($($arg),*),
            Shape::AffinePlus => $apply::<$($($generic,)*)? false, true, false, true>($($arg),*),
            Shape::SquareAffinePlus => {
                $apply::<$($($generic,)*)? true, true, false, true>($($arg),*)
            }
            Shape::UnaryPlus => $apply::<$($($generic,)*)? false, false, true, true>($($arg),*),
            Shape::SquareUnaryPlus => {
                $apply::<$($($generic,)*)? true, false, true, true>($($arg),*)
            }
            Shape::AffineUnaryPlus => {
                $apply::<$($($generic,)*)? false, true, true, true>($($arg),*)
            }
            Shape::SquareAffineUnaryPlus => {
                $apply::<$($($generic,)*)? true, true, true, true>($($arg),*)
            }
        }
    };
}

/// `post` applied to the value `v` (`r` reads a register): the arithmetic
/// of `Square`, `MulC`, `AddC`, `Unary` and `Add` in [`op_value`].
#[inline(always)]
fn post_value(post: Post, v: f64, r: impl Fn(Reg) -> f64) -> f64 {
    by_shape!(post.shape, post_value_as(post, v, r))
}

/// [`post_value`] for a post of the given parts (`post.shape`).
#[inline(always)]
fn post_value_as<const SQUARE: bool, const AFFINE: bool, const UNARY: bool, const PLUS: bool>(
    post: Post,
    mut v: f64,
    r: impl Fn(Reg) -> f64,
) -> f64 {
    if SQUARE {
        v = v * v;
    }
    if AFFINE {
        v = v * post.scale + post.shift;
    }
    if let (true, Some(function)) = (UNARY, post.unary) {
        v = unary_value(function, v);
    }
    if PLUS {
        v += r(post.plus);
    }
    v
}

/// `f(x)` and its gradient (lengths checked by the caller).
#[inline]
pub(crate) fn value_gradient(tape: &Tape, x: &[f64], gradient: &mut [f64]) -> f64 {
    let fused = tape.fused();
    match tape.plan() {
        Plan::One => small::gradient::<1>(fused, &[[1.0]], point(x), point_mut(gradient)),
        Plan::Two { units } => small::gradient::<2>(fused, units, point(x), point_mut(gradient)),
        Plan::General => general_gradient(tape, x, gradient),
    }
}

/// [`value_gradient`] for [`Plan::General`]: by the number of active
/// variables. Not inlined into the dispatch, which would then pay this
/// function's frame setup on every small plan's call.
#[inline(never)]
fn general_gradient(tape: &Tape, x: &[f64], gradient: &mut [f64]) -> f64 {
    let fused = tape.fused();
    let (steps, output) = (&fused.steps[..], fused.output);
    match tape.inputs() {
        0 => {
            gradient.fill(0.0);
            value(tape, x)
        }
        1 => forward_gradient::<1, _>(tape, steps, output, x, gradient),
        2 => forward_gradient::<2, _>(tape, steps, output, x, gradient),
        3 => forward_gradient::<3, _>(tape, steps, output, x, gradient),
        4 => forward_gradient::<4, _>(tape, steps, output, x, gradient),
        _ => reverse_gradient(tape, x, gradient),
    }
}

/// Tapes with at most this many registers keep them in arrays on the
/// stack (no thread-local lookup, no borrow flag); larger ones use the
/// thread's scratch buffer.
pub(super) const STACK_REGISTERS: usize = 32;

/// Views initialized numbers as possibly uninitialized storage, so that the
/// stack arrays and the scratch buffer share one sweep.
#[inline(always)]
fn as_uninit<T>(slice: &mut [T]) -> &mut [MaybeUninit<T>] {
    // SAFETY: `MaybeUninit<T>` has the layout of `T`, and the sweeps only
    // ever write initialized values through the view.
    unsafe { &mut *(slice as *mut [T] as *mut [MaybeUninit<T>]) }
}

/// Register `r` of `file`.
///
/// Hand-written unchecked access because the bounds checks and branches
/// are a measurable part of a small tape's cost, and the compiler cannot
/// prove them away.
///
/// # Safety
///
/// `r < file.len()`, and register `r` has been written. Both hold for every
/// operand of a [`Tape`] instruction when `file` has
/// [`Tape::registers`] entries and the inputs and earlier instructions have
/// been stored: the compiler only emits operands below the instruction's own
/// register ([`Tape::is_well_formed`]).
#[inline(always)]
pub(super) unsafe fn read<T: Copy>(file: &[MaybeUninit<T>], r: Reg) -> T {
    debug_assert!((r as usize) < file.len());
    // SAFETY: the caller's contract.
    unsafe { file.get_unchecked(r as usize).assume_init() }
}

/// Forward mode with `N` tangents running `code` (result `output`),
/// registers on the stack for small tapes.
fn forward_gradient<const N: usize, I: Instruction>(
    tape: &Tape,
    code: &[I],
    output: Output,
    x: &[f64],
    gradient: &mut [f64],
) -> f64 {
    debug_assert_eq!(tape.inputs(), N);
    let output = match output_register(output) {
        Ok(register) => register,
        Err(value) => {
            gradient.fill(0.0);
            return value;
        }
    };
    let count = N + code.len();
    let (value, tangent) = if count <= STACK_REGISTERS {
        let mut values = [MaybeUninit::<f64>::uninit(); STACK_REGISTERS];
        let mut tangents = [MaybeUninit::<[f64; N]>::uninit(); STACK_REGISTERS];
        forward_sweep::<N, I>(tape, code, x, &mut values, &mut tangents, output)
    } else {
        with_scratch(count * (N + 1), |buffer| {
            let (values, rest) = buffer.split_at_mut(count);
            let (tangents, _) = rest.as_chunks_mut::<N>();
            forward_sweep::<N, I>(
                tape,
                code,
                x,
                as_uninit(values),
                as_uninit(tangents),
                output,
            )
        })
    };
    store_gradient(tape, &tangent, gradient);
    value
}

/// One forward sweep of `code` over registers `values` and `tangents` (at
/// least one per input and instruction each); returns the value and
/// tangent of `output`.
/// Values and tangents are kept in separate arrays, each always read and
/// written whole (mixing partial and whole accesses to one register
/// defeats the CPU's store forwarding). From two variables on, the inputs'
/// unit tangents are computed, not stored: the compiler stores them in
/// pieces (`1, 0 | 0, 1` as `1 | 0 0 | 1`), and loading one whole would
/// wait for both pieces. (Measured: with one variable, storing is cheaper.)
#[inline(always)]
fn forward_sweep<const N: usize, I: Instruction>(
    tape: &Tape,
    code: &[I],
    x: &[f64],
    values: &mut [MaybeUninit<f64>],
    tangents: &mut [MaybeUninit<[f64; N]>],
    output: usize,
) -> (f64, [f64; N]) {
    let count = N + code.len();
    assert!(values.len() >= count && tangents.len() >= count && output < count);
    load_inputs::<N>(tape, x, values);
    if N == 1 {
        tangents[0].write(unit(0));
    }
    // SAFETY (for every `read`): both files have `count` registers; inputs
    // are stored above (or their tangents computed here), and instruction
    // `k` reads only registers below `N + k`, all written before it.
    let tangent = |tangents: &[MaybeUninit<[f64; N]>], r: Reg| unsafe {
        if N > 1 && (r as usize) < N {
            unit(r)
        } else {
            read(tangents, r)
        }
    };
    for (k, &instruction) in code.iter().enumerate() {
        let (mut v, mut t) = tangent_op::<N>(
            instruction.op(),
            // SAFETY: as above.
            |r| unsafe { read(values, r) },
            |r| tangent(tangents, r),
        );
        if let Some(post) = instruction.post() {
            (v, t) = post_tangent(
                post,
                v,
                t,
                // SAFETY: as above.
                |r| unsafe { read(values, r) },
                |r| tangent(tangents, r),
            );
        }
        // SAFETY: `N + k < count`.
        unsafe {
            values.get_unchecked_mut(N + k).write(v);
            tangents.get_unchecked_mut(N + k).write(t);
        }
    }
    // SAFETY: `output < count`, and every register has been written.
    unsafe {
        (
            read(values, output as Reg),
            tangent(tangents, output as Reg),
        )
    }
}

/// The derivative of input register `r` with respect to the inputs.
#[inline(always)]
fn unit<const N: usize>(r: Reg) -> [f64; N] {
    std::array::from_fn(|j| if j == r as usize { 1.0 } else { 0.0 })
}

/// `post` applied to the value `v` with tangent `t` (`rv` and `rt` read a
/// register's value and tangent): the arithmetic of `Square`, `MulC`,
/// `AddC`, `Unary` and `Add` in [`tangent_op`].
#[inline(always)]
pub(super) fn post_tangent<const N: usize>(
    post: Post,
    v: f64,
    t: [f64; N],
    rv: impl Fn(Reg) -> f64,
    rt: impl Fn(Reg) -> [f64; N],
) -> (f64, [f64; N]) {
    by_shape!(post.shape, post_tangent_as::<N>(post, v, t, rv, rt))
}

/// [`post_tangent`] for a post of the given parts (`post.shape`). An
/// affine part that is only a `MulC` adds `-0` to the value, and one that
/// is only an `AddC` multiplies value and tangent by 1: exact identities.
#[inline(always)]
fn post_tangent_as<
    const N: usize,
    const SQUARE: bool,
    const AFFINE: bool,
    const UNARY: bool,
    const PLUS: bool,
>(
    post: Post,
    mut v: f64,
    mut t: [f64; N],
    rv: impl Fn(Reg) -> f64,
    rt: impl Fn(Reg) -> [f64; N],
) -> (f64, [f64; N]) {
    if SQUARE {
        let slope = 2.0 * v;
        (v, t) = (v * v, t.map(|d| d * slope));
    }
    if AFFINE {
        let scale = post.scale;
        (v, t) = (v * scale + post.shift, t.map(|d| d * scale));
    }
    if let (true, Some(function)) = (UNARY, post.unary) {
        let (value, slope, _) = unary_local::<false>(function, v);
        (v, t) = (value, t.map(|d| d * slope));
    }
    if PLUS {
        let other = rt(post.plus);
        (v, t) = (v + rv(post.plus), std::array::from_fn(|i| t[i] + other[i]));
    }
    (v, t)
}

/// Copies the `N` active coordinates of `x` into the first registers.
#[inline(always)]
fn load_inputs<const N: usize>(tape: &Tape, x: &[f64], values: &mut [MaybeUninit<f64>]) {
    if tape.all_active() {
        for (slot, &xi) in values[..N].iter_mut().zip(&x[..N]) {
            slot.write(xi);
        }
    } else {
        for (slot, &variable) in values[..N].iter_mut().zip(tape.active()) {
            slot.write(x[variable]);
        }
    }
}

/// Writes the active variables' partials, zeros elsewhere.
#[inline(always)]
fn store_gradient<const N: usize>(tape: &Tape, partials: &[f64; N], gradient: &mut [f64]) {
    if tape.all_active() {
        gradient[..N].copy_from_slice(partials);
    } else {
        gradient.fill(0.0);
        for (&partial, &variable) in partials.iter().zip(tape.active()) {
            gradient[variable] = partial;
        }
    }
}

/// One instruction on values with tangents (`v` and `t` load an operand's
/// value and tangent): the value and the tangent of the result.
#[inline(always)]
pub(super) fn tangent_op<const N: usize>(
    op: Op,
    v: impl Fn(Reg) -> f64,
    t: impl Fn(Reg) -> [f64; N],
) -> (f64, [f64; N]) {
    // The chain rule through one operand.
    let scaled = |register: Reg, slope: f64| t(register).map(|d| d * slope);
    match op {
        Op::Const(c) => (c, [0.0; N]),
        Op::Neg(a) => (-v(a), t(a).map(|d| -d)),
        Op::Add(a, b) => {
            let (ta, tb) = (t(a), t(b));
            (v(a) + v(b), std::array::from_fn(|i| ta[i] + tb[i]))
        }
        Op::Sub(a, b) => {
            let (ta, tb) = (t(a), t(b));
            (v(a) - v(b), std::array::from_fn(|i| ta[i] - tb[i]))
        }
        Op::Mul(a, b) => {
            let (ta, tb, va, vb) = (t(a), t(b), v(a), v(b));
            (va * vb, std::array::from_fn(|i| ta[i] * vb + tb[i] * va))
        }
        Op::Div(a, b) => {
            let (ta, tb, vb) = (t(a), t(b), v(b));
            let value = v(a) / vb;
            (value, std::array::from_fn(|i| (ta[i] - tb[i] * value) / vb))
        }
        Op::AddC(a, c) => (v(a) + c, t(a)),
        Op::CSub(c, b) => (c - v(b), t(b).map(|d| -d)),
        Op::MulC(a, c) => (v(a) * c, scaled(a, c)),
        Op::DivC(a, c) => (v(a) / c, t(a).map(|d| d / c)),
        Op::CDiv(c, b) => {
            let value = c / v(b);
            (value, scaled(b, -value / v(b)))
        }
        Op::Min(a, b) | Op::Max(a, b) => {
            let (va, vb) = (v(a), v(b));
            if va.is_nan() || vb.is_nan() {
                (f64::NAN, [0.0; N])
            } else if takes_second(matches!(op, Op::Max(..)), va, vb) {
                (vb, t(b))
            } else {
                (va, t(a))
            }
        }
        Op::Square(a) => {
            let va = v(a);
            (va * va, scaled(a, 2.0 * va))
        }
        Op::PowI(a, n) => {
            let va = v(a);
            (powi(va, n), scaled(a, powi_derivatives(va, n).0))
        }
        Op::PowF(a, p) => {
            let va = v(a);
            (va.powf(p), scaled(a, powf_derivatives(va, p).0))
        }
        Op::CPow(c, b) => {
            let value = c.powf(v(b));
            (value, scaled(b, value * c.ln()))
        }
        Op::Pow(a, b) => {
            let (ta, tb, va, vb) = (t(a), t(b), v(a), v(b));
            let value = va.powf(vb);
            let [ga, gb, ..] = pow_local::<false>(value, va, vb);
            (value, std::array::from_fn(|i| ta[i] * ga + tb[i] * gb))
        }
        Op::Unary(function, a) => {
            let (value, slope, _) = unary_local::<false>(function, v(a));
            (value, scaled(a, slope))
        }
    }
}

/// Reverse mode: values and local partials forwards, adjoints backwards.
fn reverse_gradient(tape: &Tape, x: &[f64], gradient: &mut [f64]) -> f64 {
    let output = match output_register(tape.output()) {
        Ok(register) => register,
        Err(value) => {
            gradient.fill(0.0);
            return value;
        }
    };
    let (inputs, count) = (tape.inputs(), tape.registers());
    let ops = tape.ops();
    gradient.fill(0.0);
    with_scratch(2 * count + 2 * ops.len(), |buffer| {
        let (values, rest) = buffer.split_at_mut(count);
        let (adjoints, rest) = rest.split_at_mut(count);
        let (first, second) = rest.split_at_mut(ops.len());
        for (slot, &variable) in values.iter_mut().zip(tape.active()) {
            *slot = x[variable];
        }
        for (k, &op) in ops.iter().enumerate() {
            let (v, da, db) = partials(op, values);
            values[inputs + k] = v;
            first[k] = da;
            second[k] = db;
        }
        adjoints.fill(0.0);
        adjoints[output] = 1.0;
        for (k, &op) in ops.iter().enumerate().rev() {
            let weight = adjoints[inputs + k];
            let (a, b) = op.operands();
            if let Some(a) = a {
                adjoints[a as usize] += first[k] * weight;
            }
            if let Some(b) = b {
                adjoints[b as usize] += second[k] * weight;
            }
        }
        for (i, &variable) in tape.active().iter().enumerate() {
            gradient[variable] = adjoints[i];
        }
        values[output]
    })
}

/// The value of one instruction and its partial derivatives with respect
/// to its first and second operand register (0 where there is none).
#[inline(always)]
fn partials(op: Op, values: &[f64]) -> (f64, f64, f64) {
    let r = |register: Reg| values[register as usize];
    let v = op_value(op, r);
    let (da, db) = match op {
        Op::Const(_) => (0.0, 0.0),
        Op::Neg(_) | Op::CSub(..) => (-1.0, 0.0),
        Op::Add(..) | Op::AddC(..) => (1.0, 1.0),
        Op::Sub(..) => (1.0, -1.0),
        Op::Mul(a, b) => (r(b), r(a)),
        Op::Div(_, b) => (1.0 / r(b), -v / r(b)),
        Op::MulC(_, c) => (c, 0.0),
        Op::DivC(_, c) => (1.0 / c, 0.0),
        Op::CDiv(_, b) => (-v / r(b), 0.0),
        Op::Min(a, b) | Op::Max(a, b) => {
            if v.is_nan() {
                (0.0, 0.0)
            } else if takes_second(matches!(op, Op::Max(..)), r(a), r(b)) {
                (0.0, 1.0)
            } else {
                (1.0, 0.0)
            }
        }
        Op::Square(a) => (2.0 * r(a), 0.0),
        Op::PowI(a, n) => (powi_derivatives(r(a), n).0, 0.0),
        Op::PowF(a, p) => (powf_derivatives(r(a), p).0, 0.0),
        Op::CPow(c, _) => (v * c.ln(), 0.0),
        Op::Pow(a, b) => {
            let [ga, gb, ..] = pow_local::<false>(v, r(a), r(b));
            (ga, gb)
        }
        Op::Unary(function, a) => (unary_local::<false>(function, r(a)).1, 0.0),
    };
    (v, da, db)
}

/// `f(x)`, gradient and row-major Hessian (lengths checked by the caller).
#[inline]
pub(crate) fn value_gradient_hessian(
    tape: &Tape,
    x: &[f64],
    gradient: &mut [f64],
    hessian: &mut [f64],
) -> f64 {
    let fused = tape.fused();
    match tape.plan() {
        Plan::One => small::hessian::<1, 1>(
            fused,
            &[[1.0]],
            point(x),
            point_mut(gradient),
            rows(hessian),
        ),
        Plan::Two { units } => {
            small::hessian::<2, 3>(fused, units, point(x), point_mut(gradient), rows(hessian))
        }
        Plan::General => general_hessian(tape, x, gradient, hessian),
    }
}

/// `f(x)` and its gradient if the tape has a small plan and the lengths
/// are right (`None` otherwise, with nothing written): the fast path of
/// [`Formula::value_gradient`](super::Formula::value_gradient), which
/// checks the lengths as it converts the slices to the arrays the small
/// evaluators take (for a small plan the dimension is its `N`).
#[inline(always)]
pub(crate) fn small_gradient(tape: &Tape, x: &[f64], gradient: &mut [f64]) -> Option<f64> {
    let fused = tape.fused();
    Some(match tape.plan() {
        Plan::One => small::gradient::<1>(
            fused,
            &[[1.0]],
            x.try_into().ok()?,
            gradient.try_into().ok()?,
        ),
        Plan::Two { units } => {
            small::gradient::<2>(fused, units, x.try_into().ok()?, gradient.try_into().ok()?)
        }
        Plan::General => return None,
    })
}

/// [`small_gradient`] with the Hessian, for
/// [`Formula::value_gradient_hessian`](super::Formula::value_gradient_hessian).
#[inline(always)]
pub(crate) fn small_hessian(
    tape: &Tape,
    x: &[f64],
    gradient: &mut [f64],
    hessian: &mut [f64],
) -> Option<f64> {
    let fused = tape.fused();
    Some(match tape.plan() {
        Plan::One => small::hessian::<1, 1>(
            fused,
            &[[1.0]],
            x.try_into().ok()?,
            gradient.try_into().ok()?,
            square_rows(hessian)?,
        ),
        Plan::Two { units } => small::hessian::<2, 3>(
            fused,
            units,
            x.try_into().ok()?,
            gradient.try_into().ok()?,
            square_rows(hessian)?,
        ),
        Plan::General => return None,
    })
}

/// A row-major `N × N` matrix as its rows; `None` for another length.
#[inline(always)]
fn square_rows<const N: usize>(matrix: &mut [f64]) -> Option<&mut [[f64; N]; N]> {
    match matrix.as_chunks_mut() {
        (rows, []) => rows.try_into().ok(),
        _ => None,
    }
}

/// The first `N` numbers of `x` as an array (the small plans' evaluators
/// take arrays). The caller has checked that `x` has the length of a
/// point, `N` for a small plan; a shorter one panics.
#[inline(always)]
fn point<const N: usize>(x: &[f64]) -> &[f64; N] {
    x.first_chunk().expect("a point of the formula's dimension")
}

/// [`point`] for a gradient.
#[inline(always)]
fn point_mut<const N: usize>(x: &mut [f64]) -> &mut [f64; N] {
    x.first_chunk_mut()
        .expect("a gradient of the formula's dimension")
}

/// The first `N` rows of `N` numbers of a row-major Hessian (its length is
/// checked by the caller, as in [`point`]).
#[inline(always)]
fn rows<const N: usize>(hessian: &mut [f64]) -> &mut [[f64; N]; N] {
    hessian
        .as_chunks_mut()
        .0
        .first_chunk_mut()
        .expect("a Hessian of the formula's dimension squared")
}

/// [`value_gradient_hessian`] for [`Plan::General`] (not inlined, as
/// [`general_gradient`]).
#[inline(never)]
fn general_hessian(tape: &Tape, x: &[f64], gradient: &mut [f64], hessian: &mut [f64]) -> f64 {
    let fused = tape.fused();
    let (steps, output) = (&fused.steps[..], fused.output);
    match tape.inputs() {
        0 => {
            gradient.fill(0.0);
            hessian.fill(0.0);
            value(tape, x)
        }
        1 => fixed_hessian::<1, 1, _>(tape, steps, output, x, gradient, hessian),
        2 => fixed_hessian::<2, 3, _>(tape, steps, output, x, gradient, hessian),
        3 => fixed_hessian::<3, 6, _>(tape, steps, output, x, gradient, hessian),
        4 => fixed_hessian::<4, 10, _>(tape, steps, output, x, gradient, hessian),
        _ => forward_hessian(tape, x, gradient, hessian),
    }
}

/// A second-order register of `N` variables: value, gradient, and the
/// upper triangle of the Hessian row by row (`T = N (N + 1) / 2`).
#[derive(Clone, Copy)]
pub(super) struct Jet<const N: usize, const T: usize> {
    pub v: f64,
    pub g: [f64; N],
    pub h: [f64; T],
}

impl<const N: usize, const T: usize> Jet<N, T> {
    const ZERO: Self = Jet {
        v: 0.0,
        g: [0.0; N],
        h: [0.0; T],
    };

    /// `h[k] = f(i, j, k)` over the pairs `i <= j` in row order.
    #[inline(always)]
    fn pairs(mut f: impl FnMut(usize, usize, usize) -> f64) -> [f64; T] {
        let mut h = [0.0; T];
        let mut k = 0;
        for i in 0..N {
            for j in i..N {
                h[k] = f(i, j, k);
                k += 1;
            }
        }
        h
    }

    /// The chain rule through a scalar function with slope `d1` and
    /// curvature `d2` at `self.v`; the same arithmetic as [`chain2`].
    #[inline(always)]
    fn chain(self, v: f64, d1: f64, d2: f64) -> Self {
        let g = self.g;
        Jet {
            v,
            g: g.map(|d| d * d1),
            h: Self::pairs(|i, j, k| self.h[k] * d1 + d2 * (g[i] * g[j])),
        }
    }

    /// The sum of two jets, part by part (`Add`).
    #[inline(always)]
    fn plus(&self, b: &Self) -> Self {
        Jet {
            v: self.v + b.v,
            g: std::array::from_fn(|i| self.g[i] + b.g[i]),
            h: std::array::from_fn(|k| self.h[k] + b.h[k]),
        }
    }

    /// Every derivative part times `s`, with value `v`.
    #[inline(always)]
    fn scaled(self, v: f64, s: f64) -> Self {
        Jet {
            v,
            g: self.g.map(|d| d * s),
            h: self.h.map(|d| d * s),
        }
    }

    /// The Hessian part of the general two-operand rule ([`binary2_hessian`]).
    #[inline(always)]
    fn binary_hessian(a: &Self, b: &Self, g: [f64; 5]) -> [f64; T] {
        let [ga, gb, gaa, gab, gbb] = g;
        let (p, q) = (a.g, b.g);
        Self::pairs(|i, j, k| {
            a.h[k] * ga
                + b.h[k] * gb
                + (gaa * (p[i] * p[j]) + gab * (p[i] * q[j] + p[j] * q[i]) + gbb * (q[i] * q[j]))
        })
    }
}

/// Second-order forward mode for `N` active variables running `code`
/// (result `output`), on [`Jet`] registers (on the stack for small tapes).
fn fixed_hessian<const N: usize, const T: usize, I: Instruction>(
    tape: &Tape,
    code: &[I],
    output: Output,
    x: &[f64],
    gradient: &mut [f64],
    hessian: &mut [f64],
) -> f64 {
    debug_assert_eq!((N, T), (tape.inputs(), N * (N + 1) / 2));
    let output = match output_register(output) {
        Ok(register) => register,
        Err(value) => {
            gradient.fill(0.0);
            hessian.fill(0.0);
            return value;
        }
    };
    let count = N + code.len();
    let result = if count <= STACK_REGISTERS {
        let mut values = [MaybeUninit::<f64>::uninit(); STACK_REGISTERS];
        let mut gradients = [MaybeUninit::<[f64; N]>::uninit(); STACK_REGISTERS];
        let mut hessians = [MaybeUninit::<[f64; T]>::uninit(); STACK_REGISTERS];
        jet_sweep(
            tape,
            code,
            x,
            &mut values,
            &mut gradients,
            &mut hessians,
            output,
        )
    } else {
        with_scratch(count * (1 + N + T), |buffer| {
            let (values, rest) = buffer.split_at_mut(count);
            let (gradients, rest) = rest.split_at_mut(count * N);
            let (gradients, _) = gradients.as_chunks_mut::<N>();
            let (hessians, _) = rest.as_chunks_mut::<T>();
            jet_sweep(
                tape,
                code,
                x,
                as_uninit(values),
                as_uninit(gradients),
                as_uninit(hessians),
                output,
            )
        })
    };
    store_gradient(tape, &result.g, gradient);
    let dim = gradient.len();
    if tape.all_active() {
        // Variable `i` is register `i`: the triangle goes straight in.
        let hessian = &mut hessian[..N * N];
        let mut k = 0;
        for i in 0..N {
            for j in i..N {
                hessian[i * N + j] = result.h[k];
                hessian[j * N + i] = result.h[k];
                k += 1;
            }
        }
        return result.v;
    }
    hessian.fill(0.0);
    let active = tape.active();
    let mut k = 0;
    for i in 0..N {
        for j in i..N {
            let (vi, vj) = (active[i], active[j]);
            hessian[vi * dim + vj] = result.h[k];
            hessian[vj * dim + vi] = result.h[k];
            k += 1;
        }
    }
    result.v
}

/// One second-order sweep of `code` over [`Jet`] registers split into
/// values, gradients and Hessians (at least one per input and instruction, each part
/// always read and written whole, as in [`forward_sweep`]); returns the
/// jet of `output`.
#[inline(always)]
fn jet_sweep<const N: usize, const T: usize, I: Instruction>(
    tape: &Tape,
    code: &[I],
    x: &[f64],
    values: &mut [MaybeUninit<f64>],
    gradients: &mut [MaybeUninit<[f64; N]>],
    hessians: &mut [MaybeUninit<[f64; T]>],
    output: usize,
) -> Jet<N, T> {
    let count = N + code.len();
    assert!(
        values.len() >= count
            && gradients.len() >= count
            && hessians.len() >= count
            && output < count
    );
    load_inputs::<N>(tape, x, values);
    if N == 1 {
        gradients[0].write(unit(0));
        hessians[0].write([0.0; T]);
    }
    // SAFETY (for every `read`): the files have `count` registers; inputs
    // are stored above (or their derivative parts computed here, from two
    // variables on, as in `forward_sweep`), and instruction `k` reads only
    // registers below `N + k`, all written before it.
    let load = |values: &[MaybeUninit<f64>],
                gradients: &[MaybeUninit<[f64; N]>],
                hessians: &[MaybeUninit<[f64; T]>],
                r: Reg| unsafe {
        if N > 1 && (r as usize) < N {
            Jet {
                v: read(values, r),
                g: unit(r),
                h: [0.0; T],
            }
        } else {
            Jet {
                v: read(values, r),
                g: read(gradients, r),
                h: read(hessians, r),
            }
        }
    };
    for (k, &instruction) in code.iter().enumerate() {
        let mut jet = jet_op(instruction.op(), |r: Reg| {
            load(values, gradients, hessians, r)
        });
        if let Some(post) = instruction.post() {
            jet = post_jet(post, jet, |r: Reg| load(values, gradients, hessians, r));
        }
        // SAFETY: `N + k < count`.
        unsafe {
            values.get_unchecked_mut(N + k).write(jet.v);
            gradients.get_unchecked_mut(N + k).write(jet.g);
            hessians.get_unchecked_mut(N + k).write(jet.h);
        }
    }
    load(values, gradients, hessians, output as Reg)
}

/// `post` applied to `a` (`r` reads a register): the arithmetic of
/// `Square`, `MulC`, `AddC`, `Unary` and `Add` in [`jet_op`].
#[inline(always)]
pub(super) fn post_jet<const N: usize, const T: usize>(
    post: Post,
    a: Jet<N, T>,
    r: impl Fn(Reg) -> Jet<N, T>,
) -> Jet<N, T> {
    by_shape!(post.shape, post_jet_as::<N, T>(post, a, r))
}

/// [`post_jet`] for a post of the given parts (`post.shape`), with the
/// exact identities of [`post_tangent_as`] (`AddC` keeps the derivative
/// parts, here multiplied by exactly 1).
#[inline(always)]
fn post_jet_as<
    const N: usize,
    const T: usize,
    const SQUARE: bool,
    const AFFINE: bool,
    const UNARY: bool,
    const PLUS: bool,
>(
    post: Post,
    mut a: Jet<N, T>,
    r: impl Fn(Reg) -> Jet<N, T>,
) -> Jet<N, T> {
    if SQUARE {
        a = a.chain(a.v * a.v, 2.0 * a.v, 2.0);
    }
    if AFFINE {
        a = a.scaled(a.v * post.scale, post.scale);
        a.v += post.shift;
    }
    if let (true, Some(function)) = (UNARY, post.unary) {
        let (v, d1, d2) = unary_local::<true>(function, a.v);
        a = a.chain(v, d1, d2);
    }
    if PLUS {
        a = a.plus(&r(post.plus));
    }
    a
}

/// One instruction on [`Jet`] registers (`r` loads one); the arithmetic
/// of [`second_order_op`], and of [`tangent_op`] in the gradient part.
#[inline(always)]
pub(super) fn jet_op<const N: usize, const T: usize>(
    op: Op,
    r: impl Fn(Reg) -> Jet<N, T>,
) -> Jet<N, T> {
    match op {
        Op::Const(c) => Jet { v: c, ..Jet::ZERO },
        Op::Neg(a) => {
            let a = r(a);
            a.scaled(-a.v, -1.0)
        }
        Op::Add(a, b) => r(a).plus(&r(b)),
        Op::Sub(a, b) => {
            let (a, b) = (r(a), r(b));
            Jet {
                v: a.v - b.v,
                g: std::array::from_fn(|i| a.g[i] - b.g[i]),
                h: std::array::from_fn(|k| a.h[k] - b.h[k]),
            }
        }
        Op::Mul(a, b) => {
            let (a, b) = (r(a), r(b));
            Jet {
                v: a.v * b.v,
                g: std::array::from_fn(|i| a.g[i] * b.v + b.g[i] * a.v),
                h: Jet::<N, T>::pairs(|i, j, k| {
                    a.h[k] * b.v + b.h[k] * a.v + (a.g[i] * b.g[j] + a.g[j] * b.g[i])
                }),
            }
        }
        Op::Div(a, b) => {
            let (a, b) = (r(a), r(b));
            let v = a.v / b.v;
            let inverse = 1.0 / b.v;
            let g = [
                inverse,
                -v * inverse,
                0.0,
                -(inverse * inverse),
                2.0 * v * (inverse * inverse),
            ];
            Jet {
                v,
                g: std::array::from_fn(|i| (a.g[i] - b.g[i] * v) / b.v),
                h: Jet::binary_hessian(&a, &b, g),
            }
        }
        Op::AddC(a, c) => {
            let a = r(a);
            Jet { v: a.v + c, ..a }
        }
        Op::CSub(c, b) => {
            let b = r(b);
            b.scaled(c - b.v, -1.0)
        }
        Op::MulC(a, c) => {
            let a = r(a);
            a.scaled(a.v * c, c)
        }
        Op::DivC(a, c) => {
            let a = r(a);
            Jet {
                v: a.v / c,
                g: a.g.map(|d| d / c),
                h: a.h.map(|d| d / c),
            }
        }
        Op::CDiv(c, b) => {
            let b = r(b);
            let v = c / b.v;
            let slope = -v / b.v;
            b.chain(v, slope, -2.0 * slope / b.v)
        }
        Op::Min(a, b) | Op::Max(a, b) => {
            let (a, b) = (r(a), r(b));
            if a.v.is_nan() || b.v.is_nan() {
                Jet {
                    v: f64::NAN,
                    ..Jet::ZERO
                }
            } else if takes_second(matches!(op, Op::Max(..)), a.v, b.v) {
                b
            } else {
                a
            }
        }
        Op::Square(a) => {
            let a = r(a);
            a.chain(a.v * a.v, 2.0 * a.v, 2.0)
        }
        Op::PowI(a, n) => {
            let a = r(a);
            let (d1, d2) = powi_derivatives(a.v, n);
            a.chain(powi(a.v, n), d1, d2)
        }
        Op::PowF(a, p) => {
            let a = r(a);
            let (d1, d2) = powf_derivatives(a.v, p);
            a.chain(a.v.powf(p), d1, d2)
        }
        Op::CPow(c, b) => {
            let b = r(b);
            let (v, ln) = (c.powf(b.v), c.ln());
            let slope = v * ln;
            b.chain(v, slope, slope * ln)
        }
        Op::Pow(a, b) => {
            let (a, b) = (r(a), r(b));
            let v = a.v.powf(b.v);
            let g = pow_local::<true>(v, a.v, b.v);
            Jet {
                v,
                g: std::array::from_fn(|i| a.g[i] * g[0] + b.g[i] * g[1]),
                h: Jet::binary_hessian(&a, &b, g),
            }
        }
        Op::Unary(function, a) => {
            let a = r(a);
            let (v, d1, d2) = unary_local::<true>(function, a.v);
            a.chain(v, d1, d2)
        }
    }
}

/// Second-order forward mode on flat registers of runtime width:
/// `[value, gradient (m), upper triangle of the Hessian row by row
/// (m (m + 1) / 2)]`, for more than four active variables.
fn forward_hessian(tape: &Tape, x: &[f64], gradient: &mut [f64], hessian: &mut [f64]) -> f64 {
    let m = tape.inputs();
    let width = 1 + m + m * (m + 1) / 2;
    let output = match output_register(tape.output()) {
        Ok(register) => register,
        Err(value) => {
            gradient.fill(0.0);
            hessian.fill(0.0);
            return value;
        }
    };
    let dim = gradient.len();
    gradient.fill(0.0);
    hessian.fill(0.0);
    with_scratch(tape.registers() * width, |registers| {
        for (i, &variable) in tape.active().iter().enumerate() {
            let slot = &mut registers[i * width..][..width];
            slot.fill(0.0);
            slot[0] = x[variable];
            slot[1 + i] = 1.0;
        }
        for (k, &op) in tape.ops().iter().enumerate() {
            let (done, rest) = registers.split_at_mut((m + k) * width);
            let register = |r: Reg| &done[r as usize * width..][..width];
            second_order_op(op, m, register, &mut rest[..width]);
        }
        let result = &registers[output * width..][..width];
        let mut index = 1 + m;
        for (i, &vi) in tape.active().iter().enumerate() {
            gradient[vi] = result[1 + i];
            for &vj in &tape.active()[i..] {
                hessian[vi * dim + vj] = result[index];
                hessian[vj * dim + vi] = result[index];
                index += 1;
            }
        }
        result[0]
    })
}

/// `out = chain(a)` with slope `d1` and curvature `d2`: gradient `d1 ∇a`,
/// Hessian `d1 ∇²a + d2 ∇a ∇aᵀ`.
#[inline(always)]
fn chain2(out: &mut [f64], m: usize, v: f64, a: &[f64], d1: f64, d2: f64) {
    out[0] = v;
    for i in 1..=m {
        out[i] = a[i] * d1;
    }
    let mut index = 1 + m;
    for i in 1..=m {
        for j in i..=m {
            out[index] = a[index] * d1 + d2 * (a[i] * a[j]);
            index += 1;
        }
    }
}

/// `out = s * a` in every derivative part (value set by the caller).
#[inline(always)]
fn scale2(out: &mut [f64], a: &[f64], s: f64) {
    for (o, &d) in out.iter_mut().zip(a).skip(1) {
        *o = d * s;
    }
}

/// The general two-operand rule with local partials
/// `[ga, gb, gaa, gab, gbb]`; the gradient part is `ga ∇a + gb ∇b`.
#[inline(always)]
fn binary2(out: &mut [f64], m: usize, v: f64, a: &[f64], b: &[f64], g: [f64; 5]) {
    let [ga, gb, ..] = g;
    out[0] = v;
    for i in 1..=m {
        out[i] = a[i] * ga + b[i] * gb;
    }
    binary2_hessian(out, m, a, b, g);
}

/// The Hessian part of [`binary2`].
#[inline(always)]
fn binary2_hessian(out: &mut [f64], m: usize, a: &[f64], b: &[f64], g: [f64; 5]) {
    let [ga, gb, gaa, gab, gbb] = g;
    let mut index = 1 + m;
    for i in 1..=m {
        for j in i..=m {
            out[index] = a[index] * ga
                + b[index] * gb
                + (gaa * (a[i] * a[j]) + gab * (a[i] * b[j] + a[j] * b[i]) + gbb * (b[i] * b[j]));
            index += 1;
        }
    }
}

/// One instruction on second-order registers.
#[inline(always)]
fn second_order_op<'a>(op: Op, m: usize, r: impl Fn(Reg) -> &'a [f64], out: &mut [f64]) {
    match op {
        Op::Const(c) => {
            out.fill(0.0);
            out[0] = c;
        }
        Op::Neg(a) => {
            let a = r(a);
            out[0] = -a[0];
            scale2(out, a, -1.0);
        }
        Op::Add(a, b) | Op::Sub(a, b) => {
            let (a, b) = (r(a), r(b));
            if matches!(op, Op::Add(..)) {
                for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                    *o = x + y;
                }
            } else {
                for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                    *o = x - y;
                }
            }
        }
        Op::Mul(a, b) => {
            let (a, b) = (r(a), r(b));
            let g = [b[0], a[0], 0.0, 1.0, 0.0];
            let [ga, gb, ..] = g;
            out[0] = a[0] * b[0];
            for i in 1..=m {
                out[i] = a[i] * ga + b[i] * gb;
            }
            let mut index = 1 + m;
            for i in 1..=m {
                for j in i..=m {
                    out[index] = a[index] * ga + b[index] * gb + (a[i] * b[j] + a[j] * b[i]);
                    index += 1;
                }
            }
        }
        Op::Div(a, b) => {
            let (a, b) = (r(a), r(b));
            let v = a[0] / b[0];
            out[0] = v;
            for i in 1..=m {
                out[i] = (a[i] - b[i] * v) / b[0];
            }
            let inverse = 1.0 / b[0];
            let g = [
                inverse,
                -v * inverse,
                0.0,
                -(inverse * inverse),
                2.0 * v * (inverse * inverse),
            ];
            binary2_hessian(out, m, a, b, g);
        }
        Op::AddC(a, c) => {
            let a = r(a);
            out.copy_from_slice(a);
            out[0] = a[0] + c;
        }
        Op::CSub(c, b) => {
            let b = r(b);
            out[0] = c - b[0];
            scale2(out, b, -1.0);
        }
        Op::MulC(a, c) => {
            let a = r(a);
            out[0] = a[0] * c;
            scale2(out, a, c);
        }
        Op::DivC(a, c) => {
            let a = r(a);
            for (o, &d) in out.iter_mut().zip(a) {
                *o = d / c;
            }
        }
        Op::CDiv(c, b) => {
            let b = r(b);
            let v = c / b[0];
            let slope = -v / b[0];
            chain2(out, m, v, b, slope, -2.0 * slope / b[0]);
        }
        Op::Min(a, b) | Op::Max(a, b) => {
            let (a, b) = (r(a), r(b));
            if a[0].is_nan() || b[0].is_nan() {
                out.fill(0.0);
                out[0] = f64::NAN;
            } else if takes_second(matches!(op, Op::Max(..)), a[0], b[0]) {
                out.copy_from_slice(b);
            } else {
                out.copy_from_slice(a);
            }
        }
        Op::Square(a) => {
            let a = r(a);
            chain2(out, m, a[0] * a[0], a, 2.0 * a[0], 2.0);
        }
        Op::PowI(a, n) => {
            let a = r(a);
            let (d1, d2) = powi_derivatives(a[0], n);
            chain2(out, m, powi(a[0], n), a, d1, d2);
        }
        Op::PowF(a, p) => {
            let a = r(a);
            let (d1, d2) = powf_derivatives(a[0], p);
            chain2(out, m, a[0].powf(p), a, d1, d2);
        }
        Op::CPow(c, b) => {
            let b = r(b);
            let (v, ln) = (c.powf(b[0]), c.ln());
            let slope = v * ln;
            chain2(out, m, v, b, slope, slope * ln);
        }
        Op::Pow(a, b) => {
            let (a, b) = (r(a), r(b));
            let v = a[0].powf(b[0]);
            binary2(out, m, v, a, b, pow_local::<true>(v, a[0], b[0]));
        }
        Op::Unary(function, a) => {
            let a = r(a);
            let (v, d1, d2) = unary_local::<true>(function, a[0]);
            chain2(out, m, v, a, d1, d2);
        }
    }
}

/// The evaluators on the plain, unfused tape: the reference the fused
/// steps are tested against bit for bit.
#[cfg(test)]
pub(crate) mod reference {
    use super::*;

    pub(crate) fn value(tape: &Tape, x: &[f64]) -> f64 {
        value_with(tape, tape.ops(), tape.output(), x)
    }

    pub(crate) fn value_gradient(tape: &Tape, x: &[f64], gradient: &mut [f64]) -> f64 {
        let (ops, output) = (tape.ops(), tape.output());
        match tape.inputs() {
            1 => forward_gradient::<1, _>(tape, ops, output, x, gradient),
            2 => forward_gradient::<2, _>(tape, ops, output, x, gradient),
            3 => forward_gradient::<3, _>(tape, ops, output, x, gradient),
            4 => forward_gradient::<4, _>(tape, ops, output, x, gradient),
            _ => super::value_gradient(tape, x, gradient),
        }
    }

    pub(crate) fn value_gradient_hessian(
        tape: &Tape,
        x: &[f64],
        gradient: &mut [f64],
        hessian: &mut [f64],
    ) -> f64 {
        let (ops, output) = (tape.ops(), tape.output());
        match tape.inputs() {
            1 => fixed_hessian::<1, 1, _>(tape, ops, output, x, gradient, hessian),
            2 => fixed_hessian::<2, 3, _>(tape, ops, output, x, gradient, hessian),
            3 => fixed_hessian::<3, 6, _>(tape, ops, output, x, gradient, hessian),
            4 => fixed_hessian::<4, 10, _>(tape, ops, output, x, gradient, hessian),
            _ => super::value_gradient_hessian(tape, x, gradient, hessian),
        }
    }
}
