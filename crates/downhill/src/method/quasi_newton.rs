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

use super::descent::{advance_with, dot, LineSearchKind};
use super::{Method, State, StepFailure, StepInfo};
use crate::line_search::RayBuffers;
use crate::objective::Problem;

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
    inverse: Vec<f64>,
    previous: Previous,
    direction: Vec<f64>,
    scratch: Vec<f64>,
    buffers: RayBuffers,
}

impl Bfgs {
    /// BFGS with a Moré–Thuente strong-Wolfe line search.
    pub fn new() -> Self {
        Bfgs {
            line_search: LineSearchKind::Wolfe,
            inverse: Vec::new(),
            previous: Previous::default(),
            direction: Vec::new(),
            scratch: Vec::new(),
            buffers: RayBuffers::default(),
        }
    }

    /// The same with another line search.
    pub fn with_line_search(mut self, line_search: LineSearchKind) -> Self {
        self.line_search = line_search;
        self
    }

    fn reset(&mut self, n: usize, scale: f64) {
        self.inverse.clear();
        self.inverse.resize(n * n, 0.0);
        for i in 0..n {
            self.inverse[i * n + i] = scale;
        }
    }
}

/// `B ← (I − ρ s yᵀ) B (I − ρ y sᵀ) + ρ s sᵀ`, expanded so it costs O(n²):
/// `B + ρ²(yᵀBy + 1/ρ) s sᵀ − ρ (B y sᵀ + s yᵀB)`; `by` is scratch.
fn bfgs_update(inverse: &mut [f64], by: &mut Vec<f64>, s: &[f64], y: &[f64]) {
    match s.len() {
        0 => by.clear(),
        1 => bfgs_update_fixed::<1>(inverse, by, s, y),
        2 => bfgs_update_fixed::<2>(inverse, by, s, y),
        3 => bfgs_update_fixed::<3>(inverse, by, s, y),
        4 => bfgs_update_fixed::<4>(inverse, by, s, y),
        n => bfgs_update_n(n, inverse, by, s, y),
    }
}

/// [`bfgs_update`] with the dimension a constant (small `n`: the loops
/// unroll; the arithmetic and its order are those of every `n`).
#[inline]
fn bfgs_update_fixed<const N: usize>(inverse: &mut [f64], by: &mut Vec<f64>, s: &[f64], y: &[f64]) {
    bfgs_update_n(N, inverse, by, s, y)
}

#[inline(always)]
fn bfgs_update_n(n: usize, inverse: &mut [f64], by: &mut Vec<f64>, s: &[f64], y: &[f64]) {
    let (inverse, s, y) = (&mut inverse[..n * n], &s[..n], &y[..n]);
    let rho = 1.0 / dot(y, s);
    by.clear();
    by.extend(inverse.chunks_exact(n).map(|row| dot(row, y)));
    let by = &by[..n];
    let yby = dot(y, by);
    let coefficient = rho * rho * yby + rho;
    for (i, row) in inverse.chunks_exact_mut(n).enumerate() {
        for (j, b) in row.iter_mut().enumerate() {
            *b += coefficient * s[i] * s[j] - rho * (by[i] * s[j] + s[i] * by[j]);
        }
    }
}

/// `out = −B g` for `B` row-major `n × n`, `n = g.len()`.
fn minus_product(inverse: &[f64], g: &[f64], out: &mut Vec<f64>) {
    match g.len() {
        0 => out.clear(),
        1 => minus_product_n(1, inverse, g, out),
        2 => minus_product_n(2, inverse, g, out),
        3 => minus_product_n(3, inverse, g, out),
        4 => minus_product_n(4, inverse, g, out),
        n => minus_product_n(n, inverse, g, out),
    }
}

#[inline(always)]
fn minus_product_n(n: usize, inverse: &[f64], g: &[f64], out: &mut Vec<f64>) {
    let g = &g[..n];
    out.clear();
    out.extend(inverse[..n * n].chunks_exact(n).map(|row| -dot(row, g)));
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
        let n = state.x.len();
        let mut trial = 1.0;
        if !self.previous.pair(state) {
            self.reset(n, 1.0);
            trial = first_trial_step(&state.grad);
        } else if has_positive_curvature(&self.previous.s, &self.previous.y) {
            let (s, y) = (&self.previous.s, &self.previous.y);
            if state.iteration == 1 {
                // Nocedal & Wright eq. 6.20: the first B on the scale of H⁻¹.
                let scale = dot(y, s) / dot(y, y);
                self.inverse.clear();
                self.inverse.resize(n * n, 0.0);
                for i in 0..n {
                    self.inverse[i * n + i] = scale;
                }
            }
            bfgs_update(&mut self.inverse, &mut self.scratch, s, y);
        }
        minus_product(&self.inverse, &state.grad, &mut self.direction);
        let result = advance_with(
            problem,
            state,
            &mut self.direction,
            trial,
            self.line_search,
            None,
            x_next,
            &mut self.buffers,
        );
        if matches!(result, Ok(StepInfo { note: Some(_) })) {
            // B gave no descent direction: start the approximation afresh.
            self.reset(n, 1.0);
        }
        self.previous.remember(state);
        result
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
        }
    }

    /// The same with another line search.
    pub fn with_line_search(mut self, line_search: LineSearchKind) -> Self {
        self.line_search = line_search;
        self
    }

    /// `d = −B ∇f` by the two-loop recursion, `B₀ = (sᵀy / yᵀy) I` from the newest pair.
    fn direction(&self, grad: &[f64]) -> Vec<f64> {
        let mut q = grad.to_vec();
        let mut alphas = Vec::with_capacity(self.pairs.len());
        for (s, y, rho) in self.pairs.iter().rev() {
            let alpha = rho * dot(s, &q);
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
            let beta = rho * dot(y, &q);
            for (qi, si) in q.iter_mut().zip(s) {
                *qi += (alpha - beta) * si;
            }
        }
        q.iter().map(|v| -v).collect()
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
        let mut direction = self.direction(&state.grad);
        let result = advance_with(
            problem,
            state,
            &mut direction,
            trial,
            self.line_search,
            None,
            x_next,
            &mut self.buffers,
        );
        if matches!(result, Ok(StepInfo { note: Some(_) })) {
            self.pairs.clear();
        }
        self.previous.remember(state);
        result
    }
}
