//! Quasi-Newton methods: BFGS and L-BFGS, with a strong-Wolfe line search.
//!
//! Both build curvature information from the gradients the driver already
//! evaluates: with `s = x_k − x_{k−1}` and `y = ∇f(x_k) − ∇f(x_{k−1})`,
//!
//! - BFGS keeps a dense approximation `B ≈ H⁻¹` and updates it as
//!   `B ← (I − ρ s yᵀ) B (I − ρ y sᵀ) + ρ s sᵀ`, `ρ = 1 / (yᵀs)`
//!   (Nocedal & Wright, eq. 6.17), scaling the first `B` by `yᵀs / yᵀy`;
//! - L-BFGS keeps only the last `m` pairs `(s, y)` and applies `B` to `∇f`
//!   with the two-loop recursion (Nocedal & Wright, Algorithm 7.4).
//!
//! The direction is `d = −B ∇f`; a pair with `yᵀs ≤ 10⁻¹⁰ ‖s‖‖y‖` (no
//! positive curvature along `s`) is skipped, so `B` stays positive definite.

use std::collections::VecDeque;

use super::descent::{advance_with, advance_with_n, dot, LineSearchKind};
use super::{Method, NextIterate, State, StepFailure, StepInfo};
use crate::line_search::RayBuffers;
use crate::objective::Problem;
use crate::scratch::{can_allocate, gigabytes};

/// The trial step of the first iteration, before any curvature is known:
/// `min(1, 1/‖∇f‖∞)` keeps the first trial point near `x0`.
fn first_trial_step(grad: &[f64]) -> f64 {
    let largest = grad.iter().fold(0.0_f64, |m, g| m.max(g.abs()));
    if largest > 1.0 {
        1.0 / largest
    } else {
        1.0
    }
}

/// The previous iterate and gradient, from which `(s, y)` is formed.
#[derive(Clone, Debug, Default)]
struct Previous {
    x: Vec<f64>,
    grad: Vec<f64>,
    /// `s = x_k − x_{k−1}` of the last [`Previous::pair`].
    s: Vec<f64>,
    /// `y = ∇f(x_k) − ∇f(x_{k−1})` of the last [`Previous::pair`].
    y: Vec<f64>,
}

impl Previous {
    /// Forms `(s, y)` for the step from the previous iterate to `state` in
    /// `self.s`, `self.y` (reused buffers); false at the start of a run.
    fn pair(&mut self, state: &State) -> bool {
        if state.iteration == 0 || self.x.len() != state.x.len() {
            return false;
        }
        let n = state.x.len();
        self.s.resize(n, 0.0);
        self.y.resize(n, 0.0);
        for ((s, a), b) in self.s.iter_mut().zip(&state.x).zip(&self.x) {
            *s = a - b;
        }
        for ((y, a), b) in self.y.iter_mut().zip(&state.grad).zip(&self.grad) {
            *y = a - b;
        }
        true
    }

    fn remember(&mut self, state: &State) {
        self.x.clone_from(&state.x);
        self.grad.clone_from(&state.grad);
    }
}

fn has_positive_curvature(s: &[f64], y: &[f64]) -> bool {
    let ys = dot(y, s);
    ys > 1e-10 * dot(s, s).sqrt() * dot(y, y).sqrt() && ys.is_finite()
}

/// BFGS with a dense inverse-Hessian approximation.
///
/// ```
/// use downhill::{driver::{run, Options, Status}, formula::Formula, method::Bfgs};
/// let f = Formula::parse("100*(y - x^2)^2 + (1 - x)^2").unwrap();
/// let r = run(&f, &mut Bfgs::new(), &[-1.2, 1.0], &Options::default()).unwrap();
/// assert_eq!(r.status, Status::Converged);
/// assert!((r.x[0] - 1.0).abs() < 1e-6 && (r.x[1] - 1.0).abs() < 1e-6);
/// ```
#[derive(Clone, Debug)]
pub struct Bfgs {
    /// Line search along `d = −B∇f` (strong Wolfe by default; the trial step is 1).
    pub line_search: LineSearchKind,
    /// Every per-run vector in one allocation (see [`BfgsParts`]) for
    /// n > [`SMALL_DIM`]; empty before the first such run.
    work: Vec<f64>,
    /// The same for n ≤ [`SMALL_DIM`], inside the method: no allocation,
    /// and with `n` a literal the slices' bounds fold away.
    small: [f64; SMALL_WORK],
    /// Dimension `work` is laid out for (0: none yet).
    n: usize,
    buffers: RayBuffers,
}

/// The largest dimension whose work vectors live inside [`Bfgs`].
const SMALL_DIM: usize = 4;
/// Their length: the `n × n` matrix and [`BfgsParts::VECTORS`] vectors.
const SMALL_WORK: usize = SMALL_DIM * SMALL_DIM + BfgsParts::VECTORS * SMALL_DIM;

/// The per-run vectors of [`Bfgs`], carved out of its one work buffer.
struct BfgsParts<'a> {
    /// `B ≈ H⁻¹`, row-major `n × n`.
    inverse: &'a mut [f64],
    /// `x_{k−1}` and `∇f(x_{k−1})`.
    x_prev: &'a mut [f64],
    grad_prev: &'a mut [f64],
    /// The pair `s = x_k − x_{k−1}`, `y = ∇f(x_k) − ∇f(x_{k−1})`.
    s: &'a mut [f64],
    y: &'a mut [f64],
    /// `d = −B ∇f`.
    direction: &'a mut [f64],
    /// `B y` during the update.
    by: &'a mut [f64],
}

impl BfgsParts<'_> {
    /// Vectors of length `n` after the `n × n` matrix.
    const VECTORS: usize = 6;

    #[inline(always)]
    fn of(work: &mut [f64], n: usize) -> BfgsParts<'_> {
        let (inverse, rest) = work.split_at_mut(n * n);
        let (x_prev, rest) = rest.split_at_mut(n);
        let (grad_prev, rest) = rest.split_at_mut(n);
        let (s, rest) = rest.split_at_mut(n);
        let (y, rest) = rest.split_at_mut(n);
        let (direction, by) = rest.split_at_mut(n);
        BfgsParts {
            inverse,
            x_prev,
            grad_prev,
            s,
            y,
            direction: &mut direction[..n],
            by: &mut by[..n],
        }
    }
}

impl Bfgs {
    /// BFGS with a Moré–Thuente strong-Wolfe line search.
    pub fn new() -> Self {
        Bfgs {
            line_search: LineSearchKind::Wolfe,
            work: Vec::new(),
            small: [0.0; SMALL_WORK],
            n: 0,
            buffers: RayBuffers::default(),
        }
    }

    /// The same with another line search.
    pub fn with_line_search(mut self, line_search: LineSearchKind) -> Self {
        self.line_search = line_search;
        self
    }

    /// One step for `n` variables. Called with a literal `n` for small
    /// dimensions (see [`Method::step`]): inlined there, every loop has a
    /// constant trip count and the slices' bounds checks fold away; the
    /// arithmetic and its order are those of every `n`.
    #[inline(always)]
    fn step_n(
        &mut self,
        n: usize,
        problem: &Problem<'_>,
        state: &State,
        next: &mut NextIterate<'_>,
    ) -> Result<StepInfo, StepFailure> {
        let (x, grad) = (&state.x[..n], &state.grad[..n]);
        // A new run (or a new dimension): forget the previous iterate.
        let first = state.iteration == 0 || self.n != n;
        let len = n * n + BfgsParts::VECTORS * n;
        if self.n != n {
            if n > SMALL_DIM {
                self.work = Vec::new();
                if !n
                    .checked_mul(n + BfgsParts::VECTORS)
                    .is_some_and(can_allocate::<f64>)
                {
                    return Err(StepFailure::TooLarge(format!(
                        "BFGS needs the dense {n} x {n} inverse Hessian approximation ({}), more than can be allocated; L-BFGS keeps a few vectors instead",
                        gigabytes(8.0 * n as f64 * n as f64)
                    )));
                }
                self.work.resize(len, 0.0);
            }
            self.n = n;
        }
        let work = if n <= SMALL_DIM {
            &mut self.small[..len]
        } else {
            &mut self.work[..len]
        };
        let p = BfgsParts::of(work, n);
        let mut trial = 1.0;
        if first {
            reset(p.inverse, n, 1.0);
            trial = first_trial_step(grad);
        } else {
            // `s`, `y` and `B y` live only in this step: on the stack for
            // n ≤ SMALL_DIM, where the unrolled loops keep them in registers instead
            // of storing and reloading them; the work buffer's otherwise.
            let mut small = [[0.0; SMALL_DIM]; 3];
            let [small_s, small_y, small_by] = &mut small;
            let (s, y, by): (&mut [f64], &mut [f64], &mut [f64]) = if n <= SMALL_DIM {
                (&mut small_s[..n], &mut small_y[..n], &mut small_by[..n])
            } else {
                (p.s, p.y, p.by)
            };
            for ((s, a), b) in s.iter_mut().zip(x).zip(&*p.x_prev) {
                *s = a - b;
            }
            for ((y, a), b) in y.iter_mut().zip(grad).zip(&*p.grad_prev) {
                *y = a - b;
            }
            let (s, y) = (&*s, &*y);
            if has_positive_curvature(s, y) {
                if state.iteration == 1 {
                    // Nocedal & Wright eq. 6.20: the first B on the scale of H⁻¹.
                    reset(p.inverse, n, dot(y, s) / dot(y, y));
                }
                bfgs_update(n, p.inverse, by, s, y);
            }
        }
        for (d, row) in p.direction.iter_mut().zip(p.inverse.chunks_exact(n.max(1))) {
            *d = -dot(row, grad);
        }
        let result = advance_with_n(
            n,
            (problem, state, trial, self.line_search, None),
            p.direction,
            next,
            &mut self.buffers,
        );
        if matches!(result, Ok(StepInfo { note: Some(_) })) {
            // B gave no descent direction: start the approximation afresh.
            reset(p.inverse, n, 1.0);
        }
        p.x_prev.copy_from_slice(x);
        p.grad_prev.copy_from_slice(grad);
        result
    }

    /// One step, `n` a literal for small dimensions.
    fn step_to(
        &mut self,
        problem: &Problem<'_>,
        state: &State,
        next: &mut NextIterate<'_>,
    ) -> Result<StepInfo, StepFailure> {
        match state.x.len() {
            1 => self.step_n(1, problem, state, next),
            2 => self.step_n(2, problem, state, next),
            3 => self.step_n(3, problem, state, next),
            4 => self.step_n(4, problem, state, next),
            n => self.step_n(n, problem, state, next),
        }
    }
}

/// `B ← scale · I`.
#[inline(always)]
fn reset(inverse: &mut [f64], n: usize, scale: f64) {
    inverse.fill(0.0);
    for i in 0..n {
        inverse[i * n + i] = scale;
    }
}

/// `B ← (I − ρ s yᵀ) B (I − ρ y sᵀ) + ρ s sᵀ`, expanded so it costs O(n²):
/// `B + ρ²(yᵀBy + 1/ρ) s sᵀ − ρ (B y sᵀ + s yᵀB)`; `by` is scratch.
#[inline(always)]
fn bfgs_update(n: usize, inverse: &mut [f64], by: &mut [f64], s: &[f64], y: &[f64]) {
    let (inverse, by, s, y) = (&mut inverse[..n * n], &mut by[..n], &s[..n], &y[..n]);
    let rho = 1.0 / dot(y, s);
    for (b, row) in by.iter_mut().zip(inverse.chunks_exact(n.max(1))) {
        *b = dot(row, y);
    }
    let yby = dot(y, by);
    let coefficient = rho * rho * yby + rho;
    for (i, row) in inverse.chunks_exact_mut(n.max(1)).enumerate() {
        for (j, b) in row.iter_mut().enumerate() {
            *b += coefficient * s[i] * s[j] - rho * (by[i] * s[j] + s[i] * by[j]);
        }
    }
}

impl Default for Bfgs {
    fn default() -> Self {
        Bfgs::new()
    }
}

impl Method for Bfgs {
    fn describe(&self) -> String {
        ["BFGS (line search ", self.line_search.name(), ")"].concat()
    }

    fn step(
        &mut self,
        problem: &Problem<'_>,
        state: &State,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure> {
        self.step_to(problem, state, &mut NextIterate::x_only(x_next))
    }

    /// [`Method::step`], handing over `f` and `∇f` where the line search
    /// evaluated them at the step it returns.
    fn step_into(
        &mut self,
        problem: &Problem<'_>,
        state: &mut State,
        next: &mut NextIterate<'_>,
    ) -> Result<StepInfo, StepFailure> {
        self.step_to(problem, state, next)
    }
}

/// Limited-memory BFGS: the last `memory` pairs `(s, y)`, O(m n) per step.
///
/// ```
/// use downhill::{driver::{run, Options, Status}, formula::Formula, method::Lbfgs};
/// let f = Formula::parse("100*(y - x^2)^2 + (1 - x)^2").unwrap();
/// let r = run(&f, &mut Lbfgs::new(10), &[-1.2, 1.0], &Options::default()).unwrap();
/// assert_eq!(r.status, Status::Converged);
/// ```
#[derive(Clone, Debug)]
pub struct Lbfgs {
    /// Number of `(s, y)` pairs kept (`--memory`), at least 1.
    pub memory: usize,
    /// Line search along `d` (strong Wolfe by default; the trial step is 1).
    pub line_search: LineSearchKind,
    pairs: VecDeque<(Vec<f64>, Vec<f64>, f64)>,
    previous: Previous,
    buffers: RayBuffers,
    /// `d` and the two-loop recursion's `α`s, kept between steps so that a
    /// step allocates nothing (at d = 10⁶ a fresh 8 MB vector per step
    /// is a few thousand page faults).
    direction: Vec<f64>,
    alphas: Vec<f64>,
}

impl Lbfgs {
    /// L-BFGS keeping `memory` pairs, with a strong-Wolfe line search.
    pub fn new(memory: usize) -> Self {
        Lbfgs {
            memory: memory.max(1),
            line_search: LineSearchKind::Wolfe,
            pairs: VecDeque::new(),
            previous: Previous::default(),
            buffers: RayBuffers::default(),
            direction: Vec::new(),
            alphas: Vec::new(),
        }
    }

    /// The same with another line search.
    pub fn with_line_search(mut self, line_search: LineSearchKind) -> Self {
        self.line_search = line_search;
        self
    }

    /// `d = −B ∇f` by the two-loop recursion, `B₀ = (sᵀy / yᵀy) I` from the
    /// newest pair, into `self.direction` (`q` until its final negation).
    fn direction(&mut self, grad: &[f64]) {
        let (q, alphas) = (&mut self.direction, &mut self.alphas);
        q.clear();
        q.extend_from_slice(grad);
        alphas.clear();
        for (s, y, rho) in self.pairs.iter().rev() {
            let alpha = rho * dot(s, q);
            for (qi, yi) in q.iter_mut().zip(y) {
                *qi -= alpha * yi;
            }
            alphas.push(alpha);
        }
        if let Some((s, y, _)) = self.pairs.back() {
            let gamma = dot(s, y) / dot(y, y);
            q.iter_mut().for_each(|v| *v *= gamma);
        }
        for ((s, y, rho), alpha) in self.pairs.iter().zip(alphas.iter().rev()) {
            let beta = rho * dot(y, q);
            for (qi, si) in q.iter_mut().zip(s) {
                *qi += (alpha - beta) * si;
            }
        }
        q.iter_mut().for_each(|v| *v = -*v);
    }
}

impl Method for Lbfgs {
    fn describe(&self) -> String {
        format!(
            "L-BFGS (memory = {}, line search {})",
            self.memory,
            self.line_search.name()
        )
    }

    fn step(
        &mut self,
        problem: &Problem<'_>,
        state: &State,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure> {
        self.step_to(problem, state, &mut NextIterate::x_only(x_next))
    }

    /// [`Method::step`], handing over `f` and `∇f` where the line search
    /// evaluated them at the step it returns.
    fn step_into(
        &mut self,
        problem: &Problem<'_>,
        state: &mut State,
        next: &mut NextIterate<'_>,
    ) -> Result<StepInfo, StepFailure> {
        self.step_to(problem, state, next)
    }
}

impl Lbfgs {
    /// One step into `next`.
    fn step_to(
        &mut self,
        problem: &Problem<'_>,
        state: &State,
        next: &mut NextIterate<'_>,
    ) -> Result<StepInfo, StepFailure> {
        let mut trial = 1.0;
        if !self.previous.pair(state) {
            self.pairs.clear();
            trial = first_trial_step(&state.grad);
        } else if has_positive_curvature(&self.previous.s, &self.previous.y) {
            let (s, y) = (&self.previous.s, &self.previous.y);
            let rho = 1.0 / dot(y, s);
            // Recycle the oldest pair's buffers once the memory is full.
            let (mut s_kept, mut y_kept) = if self.pairs.len() == self.memory {
                self.pairs
                    .pop_front()
                    .map(|(a, b, _)| (a, b))
                    .unwrap_or_default()
            } else {
                (Vec::new(), Vec::new())
            };
            s_kept.clone_from(s);
            y_kept.clone_from(y);
            self.pairs.push_back((s_kept, y_kept, rho));
        }
        self.direction(&state.grad);
        let result = advance_with(
            problem,
            state,
            &mut self.direction,
            trial,
            self.line_search,
            None,
            next,
            &mut self.buffers,
        );
        if matches!(result, Ok(StepInfo { note: Some(_) })) {
            self.pairs.clear();
        }
        self.previous.remember(state);
        result
    }
}
