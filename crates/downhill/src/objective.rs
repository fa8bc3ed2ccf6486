//! Objectives `f: Rⁿ → R` with value, gradient and Hessian.
//!
//! Three ways to define one, none of which needs a hand-written derivative
//! unless the user wants to write it:
//!
//! 1. a formula string ([`crate::formula::Formula`]), differentiated exactly;
//! 2. a Rust closure written once over a dual-number type ([`AutoDiff`]),
//!    differentiated automatically by `num-dual`;
//! 3. closures with hand-written gradient and Hessian ([`Manual`]), as the
//!    book does.
//!
//! Methods never see these types: they ask a [`Problem`], which counts every
//! evaluation for the run's summary.

use nalgebra::SVector;
use num_dual::{Dual2SVec64, DualNumCopy, DualSVec64};
use std::cell::Cell;
use std::sync::{Arc, OnceLock};

use crate::formula::{CompiledGradient, Formula};

/// A twice-differentiable function `f: Rⁿ → R`.
///
/// Contract: `x.len() == dim()`, `grad.len() == dim()`,
/// `hess.len() == dim() * dim()` (row-major). Implementations may return
/// non-finite numbers; the driver turns them into a reported outcome.
pub trait Objective {
    /// Number of variables `n`.
    fn dim(&self) -> usize;

    /// Names of the variables, in order (used for printing). The default,
    /// `x` or `x1, x2, ...`, costs nothing until the names are read.
    fn names(&self) -> Variables {
        Variables::numbered(self.dim())
    }

    /// `f(x)`.
    fn value(&self, x: &[f64]) -> f64;

    /// `f(x)`, writing `∇f(x)` into `grad`.
    fn value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64;

    /// `f(x)`, writing `∇f(x)` into `grad` and `∇²f(x)` (row-major) into `hess`.
    /// Write every entry of `hess`, zeros included: it holds other numbers
    /// on entry (the driver reuses one buffer, and Newton's method factors
    /// the matrix in it).
    fn value_gradient_hessian(&self, x: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64;

    /// The diagonal of `∇²f(x)` written into `diag` (length `dim`), for
    /// objectives that can give it without the `n × n` matrix (separable
    /// sums, quadratics, least squares: see [`crate::large`]). `None` (the
    /// default) means "not available": use [`Objective::value_gradient_hessian`].
    fn hessian_diagonal(&self, x: &[f64], diag: &mut [f64]) -> Option<()> {
        let _ = (x, diag);
        None
    }

    /// [`Objective::value_gradient`] as machine code the caller may call
    /// directly (a compiled [`Formula`]'s), for evaluating many points:
    /// the driver's [`Problem`] takes it once per run. `None` (the default)
    /// means "call `value_gradient`". Only this crate can make a
    /// [`CompiledGradient`]; an implementation wrapping a formula may pass
    /// the formula's on.
    fn compiled_gradient(&self) -> Option<CompiledGradient<'_>> {
        None
    }
}

/// `x` in one dimension, `x1, x2, ...` otherwise: the book's names.
pub fn default_variable_names(dim: usize) -> Vec<String> {
    if dim == 1 {
        vec!["x".to_string()]
    } else {
        (1..=dim).map(|i| format!("x{i}")).collect()
    }
}

/// Whether `name` is the default name of variable `i` of `dim` (no allocation).
fn is_default_name(name: &str, i: usize, dim: usize) -> bool {
    if dim == 1 {
        return name == "x";
    }
    match name.strip_prefix('x') {
        Some(digits) => {
            !digits.starts_with('0')
                && digits.bytes().all(|b| b.is_ascii_digit())
                && digits.parse::<usize>() == Ok(i + 1)
        }
        None => false,
    }
}

/// The names of an objective's variables, cheap to make and to clone: the
/// default names (`x`, or `x1, x2, ...`) are only spelled out when read, so
/// a run with a million variables does not allocate a million strings.
/// Reads as a slice of names (`Deref<Target = [String]>`).
#[derive(Clone)]
pub struct Variables {
    dim: usize,
    names: OnceLock<Arc<[String]>>,
}

impl Variables {
    /// The default names of `dim` variables, spelled out on first read.
    pub fn numbered(dim: usize) -> Self {
        Variables {
            dim,
            names: OnceLock::new(),
        }
    }

    /// These names; stored as [`Variables::numbered`] (no copy) when they are
    /// the default ones.
    pub fn from_names(names: &[String]) -> Self {
        let dim = names.len();
        if names
            .iter()
            .enumerate()
            .all(|(i, name)| is_default_name(name, i, dim))
        {
            Variables::numbered(dim)
        } else {
            Variables {
                dim,
                names: OnceLock::from(Arc::from(names)),
            }
        }
    }

    /// Number of variables (without spelling out the names).
    pub fn len(&self) -> usize {
        self.dim
    }

    /// True for zero variables.
    pub fn is_empty(&self) -> bool {
        self.dim == 0
    }

    /// The names as a slice (spelled out on the first call).
    pub fn as_slice(&self) -> &[String] {
        self.names
            .get_or_init(|| default_variable_names(self.dim).into())
    }
}

impl From<Vec<String>> for Variables {
    fn from(names: Vec<String>) -> Self {
        Variables::from_names(&names)
    }
}

impl std::ops::Deref for Variables {
    type Target = [String];
    fn deref(&self) -> &[String] {
        self.as_slice()
    }
}

impl std::fmt::Debug for Variables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl PartialEq for Variables {
    fn eq(&self, other: &Self) -> bool {
        self.dim == other.dim && self.as_slice() == other.as_slice()
    }
}

impl<S: AsRef<str>> PartialEq<[S]> for Variables {
    fn eq(&self, other: &[S]) -> bool {
        self.dim == other.len()
            && self
                .as_slice()
                .iter()
                .zip(other)
                .all(|(a, b)| a == b.as_ref())
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for Variables {
    fn eq(&self, other: &[S; N]) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for Variables {
    fn eq(&self, other: &Vec<S>) -> bool {
        *self == other[..]
    }
}

impl serde::Serialize for Variables {
    fn serialize<Ser: serde::Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        self.as_slice().serialize(serializer)
    }
}

impl Objective for Formula {
    fn dim(&self) -> usize {
        Formula::dim(self)
    }
    fn names(&self) -> Variables {
        self.shared_names().clone()
    }
    fn value(&self, x: &[f64]) -> f64 {
        Formula::value(self, x)
    }
    fn value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        Formula::value_gradient(self, x, grad)
    }
    fn value_gradient_hessian(&self, x: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        Formula::value_gradient_hessian(self, x, grad, hess)
    }
    fn compiled_gradient(&self) -> Option<CompiledGradient<'_>> {
        Formula::compiled_gradient(self)
    }
}

impl<T: Objective + ?Sized> Objective for &T {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn names(&self) -> Variables {
        (**self).names()
    }
    fn value(&self, x: &[f64]) -> f64 {
        (**self).value(x)
    }
    fn value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        (**self).value_gradient(x, grad)
    }
    fn value_gradient_hessian(&self, x: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        (**self).value_gradient_hessian(x, grad, hess)
    }
    fn hessian_diagonal(&self, x: &[f64], diag: &mut [f64]) -> Option<()> {
        (**self).hessian_diagonal(x, diag)
    }
    fn compiled_gradient(&self) -> Option<CompiledGradient<'_>> {
        (**self).compiled_gradient()
    }
}

/// A function written once, generic over the number type, and differentiated
/// automatically with `num-dual`'s dual numbers (forward mode, exact to
/// rounding). Rust closures cannot be generic, so the function is a type
/// implementing this trait; wrap it in [`AutoDiff`] to get an [`Objective`].
///
/// ```
/// use downhill::objective::{AutoDiff, DualFunction, Objective};
/// use num_dual::DualNumCopy;
///
/// struct Book2d; // f(x) = x1² + 2 x2²
/// impl DualFunction<2> for Book2d {
///     fn eval<D: DualNumCopy<Primitive = f64>>(&self, x: [D; 2]) -> D {
///         x[0] * x[0] + x[1] * x[1] * 2.0
///     }
/// }
/// let f = AutoDiff::new(Book2d);
/// let mut g = [0.0; 2];
/// assert_eq!(f.value_gradient(&[-5.0, -2.0], &mut g), 33.0);
/// assert_eq!(g, [-10.0, -8.0]);
/// ```
pub trait DualFunction<const N: usize> {
    /// `f(x)` for any copyable dual-number type (`f64` included).
    fn eval<D: DualNumCopy<Primitive = f64>>(&self, x: [D; N]) -> D;
}

/// Adapter turning a [`DualFunction`] into an [`Objective`]; `N` is inferred.
#[derive(Clone, Debug)]
pub struct AutoDiff<F, const N: usize>(F);

impl<F: DualFunction<N>, const N: usize> AutoDiff<F, N> {
    /// Wraps a generic function; derivatives come from dual numbers.
    pub fn new(function: F) -> Self {
        AutoDiff(function)
    }
}

impl<F: DualFunction<N>, const N: usize> Objective for AutoDiff<F, N> {
    fn dim(&self) -> usize {
        N
    }

    fn value(&self, x: &[f64]) -> f64 {
        self.0.eval(to_array(x))
    }

    fn value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let point = SVector::<f64, N>::from(to_array(x));
        let (value, gradient) =
            num_dual::gradient(|v: SVector<DualSVec64<N>, N>| self.0.eval(v.into()), &point);
        grad.copy_from_slice(gradient.as_slice());
        value
    }

    fn value_gradient_hessian(&self, x: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        let point = SVector::<f64, N>::from(to_array(x));
        let (value, gradient, hessian) = num_dual::hessian(
            |v: SVector<Dual2SVec64<N>, N>| self.0.eval(v.into()),
            &point,
        );
        grad.copy_from_slice(gradient.as_slice());
        for r in 0..N {
            for c in 0..N {
                hess[r * N + c] = hessian[(r, c)];
            }
        }
        value
    }
}

fn to_array<const N: usize>(x: &[f64]) -> [f64; N] {
    let mut a = [0.0; N];
    a.copy_from_slice(x);
    a
}

/// An objective given by closures for value, gradient and Hessian, as the
/// book writes them (`f`, `f_grad`, `f_hess`).
pub struct Manual<F, G, H> {
    dim: usize,
    value: F,
    gradient: G,
    hessian: H,
}

impl<F, G, H> Manual<F, G, H>
where
    F: Fn(&[f64]) -> f64,
    G: Fn(&[f64], &mut [f64]),
    H: Fn(&[f64], &mut [f64]),
{
    /// `value(x)`, `gradient(x, g)` writes ∇f(x), `hessian(x, h)` writes ∇²f(x) row-major
    /// (every entry: `h` holds other numbers on entry).
    pub fn new(dim: usize, value: F, gradient: G, hessian: H) -> Self {
        Manual {
            dim,
            value,
            gradient,
            hessian,
        }
    }
}

impl<F, G, H> Objective for Manual<F, G, H>
where
    F: Fn(&[f64]) -> f64,
    G: Fn(&[f64], &mut [f64]),
    H: Fn(&[f64], &mut [f64]),
{
    fn dim(&self) -> usize {
        self.dim
    }
    fn value(&self, x: &[f64]) -> f64 {
        (self.value)(x)
    }
    fn value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        (self.gradient)(x, grad);
        (self.value)(x)
    }
    fn value_gradient_hessian(&self, x: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        (self.gradient)(x, grad);
        (self.hessian)(x, hess);
        (self.value)(x)
    }
}

/// Evaluation counts of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Evaluations {
    /// Function values `f(x)`.
    pub f: usize,
    /// Gradients `∇f(x)`.
    pub grad: usize,
    /// Hessians `∇²f(x)`.
    pub hess: usize,
}

/// The objective as methods see it: every evaluation is counted.
pub struct Problem<'a> {
    objective: &'a dyn Objective,
    /// The objective's machine code for `f` and `∇f`, if it has any:
    /// called directly, one dynamic call and the objective's checks fewer
    /// per evaluation (same numbers).
    compiled: Option<CompiledGradient<'a>>,
    /// `objective.dim()`, asked once (methods and line searches read it
    /// every step).
    dim: usize,
    /// Calls by kind: `f` alone, `f` and `∇f`, `f`, `∇f` and (some of)
    /// `∇²f`; one increment per call, the totals are formed when asked.
    values: Cell<usize>,
    gradients: Cell<usize>,
    hessians: Cell<usize>,
}

impl<'a> Problem<'a> {
    /// Wraps an objective with zeroed counters.
    pub fn new(objective: &'a dyn Objective) -> Self {
        Problem {
            objective,
            compiled: objective.compiled_gradient(),
            dim: objective.dim(),
            values: Cell::new(0),
            gradients: Cell::new(0),
            hessians: Cell::new(0),
        }
    }

    /// Number of variables.
    #[inline]
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The wrapped objective.
    pub fn objective(&self) -> &'a dyn Objective {
        self.objective
    }

    /// Counts so far.
    pub fn evaluations(&self) -> Evaluations {
        let (values, gradients, hessians) =
            (self.values.get(), self.gradients.get(), self.hessians.get());
        Evaluations {
            f: values + gradients + hessians,
            grad: gradients + hessians,
            hess: hessians,
        }
    }

    /// `f(x)`; counts one value.
    pub fn value(&self, x: &[f64]) -> f64 {
        self.values.set(self.values.get() + 1);
        self.objective.value(x)
    }

    /// `f(x)` and `∇f(x)`; counts one value and one gradient.
    pub fn value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.gradients.set(self.gradients.get() + 1);
        if let Some(value) = self.compiled.and_then(|code| code.value_gradient(x, grad)) {
            return value;
        }
        self.objective.value_gradient(x, grad)
    }

    /// `f(x)`, `∇f(x)` and `∇²f(x)`; counts one of each.
    pub fn value_gradient_hessian(&self, x: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        self.hessians.set(self.hessians.get() + 1);
        self.objective.value_gradient_hessian(x, grad, hess)
    }

    /// `f(x)`, `∇f(x)` and the diagonal of `∇²f(x)` (into `diag`, length
    /// `n`); counts one of each. The diagonal comes from
    /// [`Objective::hessian_diagonal`] when the objective has it; otherwise
    /// the full matrix is evaluated into `full` (grown to `n × n` on the
    /// first such call, so objectives with a diagonal never cost O(n²)).
    pub fn value_gradient_hessian_diagonal(
        &self,
        x: &[f64],
        grad: &mut [f64],
        diag: &mut [f64],
        full: &mut Vec<f64>,
    ) -> f64 {
        self.hessians.set(self.hessians.get() + 1);
        if self.objective.hessian_diagonal(x, diag).is_some() {
            return self.objective.value_gradient(x, grad);
        }
        let n = diag.len();
        full.resize(n * n, 0.0);
        let value = self.objective.value_gradient_hessian(x, grad, full);
        for (d, h) in diag.iter_mut().zip(full.iter().step_by(n + 1)) {
            *d = *h;
        }
        value
    }
}

/// A linear change of coordinates `g(y) = f(A y)` of an objective `f`
/// (exercise 5: rotate or rescale the coordinates and see which methods
/// notice). `∇g(y) = Aᵀ∇f(Ay)`, `∇²g(y) = Aᵀ ∇²f(Ay) A`.
pub struct Transformed<'a> {
    inner: &'a dyn Objective,
    /// `A`, row-major `n × n`.
    matrix: Vec<f64>,
}

impl std::fmt::Debug for Transformed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transformed")
            .field("variables", &self.inner.names())
            .field("matrix", &self.matrix)
            .finish()
    }
}

impl<'a> Transformed<'a> {
    /// `g(y) = f(A y)` with `A` row-major `n × n`; `None` if the size does not fit.
    pub fn new(inner: &'a dyn Objective, matrix: Vec<f64>) -> Option<Self> {
        let n = inner.dim();
        (matrix.len() == n * n).then_some(Transformed { inner, matrix })
    }

    /// `A = R(θ) · diag(s)`: scale coordinate `i` by `s[i]`, then (in 2-D)
    /// rotate by `degrees` counter-clockwise. Errors name the offending input.
    pub fn rotate_scale(
        inner: &'a dyn Objective,
        degrees: Option<f64>,
        scale: Option<&[f64]>,
    ) -> Result<Self, String> {
        let n = inner.dim();
        let mut matrix = vec![0.0; n * n];
        for i in 0..n {
            matrix[i * n + i] = 1.0;
        }
        if let Some(s) = scale {
            if s.len() != n {
                return Err(format!(
                    "--scale has {} value{} but the objective has {n} variable{}",
                    s.len(),
                    if s.len() == 1 { "" } else { "s" },
                    if n == 1 { "" } else { "s" }
                ));
            }
            if let Some(bad) = s.iter().find(|v| !(v.is_finite() && **v != 0.0)) {
                return Err(format!(
                    "--scale factors must be finite and non-zero, got {bad}"
                ));
            }
            for i in 0..n {
                matrix[i * n + i] = s[i];
            }
        }
        if let Some(degrees) = degrees {
            if n != 2 {
                return Err(format!(
                    "--rotate applies to objectives of 2 variables; this one has {n}"
                ));
            }
            if !degrees.is_finite() {
                return Err(format!("--rotate must be a finite angle, got {degrees}"));
            }
            let (sin, cos) = degrees.to_radians().sin_cos();
            let (a, d) = (matrix[0], matrix[3]);
            matrix = vec![cos * a, -sin * d, sin * a, cos * d];
        }
        Ok(Transformed { inner, matrix })
    }

    /// `x = A y`: the original coordinates of a point.
    pub fn to_original(&self, y: &[f64]) -> Vec<f64> {
        let n = y.len();
        (0..n)
            .map(|i| (0..n).map(|j| self.matrix[i * n + j] * y[j]).sum())
            .collect()
    }

    fn pull_back_gradient(&self, gx: &[f64], grad: &mut [f64]) {
        let n = gx.len();
        for (j, g) in grad.iter_mut().enumerate() {
            *g = (0..n).map(|i| self.matrix[i * n + j] * gx[i]).sum();
        }
    }
}

impl Objective for Transformed<'_> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn names(&self) -> Variables {
        self.inner.names()
    }
    fn value(&self, y: &[f64]) -> f64 {
        self.inner.value(&self.to_original(y))
    }
    fn value_gradient(&self, y: &[f64], grad: &mut [f64]) -> f64 {
        let mut gx = vec![0.0; y.len()];
        let v = self.inner.value_gradient(&self.to_original(y), &mut gx);
        self.pull_back_gradient(&gx, grad);
        v
    }
    fn value_gradient_hessian(&self, y: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        let n = y.len();
        let mut gx = vec![0.0; n];
        let mut hx = vec![0.0; n * n];
        let v = self
            .inner
            .value_gradient_hessian(&self.to_original(y), &mut gx, &mut hx);
        self.pull_back_gradient(&gx, grad);
        // Aᵀ H A
        let a = &self.matrix;
        for r in 0..n {
            for c in 0..n {
                let mut sum = 0.0;
                for i in 0..n {
                    for j in 0..n {
                        sum += a[i * n + r] * hx[i * n + j] * a[j * n + c];
                    }
                }
                hess[r * n + c] = sum;
            }
        }
        v
    }
}
