//! Formulas typed by a user, parsed once and differentiated exactly.
//!
//! A [`Formula`] is parsed into a syntax tree and compiled once into a flat
//! tape of register instructions, with constant folding and common
//! subexpressions shared; every evaluation is then one pass over the tape
//! that computes the value together with the exact gradient (and Hessian,
//! when asked): no re-parsing, no finite differences, no allocation.
//!
//! ```
//! use downhill::formula::Formula;
//! let f = Formula::parse("x1^2 + 2*x2^2").unwrap();
//! assert_eq!(f.variables(), ["x1", "x2"]);
//! let (mut grad, mut hess) = ([0.0; 2], [0.0; 4]);
//! let value = f.value_gradient_hessian(&[1.0, -2.0], &mut grad, &mut hess);
//! assert_eq!((value, grad, hess), (9.0, [2.0, -8.0], [2.0, 0.0, 0.0, 4.0]));
//! ```
//!
//! # Grammar
//!
//! Whitespace separates tokens and is otherwise ignored.
//!
//! ```text
//! formula    = expression END
//! expression = term { ("+" | "-") term }
//! term       = unary { ("*" | "/") unary }
//! unary      = ("-" | "+") unary | power
//! power      = primary [ "^" unary ]                  (* right-associative *)
//! primary    = number | constant | variable
//!            | function "(" expression { "," expression } ")"
//!            | "(" expression ")"
//! number     = ( digits [ "." [ digits ] ] | "." digits ) [ ("e" | "E") [ "+" | "-" ] digits ]
//! constant   = "pi" | "e"
//! function   = "exp" | "log" | "ln" | "sqrt" | "abs" | "sin" | "cos" | "tan"
//!            | "asin" | "acos" | "atan" | "sinh" | "cosh" | "tanh"   (* one argument *)
//!            | "pow" | "min" | "max"                                 (* two arguments *)
//! variable   = "x" | "y" | "z" | "x1" | "x2" | ...    (* or the declared names *)
//! ```
//!
//! This is mathematical convention: `-x^2` is `-(x^2)`, `-2^2` is `-4`,
//! `2^3^2` is `2^9 = 512`, `2*-3` and `x^-1` are allowed, `log` is the
//! natural logarithm. Implicit multiplication (`2x`) is an error.
//!
//! Without declared variables the variables are ordered `x, y, z` first, then
//! `x1, x2, ...` by number (`x10` after `x2`); any other name is an error.
//!
//! Every error is a [`FormulaError`] whose span points at the offending
//! characters; no input makes the parser panic.
//!
//! # Why a hand-written parser
//!
//! The expression crates on crates.io did not fit: `exmex`, `fasteval`,
//! `meval` and `evalexpr` each break a mathematical convention this project
//! relies on (the precedence of unary minus against `^`, or the
//! associativity of `^`), report errors without a position, or are licensed
//! AGPL. Exact derivatives also need an evaluator that propagates them,
//! which none of them offers.
//!
//! # Evaluation
//!
//! The tape (see `program.rs`) holds one instruction per distinct
//! operation: `0.15*pi*x` is one multiplication by the folded constant,
//! and `cos(2*x) + cos(2*x)` computes `2*x` and its cosine once. Only the
//! variables that occur get input registers.
//!
//! * [`value`](Formula::value) runs the tape on plain `f64`: the result is
//!   bit for bit the plain `f64` evaluation of the formula as written.
//! * [`value_gradient`](Formula::value_gradient): forward mode with a
//!   fixed-size array of tangents per register for up to four active
//!   variables; reverse mode (values and local partials forwards, one
//!   adjoint sweep backwards) beyond.
//! * [`value_gradient_hessian`](Formula::value_gradient_hessian):
//!   second-order forward mode (value, gradient, upper triangle of the
//!   Hessian per register), fixed-size for up to four active variables.
//! * [`value_gradient_lanes`](Formula::value_gradient_lanes): forward mode
//!   over [`LANES`] points at once in SIMD registers (AVX-512, AVX2+FMA or
//!   the portable baseline, chosen at run time), with vectorized `sin`,
//!   `cos`, `exp`, `ln` accurate to 2 ulp; for sweeps of many independent
//!   runs.
//!
//! With the crate feature `native` (on by default), the scalar modes of a
//! formula of at most four used variables run machine code instead
//! (`native.rs`): on the first call of each mode the forward mode is
//! unrolled over the tape into straight-line code, without the terms that
//! are structurally zero, and compiled by Cranelift (0.1 to 1 ms for the
//! chapter's formulas). The value is the same bits as
//! the interpreter's; the derivatives are equal as numbers wherever the
//! interpreter's are not NaN (see [`Formula::with_native`]).
//!
//! For the interpreted scalar modes, chains of one-operand instructions whose results
//! are used once (`(x2 - x1^2)^2*100`, `cos(c*x)`) are fused into the
//! instruction before them, with exactly the same arithmetic; a formula of
//! one or two variables gets a specialised gradient and Hessian evaluator,
//! chosen once when it is compiled. Registers of
//! small tapes live on the stack, of large ones in reused thread-local
//! scratch buffers. Every scalar mode
//! computes the value with the same `f64` operations, so all return the
//! bit-identical value. Integer constant exponents multiply by repeated
//! squaring, exactly as `powi` does (`x^2` is exactly `x*x`); other constant
//! exponents use `powf`; a variable exponent `a^b` has the value
//! `a.powf(b)` and the derivatives of `exp(b ln a)`, which need `a > 0`.
//! Non-finite results (`sqrt` or `abs` differentiated at 0, `log` of a
//! negative number, ...) are returned as they come, never as a panic.
//!
//! `cargo run --release -p downhill --example eval_speed` times every path
//! against hand-written Rust.

mod ast;
mod error;
mod eval;
mod fused;
mod lanes;
mod lexer;
mod local;
#[cfg(feature = "native")]
mod native;
mod parser;
mod program;
mod small;
mod vmath;

pub use error::FormulaError;
pub use lanes::Simd;

use program::Tape;

use crate::objective::Variables;

#[cfg(feature = "native")]
use native::Order as NativeOrder;

/// Stand-ins when machine code is compiled out.
#[cfg(not(feature = "native"))]
#[derive(Clone, Copy)]
enum NativeOrder {
    Value,
    Gradient,
    Hessian,
    Lanes,
    LanesCurvature,
}
#[cfg(not(feature = "native"))]
type NativeFn = unsafe extern "C" fn(*const f64, *mut f64, *mut f64) -> f64;

/// [`Formula::value_gradient`]'s machine code for a formula of `M`
/// variables, called without the per-call checks: the array types fix the
/// lengths, and the borrow keeps the formula (which owns the code) alive.
#[derive(Clone, Copy)]
pub(crate) struct GradientCode<'a, const M: usize> {
    #[cfg(feature = "native")]
    function: native::NativeFn,
    #[cfg(not(feature = "native"))]
    function: NativeFn,
    _formula: std::marker::PhantomData<&'a Formula>,
}

impl<const M: usize> GradientCode<'_, M> {
    /// `f(x)`, with `∇f(x)` written into `grad`: exactly
    /// [`Formula::value_gradient`].
    #[inline(always)]
    pub(crate) fn value_gradient(&self, x: &[f64; M], grad: &mut [f64; M]) -> f64 {
        // SAFETY: the code reads `M = dim` numbers from `x` and writes `M`
        // to `grad` (`Formula::gradient_code` checked `M`); the formula
        // that owns the code outlives `self`.
        unsafe { (self.function)(x.as_ptr(), grad.as_mut_ptr(), std::ptr::null_mut()) }
    }
}

/// [`Formula::value_gradient`]'s machine code, for a caller that evaluates
/// one objective many times through the [`Objective`](crate::objective::Objective)
/// trait: the driver's [`Problem`](crate::objective::Problem) calls it
/// directly, without the dynamic call and the checks of every
/// `value_gradient` call in between. Only this crate makes one (see
/// [`Objective::compiled_gradient`](crate::objective::Objective::compiled_gradient)),
/// and the borrow keeps the formula, which owns the code, alive.
#[derive(Clone, Copy)]
pub struct CompiledGradient<'a> {
    #[cfg(feature = "native")]
    function: native::NativeFn,
    #[cfg(not(feature = "native"))]
    function: NativeFn,
    dim: usize,
    _formula: std::marker::PhantomData<&'a Formula>,
}

impl CompiledGradient<'_> {
    /// Number of variables.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// `f(x)`, with `∇f(x)` written into `grad`: exactly
    /// [`Formula::value_gradient`]. `None` (nothing written) unless both
    /// have [`dim`](Self::dim) numbers.
    #[inline(always)]
    pub fn value_gradient(&self, x: &[f64], grad: &mut [f64]) -> Option<f64> {
        if x.len() != self.dim || grad.len() != self.dim {
            return None;
        }
        // SAFETY: the code reads `dim` numbers from `x` and writes `dim` to
        // `grad`; the formula that owns the code outlives `self`.
        Some(unsafe { (self.function)(x.as_ptr(), grad.as_mut_ptr(), std::ptr::null_mut()) })
    }
}

impl std::fmt::Debug for CompiledGradient<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledGradient")
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

/// The machine code of `f` and `∂f/∂x_0` (and, if asked for, `∂²f/∂x_0²`)
/// at [`LANES`] points at once, for a separable sum's term
/// `g(x; c_1, ..., c_K)`: the variables are the coordinate `x` and then up
/// to `K` coefficients. One call replaces eight calls of [`GradientCode`]
/// (or of the Hessian code), with the same numbers bit for bit.
#[derive(Clone, Copy)]
pub(crate) struct LanesCode<'a, const K: usize> {
    #[cfg(feature = "native")]
    function: native::NativeFn,
    #[cfg(not(feature = "native"))]
    function: NativeFn,
    curvature: bool,
    _formula: std::marker::PhantomData<&'a Formula>,
}

impl<const K: usize> LanesCode<'_, K> {
    /// `(g(x_l; c_l), ∂g/∂x(x_l; c_l))` for each lane `l`, where
    /// coefficient `k` of lane `l` is `coefficients[k][l]`: what
    /// [`Formula::value_gradient`] gives at `[x_l, c_1l, ...]`.
    #[inline(always)]
    pub(crate) fn value_slope(
        &self,
        x: &[f64; LANES],
        coefficients: &[[f64; LANES]; K],
    ) -> ([f64; LANES], [f64; LANES]) {
        if self.curvature {
            let [value, slope, _] = self.run::<3>(x, coefficients);
            return (value, slope);
        }
        let [value, slope] = self.run::<2>(x, coefficients);
        (value, slope)
    }

    /// The same with `∂²g/∂x²` at each lane, for a code asked for with the
    /// curvature (else the curvatures are NaN).
    #[inline(always)]
    pub(crate) fn value_slope_curvature(
        &self,
        x: &[f64; LANES],
        coefficients: &[[f64; LANES]; K],
    ) -> [[f64; LANES]; 3] {
        if !self.curvature {
            let [value, slope] = self.run::<2>(x, coefficients);
            return [value, slope, [f64::NAN; LANES]];
        }
        self.run::<3>(x, coefficients)
    }

    /// The code's `P` parts (`P = 3` exactly with the curvature).
    #[inline(always)]
    fn run<const P: usize>(
        &self,
        x: &[f64; LANES],
        coefficients: &[[f64; LANES]; K],
    ) -> [[f64; LANES]; P] {
        /// The code stores pairs of numbers as 16-byte vectors, aligned.
        #[repr(C, align(16))]
        struct Parts<const P: usize>([[f64; LANES]; P]);
        debug_assert_eq!(P, 2 + usize::from(self.curvature));
        let mut out = Parts([[0.0; LANES]; P]);
        // SAFETY: the code reads LANES numbers from `x`, `(dim − 1) · LANES`
        // from `coefficients` (`Formula::lanes_code` checked dim ≤ K + 1)
        // and writes 2 · LANES numbers to `out`, 3 · LANES with the
        // curvature (the callers pass `P = 3` then), 16 bytes at a time to
        // 16-byte aligned places; the formula that owns the code outlives
        // `self`.
        unsafe {
            (self.function)(
                x.as_ptr(),
                coefficients.as_ptr().cast::<f64>().cast_mut(),
                out.0.as_mut_ptr().cast::<f64>(),
            )
        };
        out.0
    }
}

/// Whether new formulas run machine code: yes, unless the environment
/// variable `DOWNHILL_NATIVE` is `0` (read once per process; for systems
/// that forbid executable memory, and to compare with the interpreter).
#[cfg(feature = "native")]
fn native_by_default() -> bool {
    static NATIVE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *NATIVE.get_or_init(|| std::env::var_os("DOWNHILL_NATIVE").is_none_or(|v| v != "0"))
}

/// The number of independent points [`Formula::value_gradient_lanes`]
/// evaluates at once.
pub const LANES: usize = 8;

/// A parsed and compiled formula in a fixed list of variables.
///
/// Cheap to evaluate many times; `Clone`, `Send` and `Sync`.
#[derive(Clone, Debug)]
pub struct Formula {
    source: String,
    variables: Vec<String>,
    /// `variables` as every run's result shares them (made once here, not
    /// per run: the default names are not even spelled out).
    names: Variables,
    tape: Tape,
    /// The machine code of the scalar evaluations, compiled on first use and
    /// shared by clones; `None` for an interpreted formula.
    #[cfg(feature = "native")]
    native: Option<std::sync::Arc<native::NativeCache>>,
}

impl Formula {
    /// Parses `src`, taking the variables from the text: `x`, `y`, `z`,
    /// `x1`, `x2`, ..., ordered `x, y, z` then `x1, x2, ...` numerically.
    /// Any other name that is not a function or constant is an error.
    pub fn parse(src: &str) -> Result<Formula, FormulaError> {
        Self::build(src, None)
    }

    /// Parses `src` with exactly the variables `vars`, in that order. A
    /// declared variable may be absent from the formula; a name used in the
    /// formula but not declared is an error at its position. Declared names
    /// must be identifiers, distinct, and not function or constant names.
    pub fn parse_with_vars(src: &str, vars: &[&str]) -> Result<Formula, FormulaError> {
        Self::build(src, Some(vars))
    }

    fn build(src: &str, vars: Option<&[&str]>) -> Result<Formula, FormulaError> {
        let parsed = parser::parse(src, vars)?;
        let tape = Tape::compile(&parsed.expr, &parsed.variables);
        Ok(Formula {
            source: src.to_string(),
            names: Variables::from_names(&parsed.variables),
            variables: parsed.variables,
            tape,
            #[cfg(feature = "native")]
            native: native_by_default().then(Default::default),
        })
    }

    /// The same formula evaluated by the interpreter only (`native` false)
    /// or, the default, by machine code where it is supported (`native`
    /// true; see [`Formula::is_native`]). The environment variable
    /// `DOWNHILL_NATIVE=0` makes every formula interpreted from the start.
    ///
    /// Machine code computes the same values bit for bit; its derivatives
    /// leave out terms that are structurally zero (`∂(x1^2)/∂x2`), so they
    /// equal the interpreter's as numbers wherever those are not NaN, and
    /// stay numbers where the interpreter gets NaN from `0 * inf`.
    pub fn with_native(self, native: bool) -> Formula {
        #[cfg(feature = "native")]
        {
            let mut formula = self;
            formula.native = native.then(Default::default);
            formula
        }
        #[cfg(not(feature = "native"))]
        {
            let _ = native;
            self
        }
    }

    /// True if [`value_gradient`](Self::value_gradient) runs machine code:
    /// the crate feature `native` is on (the default), the formula was not
    /// made interpreted by [`with_native`](Self::with_native), the host is
    /// supported by Cranelift, and the formula is small enough (at most 4
    /// variables used, 8 declared, 400 operations). The code is compiled on
    /// the first call of each evaluation (value, gradient, Hessian): 0.1 to
    /// 1 ms each for the chapter's formulas. Calling this compiles the
    /// gradient's code.
    pub fn is_native(&self) -> bool {
        self.native_function(NativeOrder::Gradient).is_some()
    }

    /// The machine code of `order`, compiling it on first use.
    #[cfg(feature = "native")]
    fn native_function(&self, order: NativeOrder) -> Option<native::NativeFn> {
        self.native.as_ref()?.get(&self.tape, order)
    }

    /// The machine code of `order` if it is compiled already.
    #[cfg(feature = "native")]
    #[inline]
    fn native_ready(&self, order: NativeOrder) -> Option<native::NativeFn> {
        self.native.as_ref()?.ready(order)
    }

    #[cfg(not(feature = "native"))]
    fn native_function(&self, _order: NativeOrder) -> Option<NativeFn> {
        None
    }

    #[cfg(not(feature = "native"))]
    #[inline]
    fn native_ready(&self, _order: NativeOrder) -> Option<NativeFn> {
        None
    }

    /// The machine code of `f` and `∇f` for callers that evaluate many
    /// points of a formula of `M` variables: `None` without machine code or
    /// when `M` is not [`dim`](Self::dim). Compiles the code on first use.
    pub(crate) fn gradient_code<const M: usize>(&self) -> Option<GradientCode<'_, M>> {
        if M != self.dim() {
            return None;
        }
        let function = self.native_function(NativeOrder::Gradient)?;
        Some(GradientCode {
            function,
            _formula: std::marker::PhantomData,
        })
    }

    /// [`Formula::value_gradient`] as machine code (see
    /// [`CompiledGradient`]); compiles it on first use. `None` when the
    /// formula is interpreted.
    pub fn compiled_gradient(&self) -> Option<CompiledGradient<'_>> {
        let function = self.native_function(NativeOrder::Gradient)?;
        Some(CompiledGradient {
            function,
            dim: self.dim(),
            _formula: std::marker::PhantomData,
        })
    }

    /// The machine code of `f` and `∂f/∂x_0` (with `curvature`, also
    /// `∂²f/∂x_0²`) over [`LANES`] points, for a formula of the coordinate
    /// and at most `K` coefficients: `None` without machine code (or for a
    /// tape too long to unroll eight times). Compiles the code on first use.
    pub(crate) fn lanes_code<const K: usize>(&self, curvature: bool) -> Option<LanesCode<'_, K>> {
        if self.dim() == 0 || self.dim() > K + 1 {
            return None;
        }
        let order = if curvature {
            NativeOrder::LanesCurvature
        } else {
            NativeOrder::Lanes
        };
        let function = self.native_function(order)?;
        Some(LanesCode {
            function,
            curvature,
            _formula: std::marker::PhantomData,
        })
    }

    /// The formula text as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The variable names as a run's result shares them.
    pub(crate) fn shared_names(&self) -> &Variables {
        &self.names
    }

    /// The variable names, in the order of the coordinates of `x`.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// The number of variables.
    pub fn dim(&self) -> usize {
        self.variables.len()
    }

    /// `f(x)`. `x.len()` must equal [`dim`](Self::dim); a mismatch is a
    /// caller bug: it debug-asserts, and returns NaN in release builds.
    #[inline]
    pub fn value(&self, x: &[f64]) -> f64 {
        if let Some(function) = self.native_ready(NativeOrder::Value) {
            if x.len() == self.dim() {
                // SAFETY: the code reads `dim` numbers from `x` and writes
                // nothing.
                return unsafe { function(x.as_ptr(), std::ptr::null_mut(), std::ptr::null_mut()) };
            }
        }
        self.first_or_interpreted_value(x)
    }

    /// `f(x)`, with the exact gradient written into `grad` (length `dim`).
    /// A length mismatch debug-asserts, and in release fills `grad` with NaN
    /// and returns NaN.
    #[inline]
    pub fn value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        if let Some(function) = self.native_ready(NativeOrder::Gradient) {
            if x.len() == self.dim() && grad.len() == self.dim() {
                // SAFETY: the code reads `dim` numbers from `x` and writes
                // `dim` to `grad`.
                return unsafe { function(x.as_ptr(), grad.as_mut_ptr(), std::ptr::null_mut()) };
            }
        }
        self.first_or_interpreted_value_gradient(x, grad)
    }

    /// `f(x)`, with the exact gradient written into `grad` (length `dim`) and
    /// the exact Hessian written row-major into `hess` (length `dim * dim`).
    /// A length mismatch debug-asserts, and in release fills both with NaN
    /// and returns NaN.
    #[inline]
    pub fn value_gradient_hessian(&self, x: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        if let Some(function) = self.native_ready(NativeOrder::Hessian) {
            if self.hessian_lengths(x, grad, hess) {
                // SAFETY: the code reads `dim` numbers from `x` and writes
                // `dim` to `grad` and `dim * dim` to `hess`.
                return unsafe { function(x.as_ptr(), grad.as_mut_ptr(), hess.as_mut_ptr()) };
            }
        }
        self.first_or_interpreted_value_gradient_hessian(x, grad, hess)
    }

    fn hessian_lengths(&self, x: &[f64], grad: &[f64], hess: &[f64]) -> bool {
        let dim = self.dim();
        x.len() == dim && grad.len() == dim && hess.len() == dim * dim
    }

    // Out of line, so that the calls above stay a few instructions (two
    // tail calls, no stack frame): the first call of each evaluation, which
    // compiles the machine code, and the interpreted paths.

    // Each compiles the code of its order if it is supported, then goes
    // back through the fast path above, which now finds it ready.

    #[inline(never)]
    fn first_or_interpreted_value(&self, x: &[f64]) -> f64 {
        if self.native_function(NativeOrder::Value).is_some() && x.len() == self.dim() {
            return self.value(x);
        }
        self.interpreted_value(x)
    }

    #[inline(never)]
    fn first_or_interpreted_value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let dim = self.dim();
        if self.native_function(NativeOrder::Gradient).is_some()
            && x.len() == dim
            && grad.len() == dim
        {
            return self.value_gradient(x, grad);
        }
        self.interpreted_value_gradient(x, grad)
    }

    #[inline(never)]
    fn first_or_interpreted_value_gradient_hessian(
        &self,
        x: &[f64],
        grad: &mut [f64],
        hess: &mut [f64],
    ) -> f64 {
        if self.native_function(NativeOrder::Hessian).is_some()
            && self.hessian_lengths(x, grad, hess)
        {
            return self.value_gradient_hessian(x, grad, hess);
        }
        self.interpreted_value_gradient_hessian(x, grad, hess)
    }

    #[inline]
    fn interpreted_value(&self, x: &[f64]) -> f64 {
        if !self.lengths_fit(x.len(), self.dim(), None) {
            return f64::NAN;
        }
        eval::value(&self.tape, x)
    }

    #[inline]
    fn interpreted_value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        if let Some(value) = eval::small_gradient(&self.tape, x, grad) {
            return value;
        }
        if !self.lengths_fit(x.len(), grad.len(), None) {
            grad.fill(f64::NAN);
            return f64::NAN;
        }
        eval::value_gradient(&self.tape, x, grad)
    }

    #[inline]
    fn interpreted_value_gradient_hessian(
        &self,
        x: &[f64],
        grad: &mut [f64],
        hess: &mut [f64],
    ) -> f64 {
        if let Some(value) = eval::small_hessian(&self.tape, x, grad, hess) {
            return value;
        }
        if !self.lengths_fit(x.len(), grad.len(), Some(hess.len())) {
            grad.fill(f64::NAN);
            hess.fill(f64::NAN);
            return f64::NAN;
        }
        eval::value_gradient_hessian(&self.tape, x, grad, hess)
    }

    /// `f` and `∇f` at [`LANES`] independent points at once, as structure
    /// of arrays: coordinate `i` of the point in lane `l` is `x[i][l]`, and
    /// `∂f/∂x_i` there goes to `grad[i][l]`. Both slices have length
    /// [`dim`](Self::dim); a mismatch is a caller bug: it debug-asserts, and
    /// in release fills `value` and `grad` with NaN.
    ///
    /// One pass over the compiled tape with every register holding `LANES`
    /// numbers, in SIMD instructions chosen at run time for this CPU
    /// ([`Simd::detected`]). Each lane agrees with
    /// [`value_gradient`](Self::value_gradient) at that point to within a
    /// few ulps: `sin`, `cos`, `exp` and `ln` use vectorized kernels accurate
    /// to 2 ulp (the standard library's results may differ in the last
    /// bits); everything else is the same arithmetic.
    pub fn value_gradient_lanes(
        &self,
        x: &[[f64; LANES]],
        value: &mut [f64; LANES],
        grad: &mut [[f64; LANES]],
    ) {
        self.value_gradient_lanes_with(Simd::detected(), x, value, grad);
    }

    /// [`value_gradient_lanes`](Self::value_gradient_lanes) compiled for at
    /// most `simd` (for tests and benchmarks of the portable and AVX2 code
    /// on a CPU with AVX-512); a level the CPU lacks falls back to the best
    /// one it has.
    pub fn value_gradient_lanes_with(
        &self,
        simd: Simd,
        x: &[[f64; LANES]],
        value: &mut [f64; LANES],
        grad: &mut [[f64; LANES]],
    ) {
        if !self.lengths_fit(x.len(), grad.len(), None) {
            *value = [f64::NAN; LANES];
            grad.fill([f64::NAN; LANES]);
            return;
        }
        lanes::value_gradient_lanes(simd, &self.tape, x, value, grad);
    }

    /// True if the point and gradient have length `dim` and the Hessian
    /// `dim * dim` (`None` when there is no Hessian); debug-asserts it.
    fn lengths_fit(&self, point: usize, gradient: usize, hessian: Option<usize>) -> bool {
        let dim = self.dim();
        let fit = point == dim && gradient == dim && hessian.is_none_or(|len| len == dim * dim);
        debug_assert!(
            fit,
            "formula '{}' has {dim} variables; got a point of length {point}, gradient {gradient}, Hessian {hessian:?}",
            self.source
        );
        fit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_clone<T: Send + Sync + Clone + std::fmt::Debug>() {}

    #[test]
    fn formula_is_send_sync_clone_debug() {
        assert_send_sync_clone::<Formula>();
        assert_send_sync_clone::<FormulaError>();
    }

    #[test]
    fn small_plans_through_the_formula_match_the_reference() {
        for source in [
            "x*cos(0.15*pi*x)",
            "log(exp(x)+exp(-2*x-3))",
            "x1^2+2*x2^2",
            "100*(x2-x1^2)^2+(1-x1)^2",
        ] {
            let f = Formula::parse(source).unwrap();
            assert_ne!(*f.tape.plan(), small::Plan::General, "{source}");
            let n = f.dim();
            let x = &[0.3, -1.7][..n];
            let (mut g, mut rg) = (vec![0.0; n], vec![0.0; n]);
            let (mut h, mut rh) = (vec![0.0; n * n], vec![0.0; n * n]);
            let v = f.value_gradient(x, &mut g);
            let rv = eval::reference::value_gradient(&f.tape, x, &mut rg);
            assert_eq!((v.to_bits(), &g), (rv.to_bits(), &rg), "{source}");
            let v = f.value_gradient_hessian(x, &mut g, &mut h);
            let rv = eval::reference::value_gradient_hessian(&f.tape, x, &mut rg, &mut rh);
            assert_eq!((v.to_bits(), &g, &h), (rv.to_bits(), &rg, &rh), "{source}");
        }
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "has 2 variables")]
    fn a_length_mismatch_on_a_small_plan_still_debug_asserts() {
        let f = Formula::parse("x1^2+2*x2^2").unwrap();
        let (mut g, mut h) = ([0.0; 3], [0.0; 9]);
        f.value_gradient_hessian(&[1.0, 2.0, 3.0], &mut g, &mut h);
    }

    #[test]
    fn value_paths_agree_bit_for_bit() {
        let f = Formula::parse("x/y + tan(x)*tanh(y) + x^2.5 + 2^y + y^x + 1/x").unwrap();
        let x = [1.3, 0.7];
        let (mut g, mut h) = ([0.0; 2], [0.0; 4]);
        let v = f.value(&x);
        assert_eq!(v.to_bits(), f.value_gradient(&x, &mut g).to_bits());
        assert_eq!(
            v.to_bits(),
            f.value_gradient_hessian(&x, &mut g, &mut h).to_bits()
        );
    }
}
