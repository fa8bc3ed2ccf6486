//! From a search direction to a step, shared by every direction method
//! (gradient descent, Newton, preconditioning, BFGS, L-BFGS):
//!
//! - fixed step: `x ← x + η d`;
//! - line search: `x ← x + t d` with `t` chosen on `φ(t) = f(x + t d)`
//!   (chapter section 6), starting from the trial step `η`.
//!
//! A line search needs a descent direction (`φ'(0) = ∇f·d < 0`). When the
//! method's direction is not one (a Newton step on negative curvature, a
//! stale quasi-Newton matrix), the step falls back to steepest descent
//! `d = −∇f` and says so in the trace, instead of failing an assertion.

use super::{NextIterate, State, StepFailure, StepInfo};
use crate::line_search::{
    Armijo, Exact, FixedRay, Golden, LineFunction, LineSearch, LineSearchError, LineSearchResult,
    MoreThuente, Ray, RayBuffers,
};
use crate::objective::Problem;

/// Which line search a direction method uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LineSearchKind {
    /// No search: the fixed step `η` (the book's methods).
    #[default]
    None,
    /// Exact minimization of `φ` by bisection on `φ'` (the chapter's binary search).
    Exact,
    /// Golden-section search on `φ` alone (no derivatives).
    Golden,
    /// Armijo backtracking (sufficient decrease).
    Armijo,
    /// Strong Wolfe conditions, Moré–Thuente.
    Wolfe,
}

impl LineSearchKind {
    /// The name used on the command line (`none`, `exact`, `golden`, `armijo`, `wolfe`).
    pub fn name(self) -> &'static str {
        match self {
            LineSearchKind::None => "none",
            LineSearchKind::Exact => "exact",
            LineSearchKind::Golden => "golden",
            LineSearchKind::Armijo => "armijo",
            LineSearchKind::Wolfe => "wolfe",
        }
    }

    /// Runs the search with its default parameters (no allocation: the
    /// searches are small parameter structs built on the stack).
    #[inline(always)]
    fn search(
        self,
        ray: &mut dyn LineFunction,
        phi0: f64,
        slope: f64,
        t_init: f64,
    ) -> Result<LineSearchResult, LineSearchError> {
        match self {
            LineSearchKind::None => Ok(LineSearchResult {
                t: t_init,
                phi: f64::NAN,
                evaluations: 0,
            }),
            LineSearchKind::Exact => Exact::default().search(ray, phi0, slope, t_init),
            LineSearchKind::Golden => Golden::default().search(ray, phi0, slope, t_init),
            LineSearchKind::Armijo => Armijo::default().search(ray, phi0, slope, t_init),
            LineSearchKind::Wolfe => MoreThuente::default().search(ray, phi0, slope, t_init),
        }
    }
}

/// The note recorded when the direction had to be replaced by `−∇f`.
pub const FELL_BACK: &str = "not a descent direction: used -grad";

/// Writes `x_{k+1} = x + t d` into `next`, with `t = eta` (no search) or the
/// line search's step from the trial step `eta`. `direction` may be replaced
/// by `−∇f`. Where the search evaluated `f` and `∇f` at the step it returns,
/// they are handed over to `next` (the driver then skips that evaluation).
/// The line search reuses the method's `buffers`: no allocation per step.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn advance_with(
    problem: &Problem<'_>,
    state: &State,
    direction: &mut [f64],
    eta: f64,
    search: LineSearchKind,
    note: Option<&'static str>,
    next: &mut NextIterate<'_>,
    buffers: &mut RayBuffers,
) -> Result<StepInfo, StepFailure> {
    // The dimension a literal for small n, as in the driver: the vector
    // loops unroll and the ray's size is known (one body in the source).
    let parts = (problem, state, eta, search, note);
    match state.x.len() {
        1 => advance_with_n(1, parts, direction, next, buffers),
        2 => advance_with_n(2, parts, direction, next, buffers),
        3 => advance_with_n(3, parts, direction, next, buffers),
        4 => advance_with_n(4, parts, direction, next, buffers),
        n => advance_with_n(n, parts, direction, next, buffers),
    }
}

/// [`advance_with`] for a caller that already knows the dimension `n`
/// (`n == state.x.len()`, a literal at a small-`n` call site): inlined
/// there, the step, the search's setup and its result handling are one
/// function, without a second dispatch on `n` or a call per layer.
#[inline(always)]
pub(crate) fn advance_with_n(
    n: usize,
    parts: SearchParts<'_, '_, '_>,
    direction: &mut [f64],
    next: &mut NextIterate<'_>,
    buffers: &mut RayBuffers,
) -> Result<StepInfo, StepFailure> {
    let (_, state, eta, search, note) = parts;
    if search == LineSearchKind::None {
        move_along(&state.x[..n], &direction[..n], eta, &mut next.x[..n]);
        return Ok(StepInfo { note });
    }
    search_along(n, parts, direction, next, buffers)
}

/// What [`search_along`] reads: the problem, the state, the trial step,
/// the search and the step's note so far.
pub(crate) type SearchParts<'s, 'p, 'o> = (
    &'s Problem<'o>,
    &'s State,
    f64,
    LineSearchKind,
    Option<&'static str>,
);

/// The line-search half of [`advance_with`].
/// `n` is the dimension (a literal at the small-`n` call sites).
#[inline(always)]
fn search_along(
    n: usize,
    (problem, state, eta, search, note): SearchParts<'_, '_, '_>,
    direction: &mut [f64],
    next: &mut NextIterate<'_>,
    buffers: &mut RayBuffers,
) -> Result<StepInfo, StepFailure> {
    let (x, grad, direction) = (&state.x[..n], &state.grad[..n], &mut direction[..n]);
    let mut note = note;
    let mut slope = dot(grad, direction);
    if slope.is_nan() || slope >= 0.0 {
        steepest(grad, direction);
        slope = dot(grad, direction);
        note = Some(FELL_BACK);
        if slope == 0.0 {
            // ∇f = 0: a stationary point; nothing to search.
            next.x[..n].copy_from_slice(x);
            return Ok(StepInfo { note });
        }
    }
    loop {
        let outcome = search_ray(
            x,
            direction,
            (problem, search, state.f, slope, eta),
            next,
            buffers,
        );
        match outcome {
            Ok(found) => {
                // The ray's point `x + t d`, computed the same way.
                move_along(x, direction, found.t, &mut next.x[..n]);
                return Ok(StepInfo { note });
            }
            // Unbounded along one descent direction is unbounded below.
            Err(LineSearchError::Unbounded { t, phi }) => {
                return Err(StepFailure::Unbounded { f: phi, t });
            }
            Err(error) => {
                if note == Some(FELL_BACK) || is_steepest(grad, direction) {
                    return Err(StepFailure::LineSearchFailed(error.to_string()));
                }
                // The method's direction failed; steepest descent is the
                // last resort before giving up.
                steepest(grad, direction);
                slope = dot(grad, direction);
                note = Some(FELL_BACK);
            }
        }
    }
}

/// Runs `search` on `φ(t) = f(x + t d)` from `φ(0) = phi0`, `φ′(0) = slope`
/// and the trial step `eta`: on a [`FixedRay`] for `n ≤ 4` (stack vectors,
/// unrolled loops), else on a [`Ray`] reusing `buffers`. Both rays compute
/// the same numbers and count the same evaluations. When the search's last
/// evaluation of `f` and `∇f` was at the step it returns, they are handed
/// over to `next`.
#[inline(always)]
fn search_ray(
    x: &[f64],
    direction: &[f64],
    (problem, search, phi0, slope, eta): (&Problem<'_>, LineSearchKind, f64, f64, f64),
    next: &mut NextIterate<'_>,
    buffers: &mut RayBuffers,
) -> Result<LineSearchResult, LineSearchError> {
    #[inline(always)]
    fn fixed<const N: usize>(
        problem: &Problem<'_>,
        x: &[f64],
        direction: &[f64],
        (search, start): (LineSearchKind, (f64, f64, f64)),
        next: &mut NextIterate<'_>,
        buffers: &mut RayBuffers,
    ) -> Result<LineSearchResult, LineSearchError> {
        let Some(mut ray) = FixedRay::<N>::new(problem, x, direction) else {
            return general(problem, x, direction, (search, start), next, buffers);
        };
        let (phi0, slope, eta) = start;
        let outcome = search.search(&mut ray, phi0, slope, eta);
        hand_over(&outcome, ray.last_evaluation(), next);
        outcome
    }
    fn general(
        problem: &Problem<'_>,
        x: &[f64],
        direction: &[f64],
        (search, (phi0, slope, eta)): (LineSearchKind, (f64, f64, f64)),
        next: &mut NextIterate<'_>,
        buffers: &mut RayBuffers,
    ) -> Result<LineSearchResult, LineSearchError> {
        let mut ray = Ray::reusing(problem, x, direction, std::mem::take(buffers));
        let outcome = search.search(&mut ray, phi0, slope, eta);
        hand_over(&outcome, ray.last_evaluation(), next);
        *buffers = ray.into_buffers();
        outcome
    }
    // Each arm returns the search's result as it comes (no copy through an
    // `Option`): the small-`n` arms inline the search's setup and hand-over.
    let setup = (search, (phi0, slope, eta));
    match x.len() {
        1 => fixed::<1>(problem, x, direction, setup, next, buffers),
        2 => fixed::<2>(problem, x, direction, setup, next, buffers),
        3 => fixed::<3>(problem, x, direction, setup, next, buffers),
        4 => fixed::<4>(problem, x, direction, setup, next, buffers),
        _ => general(problem, x, direction, setup, next, buffers),
    }
}

/// Hands `f` and `∇f` of the ray's last evaluation over to `next` if the
/// search returned that very step (the same `t`, so the same point).
#[inline(always)]
fn hand_over(
    outcome: &Result<LineSearchResult, LineSearchError>,
    last: Option<(f64, f64, &[f64])>,
    next: &mut NextIterate<'_>,
) {
    if let (Ok(found), Some((t, value, gradient))) = (outcome, last) {
        if t.to_bits() == found.t.to_bits() {
            next.hand_over(value, gradient);
        }
    }
}

fn move_along(x: &[f64], d: &[f64], t: f64, out: &mut [f64]) {
    for ((o, x), d) in out.iter_mut().zip(x).zip(d) {
        *o = x + t * d;
    }
}

fn steepest(grad: &[f64], direction: &mut [f64]) {
    for (d, g) in direction.iter_mut().zip(grad) {
        *d = -g;
    }
}

fn is_steepest(grad: &[f64], direction: &[f64]) -> bool {
    grad.iter().zip(direction).all(|(g, d)| *d == -g)
}

/// `a · b`.
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| p * q).sum()
}
