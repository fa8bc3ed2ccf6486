//! Formulas compiled to machine code: the value, the value with the
//! gradient, or the value with gradient and Hessian as one native function.
//!
//! The interpreters in `eval.rs` pay a dispatch per fused step (about 25
//! instructions), which is most of the cost of a small polynomial such as
//! `x1^2 + 2*x2^2`. Here the forward mode of `eval::jet_op` is unrolled at
//! compile time into straight-line code over the tape, and Cranelift turns it
//! into machine code; `sin`, `exp`, `powf`, ... are calls to the very `f64`
//! methods the interpreters call.
//!
//! Two more serve the terms of separable sums (`--separable`): the value
//! and the slope in the first variable (and, for preconditioning, the
//! curvature) at eight points per call, the forward mode with that one
//! tangent unrolled once per point.
//!
//! Written by hand because no crate unrolls a tape's forward mode; Cranelift
//! (a well-kept code generator) does the instruction selection, register
//! allocation and memory management of the code.
//!
//! # Contract
//!
//! * The value is the interpreters' value bit for bit: the same `f64`
//!   operations in the same order.
//! * The derivative parts follow the same arithmetic as `eval::jet_op`, but
//!   terms that are structurally zero (the derivative of `x1^2` with
//!   respect to `x2`, a seed's zero tangents, the zero second derivative of
//!   a product) are left out instead of being added as `0 * something`.
//!   Adding `±0` to a number does not change it, so wherever the interpreter's
//!   result is not NaN the two are equal as numbers (`==`; a zero may differ
//!   in sign). Where the interpreter gets NaN from `0 * inf` in a term that
//!   is structurally zero, this code gives the true partial (a number) instead.
//! * Nothing here panics: a tape too large to unroll, a host Cranelift does
//!   not support, or any code-generation error returns `None`, and the caller
//!   keeps the interpreter.

use std::mem::ManuallyDrop;
use std::sync::OnceLock;

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{
    types, AbiParam, FuncRef, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind,
    UserFuncName, Value,
};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};

use super::ast::UnaryFunction;
use super::local::powi_derivatives;
use super::program::{Op, Output, Reg, Tape};

/// The native function: `f(x)`, writing `∇f(x)` to `grad` (length `dim`)
/// and, for [`Order::Hessian`], `∇²f(x)` row-major to `hess` (`dim * dim`).
/// Pointers an order does not write may be null.
pub(crate) type NativeFn = unsafe extern "C" fn(*const f64, *mut f64, *mut f64) -> f64;

/// What a native function computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    Value,
    Gradient,
    Hessian,
    /// `f` and `∂f/∂x_0` at [`LANES`] points (a separable sum's term, whose
    /// first variable is the coordinate and the others its coefficients).
    /// The three pointers: the lanes of `x_0`; the lanes of the other
    /// variables, variable `k` at `(k − 1) · LANES`; the output, values at
    /// `0..LANES` and slopes at `LANES..2 · LANES`. Returns 0.
    Lanes,
    /// [`Order::Lanes`] with the curvatures `∂²f/∂x_0²` at
    /// `2 · LANES..3 · LANES` of the output (diagonal preconditioning).
    LanesCurvature,
}

/// Points per [`Order::Lanes`] call: the separable runner's lane width.
pub(crate) const LANES: usize = super::LANES;
/// [`Order::Lanes`] unrolls the tape once per lane; longer tapes keep the
/// per-point code.
const MAX_LANE_OPS: usize = 64;

/// Tapes longer than this stay interpreted: the unrolled Hessian code grows
/// with `ops * m^2`, and so does the time to compile it.
const MAX_OPS: usize = 400;
/// Gradients and Hessians are unrolled in forward mode for at most this many
/// active variables (the interpreters' fixed-width forward mode has the same
/// bound; beyond it reverse mode does less work).
const MAX_ACTIVE: usize = 4;
/// Points of more variables (declared, used or not) stay interpreted: the
/// code stores every entry of the `dim * dim` Hessian.
const MAX_DIM: usize = 8;

/// Loads and stores go through the caller's aligned, valid slices.
const TRUSTED: MemFlagsData = MemFlagsData::trusted();

/// One compiled function and the module that owns its memory.
pub(crate) struct NativeCode {
    module: ManuallyDrop<JITModule>,
    function: NativeFn,
}

// SAFETY: after `finalize_definitions` the module's code is immutable; the
// module is only touched again by `Drop`, which has exclusive access. The
// function pointer reads and writes only through its arguments.
unsafe impl Send for NativeCode {}
unsafe impl Sync for NativeCode {}

impl Drop for NativeCode {
    fn drop(&mut self) {
        // SAFETY: `function` is private and only called through `&self`, so
        // no call can be running or start once `drop` has `&mut self`.
        unsafe { ManuallyDrop::take(&mut self.module).free_memory() };
    }
}

impl NativeCode {
    /// The compiled function.
    pub(crate) fn function(&self) -> NativeFn {
        self.function
    }
}

/// The native functions of one formula, compiled on first use (shared by
/// clones of the formula).
#[derive(Default)]
pub(crate) struct NativeCache {
    value: OnceLock<Option<NativeCode>>,
    gradient: OnceLock<Option<NativeCode>>,
    hessian: OnceLock<Option<NativeCode>>,
    lanes: OnceLock<Option<NativeCode>>,
    lanes_curvature: OnceLock<Option<NativeCode>>,
}

impl NativeCache {
    fn cell(&self, order: Order) -> &OnceLock<Option<NativeCode>> {
        match order {
            Order::Value => &self.value,
            Order::Gradient => &self.gradient,
            Order::Hessian => &self.hessian,
            Order::Lanes => &self.lanes,
            Order::LanesCurvature => &self.lanes_curvature,
        }
    }

    /// The function of `order` if it has been compiled (the fast path of
    /// every evaluation after the first: a load and a test).
    #[inline]
    pub(crate) fn ready(&self, order: Order) -> Option<NativeFn> {
        self.cell(order)
            .get()
            .and_then(Option::as_ref)
            .map(NativeCode::function)
    }

    /// The function of `order` for `tape`, compiling it on the first call;
    /// `None` when the tape stays interpreted.
    pub(crate) fn get(&self, tape: &Tape, order: Order) -> Option<NativeFn> {
        self.cell(order)
            .get_or_init(|| compile(tape, order))
            .as_ref()
            .map(NativeCode::function)
    }

    /// Which orders have been compiled so far (for `Debug`).
    fn compiled(&self) -> Vec<Order> {
        [
            (Order::Value, &self.value),
            (Order::Gradient, &self.gradient),
            (Order::Hessian, &self.hessian),
            (Order::Lanes, &self.lanes),
            (Order::LanesCurvature, &self.lanes_curvature),
        ]
        .into_iter()
        .filter(|(_, cell)| matches!(cell.get(), Some(Some(_))))
        .map(|(order, _)| order)
        .collect()
    }
}

impl std::fmt::Debug for NativeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeCache")
            .field("compiled", &self.compiled())
            .finish()
    }
}

/// True if `tape` is unrolled for `order` (small enough, with a register
/// output).
pub(crate) fn supports(tape: &Tape, order: Order) -> bool {
    let derivatives_fit = match order {
        Order::Value => true,
        Order::Gradient | Order::Hessian => {
            (1..=MAX_ACTIVE).contains(&tape.inputs()) && tape.dim() <= MAX_DIM
        }
        // One derivative whatever the number of variables.
        Order::Lanes | Order::LanesCurvature => {
            tape.dim() <= MAX_DIM && tape.ops().len() <= MAX_LANE_OPS
        }
    };
    matches!(tape.output(), Output::Register(_)) && tape.ops().len() <= MAX_OPS && derivatives_fit
}

/// Compiles `tape` for `order`; `None` if it stays interpreted.
pub(crate) fn compile(tape: &Tape, order: Order) -> Option<NativeCode> {
    if !supports(tape, order) {
        return None;
    }
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").ok()?;
    // As `JITBuilder::with_flags` sets them: long-range calls, absolute
    // addresses.
    flags.set("use_colocated_libcalls", "false").ok()?;
    flags.set("is_pic", "false").ok()?;
    let isa = cranelift_native::builder()
        .ok()?
        .finish(settings::Flags::new(flags))
        .ok()?;
    let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
    for &(_, name, pointer) in LIBRARY {
        builder.symbol(name, pointer);
    }
    let mut module = JITModule::new(builder);
    let function = define(&mut module, tape, order);
    let code = match function {
        Some(pointer) => pointer,
        None => {
            // SAFETY: nothing of this module was handed out.
            unsafe { module.free_memory() };
            return None;
        }
    };
    Some(NativeCode {
        module: ManuallyDrop::new(module),
        // SAFETY: `define` built a function with exactly this signature
        // (three pointers in, one `f64` out, the host's C calling convention).
        function: unsafe { std::mem::transmute::<*const u8, NativeFn>(code) },
    })
}

/// Declares, builds and finalizes the function; its code address.
fn define(module: &mut JITModule, tape: &Tape, order: Order) -> Option<*const u8> {
    let pointer = module.target_config().pointer_type();
    let mut signature = module.make_signature();
    for _ in 0..3 {
        signature.params.push(AbiParam::new(pointer));
    }
    signature.returns.push(AbiParam::new(types::F64));
    let id = module
        .declare_function("formula", Linkage::Local, &signature)
        .ok()?;
    let mut context = module.make_context();
    context.func.signature = signature;
    context.func.name = UserFuncName::user(0, id.as_u32());
    let mut function_context = FunctionBuilderContext::new();
    {
        let mut builder = FunctionBuilder::new(&mut context.func, &mut function_context);
        let block = builder.create_block();
        builder.append_block_params_for_function_params(block);
        builder.switch_to_block(block);
        builder.seal_block(block);
        let params = builder.block_params(block).to_vec();
        let mut emitter = Emitter {
            module,
            builder,
            imports: [None; LIBRARY.len()],
        };
        let value = if matches!(order, Order::Lanes | Order::LanesCurvature) {
            let second = order == Order::LanesCurvature;
            emitter.lanes_body(tape, second, params[0], params[1], params[2])
        } else {
            emitter.body(tape, order, params[0], params[1], params[2])
        };
        emitter.builder.ins().return_(&[value]);
        let config = emitter.module.target_config();
        emitter.builder.finalize(config);
    }
    module.define_function(id, &mut context).ok()?;
    module.clear_context(&mut context);
    module.finalize_definitions().ok()?;
    Some(module.get_finalized_function(id))
}

/// A library function the code calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Library {
    Exp,
    Ln,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Powf,
    SinCos,
}

// The functions the code calls: the standard library's `f64` methods, so a
// call returns what the interpreters compute bit for bit.
macro_rules! one_argument_functions {
    ($($name:ident),*) => {
        $(
            extern "C" fn $name(x: f64) -> f64 {
                x.$name()
            }
        )*
    };
}
one_argument_functions!(exp, ln, sin, cos, tan, asin, acos, atan, sinh, cosh, tanh);

extern "C" fn powf(x: f64, p: f64) -> f64 {
    x.powf(p)
}
// `(sin x, cos x)` into `*sin` and `*cos`. The interpreters call
// `f64::sin_cos`, which the compiler turns into one call of the C library's
// `sincos` (cheaper than `sin` and `cos`); this code calls the same function.
// On GNU/Linux that is `sincos` itself, so the results come back through
// one store and load, as in compiled Rust.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe extern "C" {
    fn sincos(x: f64, sin: *mut f64, cos: *mut f64);
}

/// Elsewhere: `f64::sin_cos` with the same interface.
///
/// # Safety
/// `sin` and `cos` point to writable `f64`.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
unsafe extern "C" fn sincos(x: f64, sin: *mut f64, cos: *mut f64) {
    let (s, c) = x.sin_cos();
    // SAFETY: the caller passes two slots of a 16-byte stack slot.
    unsafe {
        sin.write(s);
        cos.write(c);
    }
}

/// Each library function, its symbol and its address, in [`Library`] order.
const LIBRARY: &[(Library, &str, *const u8)] = &[
    (Library::Exp, "downhill_exp", exp as *const u8),
    (Library::Ln, "downhill_ln", ln as *const u8),
    (Library::Sin, "downhill_sin", sin as *const u8),
    (Library::Cos, "downhill_cos", cos as *const u8),
    (Library::Tan, "downhill_tan", tan as *const u8),
    (Library::Asin, "downhill_asin", asin as *const u8),
    (Library::Acos, "downhill_acos", acos as *const u8),
    (Library::Atan, "downhill_atan", atan as *const u8),
    (Library::Sinh, "downhill_sinh", sinh as *const u8),
    (Library::Cosh, "downhill_cosh", cosh as *const u8),
    (Library::Tanh, "downhill_tanh", tanh as *const u8),
    (Library::Powf, "downhill_powf", powf as *const u8),
    (Library::SinCos, "downhill_sincos", sincos as *const u8),
];

/// A derivative part at compile time: a structural zero, a structural one
/// (an input's seed), a value computed at run time, or the negation of one.
///
/// `Neg` defers a sign flip to where it folds away, in the rules IEEE
/// arithmetic makes exact: `(−a)·b = −(a·b)`, `(−a)/b = −(a/b)`,
/// `b + (−a) = b − a`, `b − (−a) = b + a`, `−(−a) = a`. So `cos(c·x)`'s
/// slope `c·(−sin)` costs no instruction of its own and `x·cos(c·x)`'s
/// derivative is `cos − (c·sin)·x`, the bits of the interpreter's
/// `cos + (c·(−sin))·x` with one instruction fewer after `sincos` returns
/// (W1's step is bound by that chain's latency). Where no rule applies
/// (`(−a) + (−b)` would give `+0` where `−(a + b)` gives `−0`), the flip is
/// materialized as before.
#[derive(Clone, Copy, Debug)]
enum Part {
    Zero,
    One,
    Run(Value),
    Neg(Value),
}

/// A register in second-order forward mode: value, gradient (`m` parts),
/// and the upper triangle of the Hessian row by row (empty when only the
/// gradient is wanted, and both empty for the value alone).
#[derive(Clone, Debug)]
struct Jet {
    v: Value,
    g: Vec<Part>,
    h: Vec<Part>,
}

/// Builds one function body.
struct Emitter<'a> {
    module: &'a mut JITModule,
    builder: FunctionBuilder<'a>,
    imports: [Option<FuncRef>; LIBRARY.len()],
}

impl Emitter<'_> {
    /// The code of the whole function; returns the value.
    fn body(&mut self, tape: &Tape, order: Order, x: Value, grad: Value, hess: Value) -> Value {
        let m = if order == Order::Value {
            0
        } else {
            tape.inputs()
        };
        let t = if order == Order::Hessian {
            m * (m + 1) / 2
        } else {
            0
        };
        let mut registers: Vec<Jet> = Vec::with_capacity(tape.registers());
        for (i, &variable) in tape.active().iter().enumerate() {
            let v = self.load(x, variable);
            let g = (0..m)
                .map(|j| if i == j { Part::One } else { Part::Zero })
                .collect();
            registers.push(Jet {
                v,
                g,
                h: vec![Part::Zero; t],
            });
        }
        for &op in tape.ops() {
            let jet = self.op(op, &registers, m, t);
            registers.push(jet);
        }
        let output = match tape.output() {
            Output::Register(r) => registers[r as usize].clone(),
            // `supports` admits register outputs only.
            Output::Constant(c) => Jet {
                v: self.constant(c),
                g: vec![Part::Zero; m],
                h: vec![Part::Zero; t],
            },
        };
        if order != Order::Value {
            self.store_gradient(tape, &output, grad);
        }
        if order == Order::Hessian {
            self.store_hessian(tape, &output, hess, m);
        }
        output.v
    }

    /// The code of [`Order::Lanes`] (with `second`, of
    /// [`Order::LanesCurvature`]): the tape once per lane, in forward mode
    /// with the one tangent `∂/∂x_0` (and the one second derivative
    /// `∂²/∂x_0²`). Each component of the forward mode is computed from the
    /// same components alone, so the value, slope and curvature are those
    /// of [`Order::Gradient`] and [`Order::Hessian`] at the same point, bit
    /// for bit. Returns the constant 0.
    fn lanes_body(
        &mut self,
        tape: &Tape,
        second: bool,
        x: Value,
        coefficients: Value,
        out: Value,
    ) -> Value {
        let t = usize::from(second);
        let (mut values, mut slopes) = (Vec::with_capacity(LANES), Vec::with_capacity(LANES));
        let mut curvatures = Vec::with_capacity(LANES);
        for lane in 0..LANES {
            let mut registers: Vec<Jet> = Vec::with_capacity(tape.registers());
            for &variable in tape.active() {
                let v = if variable == 0 {
                    self.load(x, lane)
                } else {
                    self.load(coefficients, (variable - 1) * LANES + lane)
                };
                let seed = if variable == 0 { Part::One } else { Part::Zero };
                registers.push(Jet {
                    v,
                    g: vec![seed],
                    h: vec![Part::Zero; t],
                });
            }
            for &op in tape.ops() {
                let jet = self.op(op, &registers, 1, t);
                registers.push(jet);
            }
            // `supports` admits register outputs only.
            let Output::Register(r) = tape.output() else {
                return self.constant(0.0);
            };
            let output = &registers[r as usize];
            values.push(Part::Run(output.v));
            slopes.push(output.g[0]);
            if second {
                curvatures.push(output.h[0]);
            }
        }
        // Stored in pairs, as the caller reads them 16 bytes (or more) at a
        // time: a 16-byte load of two 8-byte stores waits for both to reach
        // the cache (no store-to-load forwarding), which measured 60 % of a
        // term call's own time.
        for (first, results) in [(0, values), (LANES, slopes), (2 * LANES, curvatures)] {
            for (pair, two) in results.chunks_exact(2).enumerate() {
                let (a, b) = (self.materialize(two[0]), self.materialize(two[1]));
                let vector = self.builder.ins().scalar_to_vector(types::F64X2, a);
                let vector = self.builder.ins().insertlane(vector, b, 1);
                self.builder
                    .ins()
                    .store(TRUSTED, vector, out, offset(first + 2 * pair));
            }
        }
        self.constant(0.0)
    }

    fn load(&mut self, base: Value, index: usize) -> Value {
        self.builder
            .ins()
            .load(types::F64, TRUSTED, base, offset(index))
    }

    fn store(&mut self, value: Value, base: Value, index: usize) {
        self.builder
            .ins()
            .store(TRUSTED, value, base, offset(index));
    }

    /// `∂f/∂x_i` for every declared variable, zeros for the unused ones.
    fn store_gradient(&mut self, tape: &Tape, output: &Jet, grad: Value) {
        let dim = tape.dim();
        for variable in 0..dim {
            let part = match tape.active().iter().position(|&a| a == variable) {
                Some(i) => output.g[i],
                None => Part::Zero,
            };
            let value = self.materialize(part);
            self.store(value, grad, variable);
        }
    }

    /// The whole symmetric Hessian, row-major, zeros for unused variables.
    fn store_hessian(&mut self, tape: &Tape, output: &Jet, hess: Value, m: usize) {
        let dim = tape.dim();
        let position = |variable: usize| tape.active().iter().position(|&a| a == variable);
        for row in 0..dim {
            for column in 0..dim {
                let part = match (position(row), position(column)) {
                    (Some(i), Some(j)) => output.h[triangle_index(i.min(j), i.max(j), m)],
                    _ => Part::Zero,
                };
                let value = self.materialize(part);
                self.store(value, hess, row * dim + column);
            }
        }
    }

    fn constant(&mut self, c: f64) -> Value {
        self.builder.ins().f64const(c)
    }

    fn materialize(&mut self, part: Part) -> Value {
        match part {
            Part::Zero => self.constant(0.0),
            Part::One => self.constant(1.0),
            Part::Run(value) => value,
            Part::Neg(value) => self.neg(value),
        }
    }

    fn add(&mut self, a: Value, b: Value) -> Value {
        self.builder.ins().fadd(a, b)
    }

    fn sub(&mut self, a: Value, b: Value) -> Value {
        self.builder.ins().fsub(a, b)
    }

    fn mul(&mut self, a: Value, b: Value) -> Value {
        self.builder.ins().fmul(a, b)
    }

    fn div(&mut self, a: Value, b: Value) -> Value {
        self.builder.ins().fdiv(a, b)
    }

    fn neg(&mut self, a: Value) -> Value {
        self.builder.ins().fneg(a)
    }

    /// `c * a` for a compile-time constant `c`, in the operand order given
    /// (IEEE multiplication commutes).
    fn mul_c(&mut self, a: Value, c: f64) -> Value {
        let c = self.constant(c);
        self.mul(a, c)
    }

    /// `a + b` on parts: a structural zero is left out, a negation folds
    /// into a subtraction (`a + (−b)` is `a − b` exactly).
    fn part_add(&mut self, a: Part, b: Part) -> Part {
        match (a, b) {
            (Part::Zero, other) | (other, Part::Zero) => other,
            (Part::Neg(_), Part::Neg(_)) => self.part_add_materialized(a, b),
            (a, Part::Neg(b)) | (Part::Neg(b), a) => {
                let a = self.materialize(a);
                Part::Run(self.sub(a, b))
            }
            _ => self.part_add_materialized(a, b),
        }
    }

    fn part_add_materialized(&mut self, a: Part, b: Part) -> Part {
        let (a, b) = (self.materialize(a), self.materialize(b));
        Part::Run(self.add(a, b))
    }

    /// `a - b` on parts (`a − (−b)` is `a + b`, `(−a) − (−b)` is `b − a`).
    fn part_sub(&mut self, a: Part, b: Part) -> Part {
        match (a, b) {
            (a, Part::Zero) => a,
            (Part::Zero, b) => self.part_neg(b),
            (Part::Neg(a), Part::Neg(b)) => Part::Run(self.sub(b, a)),
            (a @ (Part::One | Part::Run(_)), Part::Neg(b)) => {
                let a = self.materialize(a);
                Part::Run(self.add(a, b))
            }
            _ => {
                let (a, b) = (self.materialize(a), self.materialize(b));
                Part::Run(self.sub(a, b))
            }
        }
    }

    /// `a * b` on parts: a zero makes a zero, a one is left out (`1 * b` is
    /// `b` exactly), signs are carried (`(−a)·b` is `−(a·b)` exactly).
    fn part_mul(&mut self, a: Part, b: Part) -> Part {
        match (a, b) {
            (Part::Zero, _) | (_, Part::Zero) => Part::Zero,
            (Part::One, other) | (other, Part::One) => other,
            (Part::Run(a), Part::Run(b)) | (Part::Neg(a), Part::Neg(b)) => {
                Part::Run(self.mul(a, b))
            }
            (Part::Neg(a), Part::Run(b)) | (Part::Run(a), Part::Neg(b)) => {
                Part::Neg(self.mul(a, b))
            }
        }
    }

    /// `a / b` for a run-time divisor.
    fn part_div(&mut self, a: Part, b: Value) -> Part {
        match a {
            Part::Zero => Part::Zero,
            Part::Neg(a) => Part::Neg(self.div(a, b)),
            _ => {
                let a = self.materialize(a);
                Part::Run(self.div(a, b))
            }
        }
    }

    /// `−a` on parts, deferred (see [`Part::Neg`]).
    fn part_neg(&mut self, a: Part) -> Part {
        match a {
            Part::Zero => Part::Zero,
            Part::Neg(a) => Part::Run(a),
            Part::One => Part::Neg(self.constant(1.0)),
            Part::Run(a) => Part::Neg(a),
        }
    }

    /// `(sin x, cos x)` by one library call writing a stack slot.
    fn sin_cos(&mut self, x: Value) -> (Value, Value) {
        let slot = self.builder.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            16,
            3,
        ));
        let pointer = self.module.target_config().pointer_type();
        let sin = self.builder.ins().stack_addr(pointer, slot, 0);
        let cos = self.builder.ins().stack_addr(pointer, slot, 8);
        self.call_with(
            Library::SinCos,
            &[x, sin, cos],
            &[types::F64, pointer, pointer],
            false,
        );
        (self.load(sin, 0), self.load(cos, 0))
    }

    /// The library call `function(args)` of `f64` arguments.
    fn call(&mut self, function: Library, args: &[Value]) -> Value {
        let types = [types::F64; 2];
        self.call_with(function, args, &types[..args.len()], true)
            .expect("an f64 function returns a value")
    }

    /// The library call `function(args)` with argument types `params`,
    /// returning an `f64` if `returns`.
    fn call_with(
        &mut self,
        function: Library,
        args: &[Value],
        params: &[types::Type],
        returns: bool,
    ) -> Option<Value> {
        let slot = function as usize;
        let reference = match self.imports[slot] {
            Some(reference) => reference,
            None => {
                let mut signature = self.module.make_signature();
                for &param in params {
                    signature.params.push(AbiParam::new(param));
                }
                if returns {
                    signature.returns.push(AbiParam::new(types::F64));
                }
                let name = LIBRARY[slot].1;
                let reference =
                    match self
                        .module
                        .declare_function(name, Linkage::Import, &signature)
                    {
                        Ok(id) => self.module.declare_func_in_func(id, self.builder.func),
                        // The names are fixed and declared once per module with
                        // one signature each; this cannot fail.
                        Err(error) => unreachable!("declaring {name}: {error}"),
                    };
                self.imports[slot] = Some(reference);
                reference
            }
        };
        let call = self.builder.ins().call(reference, args);
        self.builder.inst_results(call).first().copied()
    }

    /// `x^n` by repeated squaring, as `local::powi` (and `f64::powi`) round.
    fn powi(&mut self, x: Value, n: i32) -> Value {
        let mut base = x;
        let mut power = n.unsigned_abs();
        let mut result: Option<Value> = None;
        loop {
            if power & 1 != 0 {
                // `1.0 * base` is `base` exactly.
                result = Some(match result {
                    None => base,
                    Some(r) => self.mul(r, base),
                });
            }
            power >>= 1;
            if power == 0 {
                break;
            }
            base = self.mul(base, base);
        }
        let result = match result {
            Some(r) => r,
            None => self.constant(1.0),
        };
        if n < 0 {
            let one = self.constant(1.0);
            self.div(one, result)
        } else {
            result
        }
    }

    /// `Jet::chain`: through a scalar function with slope `d1` and curvature
    /// `d2` (`None`: not needed).
    fn chain(&mut self, a: &Jet, v: Value, d1: Part, d2: Option<Part>) -> Jet {
        let g = a.g.iter().map(|&d| self.part_mul(d, d1)).collect();
        let h = self.pairs(a.g.len(), a.h.len(), |this, i, j, k| {
            let first = this.part_mul(a.h[k], d1);
            let gg = this.part_mul(a.g[i], a.g[j]);
            let second = this.part_mul(d2.unwrap_or(Part::Zero), gg);
            this.part_add(first, second)
        });
        Jet { v, g, h }
    }

    /// `Jet::scaled`: every derivative part times `s`, with value `v`.
    fn scaled(&mut self, a: &Jet, v: Value, s: Part) -> Jet {
        Jet {
            v,
            g: a.g.iter().map(|&d| self.part_mul(d, s)).collect(),
            h: a.h.iter().map(|&d| self.part_mul(d, s)).collect(),
        }
    }

    /// Every derivative part negated (`scaled` by -1: `d * -1` is `-d`).
    fn negated(&mut self, a: &Jet, v: Value) -> Jet {
        Jet {
            v,
            g: a.g.iter().map(|&d| self.part_neg(d)).collect(),
            h: a.h.iter().map(|&d| self.part_neg(d)).collect(),
        }
    }

    /// `h[k] = f(i, j, k)` over the pairs `i <= j` of `m` variables in row
    /// order; empty when `t` is 0 (no Hessian wanted).
    fn pairs(
        &mut self,
        m: usize,
        t: usize,
        mut f: impl FnMut(&mut Self, usize, usize, usize) -> Part,
    ) -> Vec<Part> {
        let mut h = Vec::with_capacity(t);
        if t == 0 {
            return h;
        }
        for i in 0..m {
            for j in i..m {
                let k = h.len();
                h.push(f(self, i, j, k));
            }
        }
        h
    }

    /// `Jet::binary_hessian`: the Hessian of the general two-operand rule
    /// with local derivatives `[ga, gb, gaa, gab, gbb]`.
    fn binary_hessian(&mut self, a: &Jet, b: &Jet, l: [Part; 5]) -> Vec<Part> {
        let [ga, gb, gaa, gab, gbb] = l;
        let (p, q) = (&a.g, &b.g);
        self.pairs(p.len(), a.h.len(), |this, i, j, k| {
            let first = this.part_mul(a.h[k], ga);
            let second = this.part_mul(b.h[k], gb);
            let linear = this.part_add(first, second);
            let pp = this.part_mul(p[i], p[j]);
            let aa = this.part_mul(gaa, pp);
            let pq = this.part_mul(p[i], q[j]);
            let qp = this.part_mul(p[j], q[i]);
            let cross = this.part_add(pq, qp);
            let ab = this.part_mul(gab, cross);
            let qq = this.part_mul(q[i], q[j]);
            let bb = this.part_mul(gbb, qq);
            let curvature = this.part_add(aa, ab);
            let curvature = this.part_add(curvature, bb);
            this.part_add(linear, curvature)
        })
    }

    /// One instruction: the arithmetic of `eval::jet_op` (and of
    /// `eval::op_value` for the value), without structural zeros.
    fn op(&mut self, op: Op, registers: &[Jet], m: usize, t: usize) -> Jet {
        let r = |register: Reg| &registers[register as usize];
        let second = t > 0;
        match op {
            Op::Const(c) => Jet {
                v: self.constant(c),
                g: vec![Part::Zero; m],
                h: vec![Part::Zero; t],
            },
            Op::Neg(a) => {
                let a = r(a);
                let v = self.neg(a.v);
                self.negated(a, v)
            }
            Op::Add(a, b) => {
                let (a, b) = (r(a), r(b));
                let v = self.add(a.v, b.v);
                let g = (0..m).map(|i| self.part_add(a.g[i], b.g[i])).collect();
                let h = (0..t).map(|k| self.part_add(a.h[k], b.h[k])).collect();
                Jet { v, g, h }
            }
            Op::Sub(a, b) => {
                let (a, b) = (r(a), r(b));
                let v = self.sub(a.v, b.v);
                let g = (0..m).map(|i| self.part_sub(a.g[i], b.g[i])).collect();
                let h = (0..t).map(|k| self.part_sub(a.h[k], b.h[k])).collect();
                Jet { v, g, h }
            }
            Op::Mul(a, b) => {
                let (a, b) = (r(a), r(b));
                let v = self.mul(a.v, b.v);
                let (av, bv) = (Part::Run(a.v), Part::Run(b.v));
                let g = (0..m)
                    .map(|i| {
                        let left = self.part_mul(a.g[i], bv);
                        let right = self.part_mul(b.g[i], av);
                        self.part_add(left, right)
                    })
                    .collect();
                let h = self.pairs(m, t, |this, i, j, k| {
                    let left = this.part_mul(a.h[k], bv);
                    let right = this.part_mul(b.h[k], av);
                    let linear = this.part_add(left, right);
                    let ij = this.part_mul(a.g[i], b.g[j]);
                    let ji = this.part_mul(a.g[j], b.g[i]);
                    let cross = this.part_add(ij, ji);
                    this.part_add(linear, cross)
                });
                Jet { v, g, h }
            }
            Op::Div(a, b) => {
                let (a, b) = (r(a), r(b));
                let v = self.div(a.v, b.v);
                let g = (0..m)
                    .map(|i| {
                        let scaled = self.part_mul(b.g[i], Part::Run(v));
                        let numerator = self.part_sub(a.g[i], scaled);
                        self.part_div(numerator, b.v)
                    })
                    .collect();
                let h = if second {
                    let one = self.constant(1.0);
                    let inverse = self.div(one, b.v);
                    let minus_v = self.neg(v);
                    let gb = self.mul(minus_v, inverse);
                    let inverse2 = self.mul(inverse, inverse);
                    let gab = self.neg(inverse2);
                    let two_v = self.mul_c(v, 2.0);
                    let gbb = self.mul(two_v, inverse2);
                    let local = [
                        Part::Run(inverse),
                        Part::Run(gb),
                        Part::Zero,
                        Part::Run(gab),
                        Part::Run(gbb),
                    ];
                    self.binary_hessian(a, b, local)
                } else {
                    Vec::new()
                };
                Jet { v, g, h }
            }
            Op::AddC(a, c) => {
                let a = r(a);
                let c = self.constant(c);
                let v = self.add(a.v, c);
                Jet { v, ..a.clone() }
            }
            Op::CSub(c, b) => {
                let b = r(b);
                let c = self.constant(c);
                let v = self.sub(c, b.v);
                self.negated(b, v)
            }
            Op::MulC(a, c) => {
                let a = r(a);
                let v = self.mul_c(a.v, c);
                let c = self.constant(c);
                self.scaled(a, v, Part::Run(c))
            }
            Op::DivC(a, c) => {
                let a = r(a);
                let c = self.constant(c);
                let v = self.div(a.v, c);
                Jet {
                    v,
                    g: a.g.iter().map(|&d| self.part_div(d, c)).collect(),
                    h: a.h.iter().map(|&d| self.part_div(d, c)).collect(),
                }
            }
            Op::CDiv(c, b) => {
                let b = r(b);
                let c = self.constant(c);
                let v = self.div(c, b.v);
                let minus_v = self.neg(v);
                let slope = self.div(minus_v, b.v);
                let curvature = if second {
                    let doubled = self.mul_c(slope, -2.0);
                    Some(Part::Run(self.div(doubled, b.v)))
                } else {
                    None
                };
                self.chain(b, v, Part::Run(slope), curvature)
            }
            Op::Min(a, b) | Op::Max(a, b) => {
                let (a, b) = (r(a), r(b));
                let nan = self.builder.ins().fcmp(FloatCC::Unordered, a.v, b.v);
                // `takes_second`: `b < a` for min, `b > a` for max.
                let condition = if matches!(op, Op::Max(..)) {
                    FloatCC::GreaterThan
                } else {
                    FloatCC::LessThan
                };
                let second_taken = self.builder.ins().fcmp(condition, b.v, a.v);
                let chosen = self.builder.ins().select(second_taken, b.v, a.v);
                let not_a_number = self.constant(f64::NAN);
                let v = self.builder.ins().select(nan, not_a_number, chosen);
                let pick = |this: &mut Self, pa: Part, pb: Part| match (pa, pb) {
                    (Part::Zero, Part::Zero) => Part::Zero,
                    _ => {
                        let (pa, pb) = (this.materialize(pa), this.materialize(pb));
                        let chosen = this.builder.ins().select(second_taken, pb, pa);
                        let zero = this.constant(0.0);
                        Part::Run(this.builder.ins().select(nan, zero, chosen))
                    }
                };
                let g = (0..m).map(|i| pick(self, a.g[i], b.g[i])).collect();
                let h = (0..t).map(|k| pick(self, a.h[k], b.h[k])).collect();
                Jet { v, g, h }
            }
            Op::Square(a) => {
                let a = r(a);
                let v = self.mul(a.v, a.v);
                let slope = self.mul_c(a.v, 2.0);
                let curvature = second.then(|| Part::Run(self.constant(2.0)));
                self.chain(a, v, Part::Run(slope), curvature)
            }
            Op::PowI(a, n) => {
                let a = r(a);
                let v = self.powi(a.v, n);
                let (d1, d2) = match n {
                    0 => (Part::Zero, Part::Zero),
                    1 => (Part::One, Part::Zero),
                    2 => {
                        let slope = self.mul_c(a.v, 2.0);
                        (Part::Run(slope), Part::Run(self.constant(2.0)))
                    }
                    _ => {
                        // `powi_derivatives`: m x^(n-1), m (m - 1) x^(n-2).
                        let (factor1, factor2) = {
                            let m = f64::from(n);
                            (m, m * (m - 1.0))
                        };
                        debug_assert_eq!(powi_derivatives(1.0, n).0, factor1);
                        let p1 = self.powi(a.v, n - 1);
                        let d1 = self.mul_c(p1, factor1);
                        let d2 = if second {
                            let p2 = self.powi(a.v, n - 2);
                            Part::Run(self.mul_c(p2, factor2))
                        } else {
                            Part::Zero
                        };
                        (Part::Run(d1), d2)
                    }
                };
                self.chain(a, v, d1, second.then_some(d2))
            }
            Op::PowF(a, p) => {
                let a = r(a);
                let exponent = self.constant(p);
                let v = self.call(Library::Powf, &[a.v, exponent]);
                if m == 0 {
                    return Jet {
                        v,
                        g: vec![],
                        h: vec![],
                    };
                }
                // `powf_derivatives`: p x^(p-1), p (p - 1) x^(p-2).
                let e1 = self.constant(p - 1.0);
                let p1 = self.call(Library::Powf, &[a.v, e1]);
                let d1 = self.mul_c(p1, p);
                let d2 = if second {
                    let e2 = self.constant(p - 2.0);
                    let p2 = self.call(Library::Powf, &[a.v, e2]);
                    Some(Part::Run(self.mul_c(p2, p * (p - 1.0))))
                } else {
                    None
                };
                self.chain(a, v, Part::Run(d1), d2)
            }
            Op::CPow(c, b) => {
                let b = r(b);
                let base = self.constant(c);
                let v = self.call(Library::Powf, &[base, b.v]);
                let ln = c.ln();
                let slope = self.mul_c(v, ln);
                let curvature = second.then(|| Part::Run(self.mul_c(slope, ln)));
                self.chain(b, v, Part::Run(slope), curvature)
            }
            Op::Pow(a, b) => {
                let (a, b) = (r(a), r(b));
                let v = self.call(Library::Powf, &[a.v, b.v]);
                if m == 0 {
                    return Jet {
                        v,
                        g: vec![],
                        h: vec![],
                    };
                }
                // `local::pow_local`.
                let ln = self.call(Library::Ln, &[a.v]);
                let vb = self.mul(v, b.v);
                let ga = self.div(vb, a.v);
                let gb = self.mul(v, ln);
                let g = (0..m)
                    .map(|i| {
                        let left = self.part_mul(a.g[i], Part::Run(ga));
                        let right = self.part_mul(b.g[i], Part::Run(gb));
                        self.part_add(left, right)
                    })
                    .collect();
                let h = if second {
                    let one = self.constant(1.0);
                    let b_minus_one = self.sub(b.v, one);
                    let numerator = self.mul(vb, b_minus_one);
                    let a2 = self.mul(a.v, a.v);
                    let gaa = self.div(numerator, a2);
                    let b_ln = self.mul(b.v, ln);
                    let one_plus = self.add(one, b_ln);
                    let numerator = self.mul(v, one_plus);
                    let gab = self.div(numerator, a.v);
                    let gbb = self.mul(gb, ln);
                    let local = [ga, gb, gaa, gab, gbb].map(Part::Run);
                    self.binary_hessian(a, b, local)
                } else {
                    Vec::new()
                };
                Jet { v, g, h }
            }
            Op::Unary(function, a) => {
                let a = r(a);
                self.unary(function, a, m > 0, second)
            }
        }
    }

    /// `unary_local` and the chain rule: value, slope (if `first`) and
    /// curvature (if `second`).
    fn unary(&mut self, function: UnaryFunction, a: &Jet, first: bool, second: bool) -> Jet {
        let x = a.v;
        let (v, d1, d2): (Value, Option<Value>, Option<Value>) = match function {
            UnaryFunction::Exp => {
                let v = self.call(Library::Exp, &[x]);
                (v, Some(v), Some(v))
            }
            UnaryFunction::Ln => {
                let v = self.call(Library::Ln, &[x]);
                if !first {
                    (v, None, None)
                } else {
                    let one = self.constant(1.0);
                    let r = self.div(one, x);
                    let d2 = second.then(|| {
                        let r2 = self.mul(r, r);
                        self.neg(r2)
                    });
                    (v, Some(r), d2)
                }
            }
            UnaryFunction::Sqrt => {
                let s = self.builder.ins().sqrt(x);
                if !first {
                    (s, None, None)
                } else {
                    let half = self.constant(0.5);
                    let slope = self.div(half, s);
                    let d2 = second.then(|| {
                        let scaled = self.mul_c(slope, -0.5);
                        // `-0.5 * slope` is `slope * -0.5` exactly.
                        self.div(scaled, x)
                    });
                    (s, Some(slope), d2)
                }
            }
            UnaryFunction::Abs => {
                let v = self.builder.ins().fabs(x);
                if !first {
                    (v, None, None)
                } else {
                    // `f64::signum`: NaN for NaN, else ±1 with the sign of x.
                    let one = self.constant(1.0);
                    let signed = self.builder.ins().fcopysign(one, x);
                    let nan = self.builder.ins().fcmp(FloatCC::Unordered, x, x);
                    let signum = self.builder.ins().select(nan, x, signed);
                    return self.chain(a, v, Part::Run(signum), second.then_some(Part::Zero));
                }
            }
            UnaryFunction::Sin => {
                if !first {
                    (self.call(Library::Sin, &[x]), None, None)
                } else {
                    let (s, c) = self.sin_cos(x);
                    let d2 = second.then(|| self.neg(s));
                    (s, Some(c), d2)
                }
            }
            UnaryFunction::Cos => {
                if !first {
                    (self.call(Library::Cos, &[x]), None, None)
                } else {
                    // Slope −sin, curvature −cos: negated below.
                    let (s, c) = self.sin_cos(x);
                    (c, Some(s), second.then_some(c))
                }
            }
            UnaryFunction::Tan => {
                let t = self.call(Library::Tan, &[x]);
                if !first {
                    (t, None, None)
                } else {
                    let t2 = self.mul(t, t);
                    let one = self.constant(1.0);
                    let slope = self.add(one, t2);
                    let d2 = second.then(|| {
                        let two_t = self.mul_c(t, 2.0);
                        self.mul(two_t, slope)
                    });
                    (t, Some(slope), d2)
                }
            }
            UnaryFunction::Asin | UnaryFunction::Acos => {
                let library = if function == UnaryFunction::Asin {
                    Library::Asin
                } else {
                    Library::Acos
                };
                let v = self.call(library, &[x]);
                if !first {
                    (v, None, None)
                } else {
                    let one = self.constant(1.0);
                    let x2 = self.mul(x, x);
                    let difference = self.sub(one, x2);
                    let root = self.builder.ins().sqrt(difference);
                    let r = self.div(one, root);
                    let curvature = second.then(|| {
                        let r2 = self.mul(r, r);
                        let r3 = self.mul(r2, r);
                        self.mul(x, r3)
                    });
                    // For `acos`, both negated below.
                    (v, Some(r), curvature)
                }
            }
            UnaryFunction::Atan => {
                let v = self.call(Library::Atan, &[x]);
                if !first {
                    (v, None, None)
                } else {
                    let one = self.constant(1.0);
                    let x2 = self.mul(x, x);
                    let denominator = self.add(one, x2);
                    let r = self.div(one, denominator);
                    let d2 = second.then(|| {
                        let minus_two_x = self.mul_c(x, -2.0);
                        let r2 = self.mul(r, r);
                        self.mul(minus_two_x, r2)
                    });
                    (v, Some(r), d2)
                }
            }
            UnaryFunction::Sinh | UnaryFunction::Cosh if !first => {
                let library = if function == UnaryFunction::Sinh {
                    Library::Sinh
                } else {
                    Library::Cosh
                };
                (self.call(library, &[x]), None, None)
            }
            UnaryFunction::Sinh | UnaryFunction::Cosh => {
                let sh = self.call(Library::Sinh, &[x]);
                let ch = self.call(Library::Cosh, &[x]);
                if function == UnaryFunction::Sinh {
                    (sh, Some(ch), Some(sh))
                } else {
                    (ch, Some(sh), Some(ch))
                }
            }
            UnaryFunction::Tanh => {
                let t = self.call(Library::Tanh, &[x]);
                if !first {
                    (t, None, None)
                } else {
                    let ch = self.call(Library::Cosh, &[x]);
                    let ch2 = self.mul(ch, ch);
                    let one = self.constant(1.0);
                    let slope = self.div(one, ch2);
                    let d2 = second.then(|| {
                        let minus_two_t = self.mul_c(t, -2.0);
                        self.mul(minus_two_t, slope)
                    });
                    (t, Some(slope), d2)
                }
            }
        };
        // `cos` and `acos` have the negated slope and curvature of `sin`
        // and `asin`: the sign is deferred (see `Part::Neg`).
        let part = if matches!(function, UnaryFunction::Cos | UnaryFunction::Acos) {
            Part::Neg
        } else {
            Part::Run
        };
        match d1 {
            Some(d1) if first => self.chain(a, v, part(d1), d2.map(part)),
            _ => Jet {
                v,
                g: Vec::new(),
                h: Vec::new(),
            },
        }
    }
}

/// Index of the pair `(i, j)`, `i <= j`, in the row-ordered upper triangle
/// of an `m`-variable Hessian.
fn triangle_index(i: usize, j: usize, m: usize) -> usize {
    (0..i).map(|row| m - row).sum::<usize>() + (j - i)
}

/// The byte offset of element `index` of an `f64` array.
fn offset(index: usize) -> i32 {
    // `supports` bounds dim by MAX_DIM (and lanes by LANES), so the offset
    // is small.
    (index * std::mem::size_of::<f64>()) as i32
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::formula::eval::reference;
    use crate::formula::fused::agreement::{formula_over, same};
    use crate::formula::parser::parse;

    fn compile_tape(source: &str, variables: &[&str]) -> Tape {
        let parsed = parse(source, Some(variables)).expect("parses");
        Tape::compile(&parsed.expr, &parsed.variables)
    }

    /// The native result `a` against the interpreter's `b`: equal as
    /// numbers, or `b` is NaN (a structural zero of `0 * inf`).
    fn agrees(a: f64, b: f64) -> bool {
        a == b || b.is_nan()
    }

    /// Runs the three native orders of `source` at `x` against the plain
    /// tape; `Ok(false)` if the tape is not compiled.
    fn check(source: &str, variables: &[&str], x: &[f64]) -> Result<bool, TestCaseError> {
        let tape = compile_tape(source, variables);
        let n = variables.len();
        let x = &x[..n];
        let (mut g, mut rg) = (vec![7.0; n], vec![0.0; n]);
        let (mut h, mut rh) = (vec![7.0; n * n], vec![0.0; n * n]);
        let rv = reference::value(&tape, x);
        let Some(value) = compile(&tape, Order::Value) else {
            return Ok(false);
        };
        // SAFETY (all three calls): lengths `n` and `n * n`, as the
        // functions expect.
        let v = unsafe { value.function()(x.as_ptr(), std::ptr::null_mut(), std::ptr::null_mut()) };
        prop_assert!(same(v, rv), "value of {source}: {v} vs {rv}");
        let Some(gradient) = compile(&tape, Order::Gradient) else {
            return Ok(false);
        };
        let vg = unsafe { gradient.function()(x.as_ptr(), g.as_mut_ptr(), std::ptr::null_mut()) };
        reference::value_gradient(&tape, x, &mut rg);
        prop_assert!(same(vg, rv), "value with the gradient of {source}");
        prop_assert!(
            g.iter().zip(&rg).all(|(a, b)| agrees(*a, *b)),
            "gradient of {source} at {x:?}: {g:?} vs {rg:?}"
        );
        let hessian = compile(&tape, Order::Hessian).expect("a gradient tape has a Hessian");
        check_lanes(&tape, source, x, gradient.function(), hessian.function())?;
        let vh = unsafe { hessian.function()(x.as_ptr(), g.as_mut_ptr(), h.as_mut_ptr()) };
        reference::value_gradient_hessian(&tape, x, &mut rg, &mut rh);
        prop_assert!(same(vh, rv), "value with the Hessian of {source}");
        prop_assert!(
            g.iter().zip(&rg).all(|(a, b)| agrees(*a, *b)),
            "gradient (Hessian order) of {source} at {x:?}: {g:?} vs {rg:?}"
        );
        prop_assert!(
            h.iter().zip(&rh).all(|(a, b)| agrees(*a, *b)),
            "Hessian of {source} at {x:?}: {h:?} vs {rh:?}"
        );
        Ok(true)
    }

    /// Both lanes codes of `tape` at eight points around `x` (lane `l` adds
    /// `l / 4` to the first variable and `l / 10` to the others) against
    /// the gradient and Hessian codes at each: value, `∂f/∂x_0` and
    /// `∂²f/∂x_0²` bit for bit.
    fn check_lanes(
        tape: &Tape,
        source: &str,
        x: &[f64],
        gradient: NativeFn,
        hessian: NativeFn,
    ) -> Result<(), TestCaseError> {
        if !supports(tape, Order::Lanes) {
            prop_assert!(tape.ops().len() > MAX_LANE_OPS, "{source} has lanes code");
            return Ok(());
        }
        for order in [Order::Lanes, Order::LanesCurvature] {
            check_lanes_order(tape, source, x, order, gradient, hessian)?;
        }
        Ok(())
    }

    fn check_lanes_order(
        tape: &Tape,
        source: &str,
        x: &[f64],
        order: Order,
        gradient: NativeFn,
        hessian: NativeFn,
    ) -> Result<(), TestCaseError> {
        let n = x.len();
        let lanes = compile(tape, order).expect("supported");
        let point = |l: usize| -> Vec<f64> {
            (0..n)
                .map(|k| x[k] + l as f64 * if k == 0 { 0.25 } else { 0.1 })
                .collect()
        };
        let first: Vec<f64> = (0..LANES).map(|l| point(l)[0]).collect();
        let mut others = vec![0.0; n.saturating_sub(1).max(1) * LANES];
        for l in 0..LANES {
            for k in 1..n {
                others[(k - 1) * LANES + l] = point(l)[k];
            }
        }
        let mut out = [7.0; 3 * LANES];
        // SAFETY: `LANES` numbers, `(n − 1) · LANES` and up to `3 · LANES`,
        // as the lanes codes read and write; then `n` and `n · n` for the
        // gradient and Hessian codes.
        unsafe { lanes.function()(first.as_ptr(), others.as_mut_ptr(), out.as_mut_ptr()) };
        for l in 0..LANES {
            let mut g = vec![0.0; n];
            let v = unsafe { gradient(point(l).as_ptr(), g.as_mut_ptr(), std::ptr::null_mut()) };
            if order == Order::LanesCurvature {
                let (mut g2, mut h) = (vec![0.0; n], vec![0.0; n * n]);
                unsafe { hessian(point(l).as_ptr(), g2.as_mut_ptr(), h.as_mut_ptr()) };
                prop_assert!(
                    same(out[2 * LANES + l], h[0]),
                    "lane {l} curvature of {source}: {} vs {}",
                    out[2 * LANES + l],
                    h[0]
                );
            } else {
                prop_assert!(
                    same(out[2 * LANES + l], 7.0),
                    "{source}: wrote a third part"
                );
            }
            prop_assert!(
                same(out[l], v),
                "lane {l} value of {source}: {} vs {v}",
                out[l]
            );
            prop_assert!(
                same(out[LANES + l], g[0]),
                "lane {l} slope of {source}: {} vs {}",
                out[LANES + l],
                g[0]
            );
        }
        Ok(())
    }

    #[test]
    fn the_chapter_formulas_match_the_interpreter() {
        let cases: [(&str, &[&str]); 6] = [
            ("x*cos(0.15*pi*x)", &["x"]),
            ("log(exp(x)+exp(-2*x-3))", &["x"]),
            ("cosh(0.5*x)", &["x"]),
            ("x1^2+2*x2^2", &["x1", "x2"]),
            ("100*(x2-x1^2)^2+(1-x1)^2", &["x1", "x2"]),
            ("0.1*x1^2+2*x2^2", &["x1", "x2"]),
        ];
        for (source, variables) in cases {
            for x in [[0.3, -1.7], [-1.2, 1.0], [2.5, 0.0], [10.0, -5.0]] {
                assert!(check(source, variables, &x).unwrap(), "{source} compiles");
            }
        }
    }

    /// Every operation and library function, and unused declared
    /// variables (zeros in their rows of the gradient and Hessian).
    #[test]
    fn every_operation_matches_the_interpreter() {
        let sources = [
            "exp(x) + log(y) + sqrt(x*y) + abs(x - y)",
            "sin(x) * cos(y) + tan(0.3*x) - asin(x/4) + acos(y/4) + atan(x*y)",
            "sinh(x) - cosh(y) + tanh(x*y)",
            "x^2.5 + y^-1.5 + 2^x + x^y + pow(y, x) + x^3 + y^-2 + x^0 + y^1 + x^7",
            "min(x, y) + max(x*y, 1) + 3/x - y/2 + x/y + -x + (2 - y)",
            "((x - y)^2 + 1)^2 * (x + 1)^-3",
            // Deferred signs (`Part::Neg`) meeting every rule: products,
            // quotients, sums and differences of negated parts.
            "cos(x)*cos(y) - cos(x*y) + (1 - cos(x))/(2 + cos(y)) - -acos(x/4) - (-(y - x)) + -cos(x) - -cos(y)",
        ];
        let points = [
            [1.3, 0.7, 0.0],
            [0.4, 2.2, 0.0],
            [2.0, 2.0, 0.0],
            [0.5, 0.5, 0.0],
        ];
        for source in sources {
            for x in points {
                assert!(check(source, &["x", "y"], &x).unwrap(), "{source}");
                assert!(check(source, &["x", "u", "y"], &x).unwrap(), "{source}");
            }
        }
        let x = [0.7, 1.9];
        assert!(check("x^2", &["w", "x"], &x).unwrap());
    }

    /// Points where the interpreter's structural zeros are `0 * inf` (NaN):
    /// the value is still the same bits, and the partials that do not
    /// involve the overflow are numbers.
    #[test]
    fn overflow_and_nan_points() {
        for x in [
            [1e200, 3.0],
            [f64::INFINITY, 1.0],
            [f64::NAN, 2.0],
            [-0.0, 0.0],
        ] {
            for source in ["x^2*y + y^2", "100*(y-x^2)^2+(1-x)^2", "exp(x)*y"] {
                assert!(check(source, &["x", "y"], &x).unwrap(), "{source}");
            }
        }
        let tape = compile_tape("x^4 + y^2", &["x", "y"]);
        let code = compile(&tape, Order::Hessian).unwrap();
        let (mut g, mut h) = ([0.0; 2], [0.0; 4]);
        // SAFETY: lengths 2 and 4.
        let v = unsafe { code.function()([1e100, 3.0].as_ptr(), g.as_mut_ptr(), h.as_mut_ptr()) };
        assert_eq!(v, f64::INFINITY);
        // The interpreter's ∂/∂y and ∂²/∂y² are NaN here (0 * inf).
        assert_eq!((g[1], h[3], h[1]), (6.0, 2.0, 0.0));
    }

    #[test]
    fn what_is_not_compiled() {
        // A constant, too many variables used, too many declared.
        let constant = compile_tape("2 + 3", &["x"]);
        assert!(compile(&constant, Order::Value).is_none());
        let five = compile_tape("x1+x2+x3+x4+x5", &["x1", "x2", "x3", "x4", "x5"]);
        assert!(compile(&five, Order::Gradient).is_none());
        assert!(compile(&five, Order::Value).is_some());
        let names: Vec<String> = (1..=9).map(|i| format!("x{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let wide = compile_tape("x1^2", &names);
        assert!(compile(&wide, Order::Hessian).is_none());
        let long = (0..MAX_OPS)
            .map(|i| format!("sin({i}*x)"))
            .collect::<Vec<_>>()
            .join("+");
        assert!(compile(&compile_tape(&long, &["x"]), Order::Value).is_none());
    }

    #[test]
    fn triangle_indices_run_row_by_row() {
        let m = 4;
        let mut k = 0;
        for i in 0..m {
            for j in i..m {
                assert_eq!(triangle_index(i, j, m), k);
                k += 1;
            }
        }
    }

    #[test]
    fn library_entries_are_in_enum_order() {
        for (index, (function, _, _)) in LIBRARY.iter().enumerate() {
            assert_eq!(*function as usize, index);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn native_code_matches_the_interpreter_in_one_variable(
            source in formula_over(&["x"]),
            x in prop::collection::vec(-3.0..3.0f64, 1),
        ) {
            check(&source, &["x"], &x)?;
        }

        #[test]
        fn native_code_matches_the_interpreter_in_three_variables(
            source in formula_over(&["x", "y", "z"]),
            x in prop::collection::vec(-3.0..3.0f64, 3),
        ) {
            check(&source, &["x", "y", "z"], &x)?;
        }
    }
}
