//! Line searches: choosing the step `t > 0` along a descent direction
//! (chapter section 6, "gradient descent with line search", and exercise 2).
//!
//! Along a ray from `x` in the direction `d` the objective becomes a function
//! of one variable,
//!
//! ```text
//! φ(t)  = f(x + t d)
//! φ′(t) = ∇f(x + t d) · d
//! ```
//!
//! and `d` is a descent direction when `φ′(0) < 0` (for `d = −∇f(x)`,
//! `φ′(0) = −‖∇f(x)‖²`). A [`LineSearch`] picks `t` from `φ(0)`, `φ′(0)` and
//! a first trial step `t₀`, evaluating `φ` as it goes:
//!
//! | search | condition on the returned `t` | uses |
//! |--------|-------------------------------|------|
//! | [`Exact`] | `t` within a relative `tol` of a local minimizer of `φ` (bisection on the sign of `φ′`: the book's "binary search") | `φ`, `φ′` |
//! | [`Golden`] | same, by golden-section search | `φ` only |
//! | [`Armijo`] | sufficient decrease `φ(t) ≤ φ(0) + c₁ t φ′(0)` (backtracking) | `φ` only |
//! | [`MoreThuente`] | strong Wolfe: sufficient decrease and `│φ′(t)│ ≤ c₂ │φ′(0)│` | `φ`, `φ′` |
//!
//! Contract shared by every search:
//!
//! - `φ′(0)` must be finite and negative, else [`LineSearchError::NotDescent`];
//!   `φ(0)` must be finite, else [`LineSearchError::NonFinite`].
//! - A non-finite `φ(t)` or `φ′(t)` means "too far": the search retreats
//!   towards the best step so far; it never uses such a value in a formula.
//! - A returned step has `t > 0` and satisfies the search's condition (for
//!   `Armijo` and `MoreThuente` that includes `φ(t) < φ(0)`; `Exact` and
//!   `Golden` return a local minimizer reached by descending from `t = 0`).
//!   `evaluations` counts every call of [`LineFunction::value`] or
//!   [`LineFunction::value_derivative`] made by the search (`φ(0)` and
//!   `φ′(0)` are the caller's).
//! - Every loop is bounded by the search's `max_iter` evaluations; running
//!   out gives [`LineSearchError::NoProgress`] (or `NonFinite` when no trial
//!   step had a finite value). Nothing panics.
//! - A non-finite or non-positive `t₀` is replaced by 1.
//!
//! [`Ray`] turns a counted [`Problem`] and a direction into a
//! [`LineFunction`]; a closure `t ↦ (φ(t), φ′(t))` is one too.
//!
//! ```
//! use downhill::line_search::{LineSearch, MoreThuente};
//! // φ(t) = (t − 3)², φ(0) = 9, φ′(0) = −6
//! let mut phi = |t: f64| ((t - 3.0).powi(2), 2.0 * (t - 3.0));
//! let step = MoreThuente::default().search(&mut phi, 9.0, -6.0, 1.0).unwrap();
//! // t = 1 is already acceptable: φ(1) = 4 ≤ 9 − 1e-4·6 and │φ′(1)│ = 4 ≤ 0.9·6
//! assert_eq!((step.t, step.phi, step.evaluations), (1.0, 4.0, 1));
//! ```
//!
//! The scalar helpers [`bisection_minimize`] and [`golden_minimize`] answer
//! exercise 2 (minimize a convex function on `[a, b]`) and record how the
//! bracket shrinks.
//!
//! These searches are hand-written on purpose: they are part of what this
//! project implements, and no well-kept crate offers them on a plain closure
//! interface without bringing in argmin's whole solver framework.

mod armijo;
mod exact;
mod golden;
mod interval;
mod more_thuente;

pub use armijo::Armijo;
pub use exact::Exact;
pub use golden::Golden;
pub use interval::{bisection_minimize, golden_minimize, IntervalTrace};
pub use more_thuente::MoreThuente;

use crate::objective::Problem;

/// `φ(t) = f(x + t d)` along a ray, and `φ′(t) = ∇f(x + t d) · d`.
///
/// Any closure `FnMut(f64) -> (f64, f64)` returning `(φ(t), φ′(t))` is a
/// `LineFunction` (its [`value`](LineFunction::value) discards `φ′`).
pub trait LineFunction {
    /// `φ(t)`.
    fn value(&mut self, t: f64) -> f64;

    /// `(φ(t), φ′(t))`.
    fn value_derivative(&mut self, t: f64) -> (f64, f64);
}

impl<F: FnMut(f64) -> (f64, f64)> LineFunction for F {
    fn value(&mut self, t: f64) -> f64 {
        self(t).0
    }

    fn value_derivative(&mut self, t: f64) -> (f64, f64) {
        self(t)
    }
}

/// The ray `t ↦ x + t d` on a counted [`Problem`]: `value` costs one `f`
/// evaluation, `value_derivative` one `f` and one `∇f` evaluation.
///
/// It keeps the value and the gradient at the last point evaluated with
/// [`value_derivative`](LineFunction::value_derivative), so that a method
/// can reuse them when the search returns that step.
///
/// ```
/// use downhill::line_search::{LineFunction, Ray};
/// use downhill::objective::{Manual, Problem};
/// // f(x) = x1² + 2 x2²
/// let f = Manual::new(
///     2,
///     |x: &[f64]| x[0] * x[0] + 2.0 * x[1] * x[1],
///     |x: &[f64], g: &mut [f64]| { g[0] = 2.0 * x[0]; g[1] = 4.0 * x[1]; },
///     |_: &[f64], h: &mut [f64]| h.copy_from_slice(&[2.0, 0.0, 0.0, 4.0]),
/// );
/// let problem = Problem::new(&f);
/// let mut ray = Ray::new(&problem, &[-5.0, -2.0], &[10.0, 8.0]);
/// // x + 0.5 d = (0, 2): φ = 8, ∇f = (0, 8), φ′ = 8 · 8 = 64
/// assert_eq!(ray.value_derivative(0.5), (8.0, 64.0));
/// assert_eq!(ray.last_gradient(), Some((0.5, &[0.0, 8.0][..])));
/// assert_eq!(problem.evaluations().grad, 1);
/// ```
pub struct Ray<'a, 'o> {
    problem: &'a Problem<'o>,
    origin: &'a [f64],
    direction: &'a [f64],
    /// The point `x + t d` (first `n` entries), then `∇f` there: one
    /// allocation for both.
    work: Vec<f64>,
    /// `t` and `f(x + t d)` of the last `value_derivative` call, whose
    /// gradient is in `work[n..]`.
    gradient_at: Option<(f64, f64)>,
}

/// Work buffers of a [`Ray`], kept by a method between steps so that a line
/// search allocates nothing per iteration ([`Ray::reusing`], [`Ray::into_buffers`]).
#[derive(Clone, Debug, Default)]
pub struct RayBuffers {
    work: Vec<f64>,
}

impl<'a, 'o> Ray<'a, 'o> {
    /// The ray through `x` along `d`.
    ///
    /// # Panics
    ///
    /// If `x` or `d` does not have `problem.dim()` components.
    pub fn new(problem: &'a Problem<'o>, x: &'a [f64], d: &'a [f64]) -> Self {
        Ray::reusing(problem, x, d, RayBuffers::default())
    }

    /// [`Ray::new`] with buffers from an earlier ray (no allocation when they
    /// already have the right size).
    #[inline]
    pub fn reusing(
        problem: &'a Problem<'o>,
        x: &'a [f64],
        d: &'a [f64],
        buffers: RayBuffers,
    ) -> Self {
        let n = problem.dim();
        assert_eq!(x.len(), n, "Ray::new: x has the wrong dimension");
        assert_eq!(d.len(), n, "Ray::new: d has the wrong dimension");
        let RayBuffers { mut work } = buffers;
        if work.len() != 2 * n {
            work.resize(2 * n, 0.0);
        }
        Ray {
            problem,
            origin: x,
            direction: d,
            work,
            gradient_at: None,
        }
    }

    /// Gives the work buffers back for the next ray.
    #[inline]
    pub fn into_buffers(self) -> RayBuffers {
        RayBuffers { work: self.work }
    }

    /// The step `t` and `∇f(x + t d)` of the last
    /// [`value_derivative`](LineFunction::value_derivative) call, if any.
    pub fn last_gradient(&self) -> Option<(f64, &[f64])> {
        self.last_evaluation().map(|(t, _, gradient)| (t, gradient))
    }

    /// The step `t`, `f(x + t d)` and `∇f(x + t d)` of the last
    /// [`value_derivative`](LineFunction::value_derivative) call, if any.
    pub fn last_evaluation(&self) -> Option<(f64, f64, &[f64])> {
        let n = self.origin.len();
        self.gradient_at
            .map(|(t, value)| (t, value, &self.work[n..]))
    }

    /// Writes the point `x + t d` into `out` (same length as `x`).
    pub fn point_at(&self, t: f64, out: &mut [f64]) {
        for ((o, x), d) in out.iter_mut().zip(self.origin).zip(self.direction) {
            *o = x + t * d;
        }
    }

    /// Moves to `x + t d`; returns that point and the gradient buffer.
    fn move_to(&mut self, t: f64) -> (&mut [f64], &mut [f64]) {
        let (point, gradient) = self.work.split_at_mut(self.origin.len());
        for ((p, x), d) in point.iter_mut().zip(self.origin).zip(self.direction) {
            *p = x + t * d;
        }
        (point, gradient)
    }
}

impl LineFunction for Ray<'_, '_> {
    fn value(&mut self, t: f64) -> f64 {
        let problem = self.problem;
        let (point, _) = self.move_to(t);
        problem.value(point)
    }

    fn value_derivative(&mut self, t: f64) -> (f64, f64) {
        let (problem, direction) = (self.problem, self.direction);
        let (point, gradient) = self.move_to(t);
        let value = problem.value_gradient(point, gradient);
        let slope = gradient.iter().zip(direction).map(|(g, d)| g * d).sum();
        self.gradient_at = Some((t, value));
        (value, slope)
    }
}

/// [`Ray`] for a dimension `N` known at compile time (the methods' small-n
/// path): the same `φ(t) = f(x + t d)`, `φ′(t) = ∇f(x + t d) · d`, the same
/// arithmetic in the same order and the same counted evaluations, with the
/// point and the gradient in stack arrays, so the vector loops unroll and no
/// buffer is carried between steps. Like `Ray`, it keeps the value and
/// gradient of its last `value_derivative` call.
pub(crate) struct FixedRay<'a, 'o, const N: usize> {
    problem: &'a Problem<'o>,
    origin: &'a [f64; N],
    direction: &'a [f64; N],
    /// `t` and `f(x + t d)` of the last `value_derivative` call.
    last: Option<(f64, f64)>,
    /// `∇f(x + t d)` there.
    gradient: [f64; N],
}

impl<'a, 'o, const N: usize> FixedRay<'a, 'o, N> {
    /// The ray through `x` along `d`; `None` unless both have `N`
    /// components and `N == problem.dim()`.
    #[inline(always)]
    pub(crate) fn new(problem: &'a Problem<'o>, x: &'a [f64], d: &'a [f64]) -> Option<Self> {
        if problem.dim() != N {
            return None;
        }
        Some(FixedRay {
            problem,
            origin: x.try_into().ok()?,
            direction: d.try_into().ok()?,
            last: None,
            gradient: [0.0; N],
        })
    }

    /// The step `t`, `f(x + t d)` and `∇f(x + t d)` of the last
    /// `value_derivative` call, if any.
    #[inline(always)]
    pub(crate) fn last_evaluation(&self) -> Option<(f64, f64, &[f64])> {
        self.last.map(|(t, value)| (t, value, &self.gradient[..]))
    }

    /// `x + t d`.
    #[inline(always)]
    fn point(&self, t: f64) -> [f64; N] {
        let mut point = [0.0; N];
        for ((p, x), d) in point.iter_mut().zip(self.origin).zip(self.direction) {
            *p = x + t * d;
        }
        point
    }
}

impl<const N: usize> LineFunction for FixedRay<'_, '_, N> {
    fn value(&mut self, t: f64) -> f64 {
        self.problem.value(&self.point(t))
    }

    fn value_derivative(&mut self, t: f64) -> (f64, f64) {
        let point = self.point(t);
        let value = self.problem.value_gradient(&point, &mut self.gradient);
        let slope = self
            .gradient
            .iter()
            .zip(self.direction)
            .map(|(g, d)| g * d)
            .sum();
        self.last = Some((t, value));
        (value, slope)
    }
}

/// The outcome of a successful search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineSearchResult {
    /// The step `t > 0`.
    pub t: f64,
    /// `φ(t)`.
    pub phi: f64,
    /// Calls of `φ` (value or value and derivative) made by the search.
    pub evaluations: usize,
}

/// Why a search returned no step.
#[derive(Clone, Debug, PartialEq)]
pub enum LineSearchError {
    /// `φ′(0)` is not negative (or not finite): `d` is not a descent direction.
    NotDescent {
        /// The `φ′(0)` given.
        slope: f64,
    },
    /// The search could not satisfy its condition within its evaluation limit
    /// (or within floating-point resolution).
    NoProgress,
    /// `φ(0)` is not finite, or no trial step had a finite value.
    NonFinite,
    /// `φ` still decreases steeply at the largest step the search allows:
    /// `f` is unbounded below along the direction.
    Unbounded {
        /// The last trial step.
        t: f64,
        /// `φ(t)` there.
        phi: f64,
    },
}

impl std::fmt::Display for LineSearchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineSearchError::NotDescent { slope } => write!(
                f,
                "not a descent direction: the slope along it is {slope}, not negative"
            ),
            LineSearchError::NoProgress => write!(
                f,
                "the line search could not satisfy its condition within its limit"
            ),
            LineSearchError::NonFinite => {
                write!(f, "the line search met only non-finite values")
            }
            LineSearchError::Unbounded { t, phi } => write!(
                f,
                "f decreases without bound along the search direction (f = {phi:.3e} at step {t:.1e})"
            ),
        }
    }
}

impl std::error::Error for LineSearchError {}

/// A strategy choosing the step `t > 0` along a descent direction.
pub trait LineSearch {
    /// A short name, e.g. `"armijo"`.
    fn name(&self) -> &'static str;

    /// Searches `φ` from `t = 0`. `phi0 = φ(0)`, `dphi0 = φ′(0) < 0` (else
    /// [`LineSearchError::NotDescent`]), `t_init` the first trial step.
    fn search(
        &mut self,
        phi: &mut dyn LineFunction,
        phi0: f64,
        dphi0: f64,
        t_init: f64,
    ) -> Result<LineSearchResult, LineSearchError>;
}

/// Checks the contract's preconditions on `φ(0)` and `φ′(0)`.
fn check_start(phi0: f64, dphi0: f64) -> Result<(), LineSearchError> {
    if !(dphi0.is_finite() && dphi0 < 0.0) {
        return Err(LineSearchError::NotDescent { slope: dphi0 });
    }
    if !phi0.is_finite() {
        return Err(LineSearchError::NonFinite);
    }
    Ok(())
}

/// `t_init` if it is a usable step, else 1.
fn first_step(t_init: f64) -> f64 {
    if t_init.is_finite() && t_init > 0.0 {
        t_init
    } else {
        1.0
    }
}

/// The error for a search that ran out after `evaluations` trials:
/// `NonFinite` if there were some and none had a finite value.
fn failure(evaluations: usize, any_finite: bool) -> LineSearchError {
    if evaluations > 0 && !any_finite {
        LineSearchError::NonFinite
    } else {
        LineSearchError::NoProgress
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objective::Manual;

    /// `f(x) = Σ (i + 1) xᵢ³ + x₀ xₙ₋₁` in `n` variables (no Hessian needed).
    fn cubic(n: usize) -> impl crate::objective::Objective {
        Manual::new(
            n,
            |x: &[f64]| {
                let sum: f64 = x
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (i + 1) as f64 * v * v * v)
                    .sum();
                sum + x[0] * x[x.len() - 1]
            },
            |x: &[f64], g: &mut [f64]| {
                for (i, (g, v)) in g.iter_mut().zip(x).enumerate() {
                    *g = 3.0 * (i + 1) as f64 * v * v;
                }
                let last = x.len() - 1;
                g[0] += x[last];
                g[last] += x[0];
            },
            |_: &[f64], _: &mut [f64]| {},
        )
    }

    fn fixed_matches_ray<const N: usize>() {
        let objective = cubic(N);
        let x: Vec<f64> = (0..N).map(|i| 0.3 - 0.7 * i as f64).collect();
        let d: Vec<f64> = (0..N).map(|i| 1.1 + 0.45 * i as f64).collect();
        let (by_ray, by_fixed) = (Problem::new(&objective), Problem::new(&objective));
        let mut ray = Ray::new(&by_ray, &x, &d);
        let mut fixed = FixedRay::<N>::new(&by_fixed, &x, &d).expect("N components");
        assert!(fixed.last_evaluation().is_none());
        for t in [0.0, 1e-3, 0.37, 1.0, 2.5] {
            let (a, b) = (ray.value_derivative(t), fixed.value_derivative(t));
            assert_eq!(
                (a.0.to_bits(), a.1.to_bits()),
                (b.0.to_bits(), b.1.to_bits())
            );
            // The same last evaluation, before and after a value-only call.
            for _ in 0..2 {
                let (kept_by_ray, kept_by_fixed) = (
                    ray.last_evaluation().unwrap(),
                    fixed.last_evaluation().unwrap(),
                );
                assert_eq!(kept_by_ray.0, t);
                assert_eq!(kept_by_ray.1.to_bits(), a.0.to_bits());
                assert_eq!(kept_by_ray, kept_by_fixed);
                assert_eq!(ray.value(t / 2.0).to_bits(), fixed.value(t / 2.0).to_bits());
            }
        }
        assert_eq!(by_ray.evaluations(), by_fixed.evaluations());
        assert_eq!(by_fixed.evaluations().grad, 5);
        assert_eq!(by_fixed.evaluations().f, 15);
    }

    #[test]
    fn fixed_ray_computes_and_counts_as_ray() {
        fixed_matches_ray::<1>();
        fixed_matches_ray::<2>();
        fixed_matches_ray::<3>();
        fixed_matches_ray::<4>();
    }

    #[test]
    fn fixed_ray_needs_the_problems_dimension() {
        let objective = cubic(3);
        let problem = Problem::new(&objective);
        let (x, d) = ([1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]);
        assert!(FixedRay::<3>::new(&problem, &x, &d).is_some());
        assert!(FixedRay::<2>::new(&problem, &x[..2], &d[..2]).is_none());
        assert!(FixedRay::<3>::new(&problem, &x, &d[..2]).is_none());
        assert!(FixedRay::<3>::new(&problem, &x[..2], &d).is_none());
    }

    #[test]
    fn start_checks() {
        assert_eq!(
            check_start(0.0, 0.0),
            Err(LineSearchError::NotDescent { slope: 0.0 })
        );
        assert!(matches!(
            check_start(0.0, f64::NAN),
            Err(LineSearchError::NotDescent { .. })
        ));
        assert_eq!(
            check_start(0.0, f64::NEG_INFINITY),
            Err(LineSearchError::NotDescent {
                slope: f64::NEG_INFINITY
            })
        );
        assert_eq!(
            check_start(f64::INFINITY, -1.0),
            Err(LineSearchError::NonFinite)
        );
        assert_eq!(check_start(1.0, -1.0), Ok(()));
    }

    #[test]
    fn first_step_replaces_unusable_values() {
        assert_eq!(first_step(0.25), 0.25);
        assert_eq!(first_step(0.0), 1.0);
        assert_eq!(first_step(-2.0), 1.0);
        assert_eq!(first_step(f64::NAN), 1.0);
        assert_eq!(first_step(f64::INFINITY), 1.0);
    }

    #[test]
    fn errors_display() {
        let e = LineSearchError::NotDescent { slope: 2.0 };
        assert_eq!(
            e.to_string(),
            "not a descent direction: the slope along it is 2, not negative"
        );
        assert!(LineSearchError::NoProgress.to_string().contains("limit"));
        assert!(LineSearchError::NonFinite
            .to_string()
            .contains("non-finite"));
    }
}
