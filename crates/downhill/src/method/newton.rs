//! Newton's method with a step size (chapter section 3):
//!
//! `x ← x − η H⁻¹ ∇f(x)`, with `H = ∇²f(x)`.
//!
//! From the second-order Taylor expansion, `ε = −H⁻¹∇f(x)` minimizes the
//! local quadratic model when `H` is positive definite. On a non-convex `f`
//! the model may have a maximum there and Newton ascends: on
//! `x·cos(0.15πx)` from `x0 = 10`, `η = 1` ends at `26.834133`; `η = 0.5`
//! reaches the local minimum near `7.269860`.
//!
//! The chapter's two remedies are both here: reintroduce a step size (`η`,
//! or a line search), or repair the Hessian ([`HessianRepair`]): take the
//! absolute values of its eigenvalues (`|f''|` in one dimension), or add
//! `τI` until it is positive definite.
//!
//! The system `H p = ∇f` is solved with a Cholesky factorization when `H` is
//! positive definite and an LU factorization otherwise (faer, in buffers
//! kept from step to step: see [`NewtonSolver`]); a singular or non-finite
//! `H` is reported, never a panic.

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::cholesky::llt;
use faer::linalg::evd;
use faer::linalg::lu::partial_pivoting as lu;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{ColMut, Conj, MatMut, MatRef, Par};

use super::descent::{advance_with, LineSearchKind};
use super::{push_number, HessianNeed, Method, State, StepFailure, StepInfo};
use crate::line_search::RayBuffers;
use crate::objective::Problem;

/// How Newton's method treats a Hessian that is not positive definite.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HessianRepair {
    /// Use `H` as it is (the book's method; ascends on negative curvature).
    #[default]
    Exact,
    /// `H = QΛQᵀ → Q|Λ|Qᵀ`, each `|λ|` at least `1e-8·max(1, max|λ|)`:
    /// the chapter's "take the absolute value of the Hessian".
    Abs,
    /// `H + τI` with the smallest `τ` in the sequence `0, β, 2β, 4β, ...`
    /// (β = 10⁻³‖H‖_F) for which a Cholesky factorization succeeds
    /// (Nocedal & Wright, Algorithm 3.3).
    Shift,
}

impl HessianRepair {
    /// The name used on the command line (`exact`, `abs`, `shift`).
    pub fn name(self) -> &'static str {
        match self {
            HessianRepair::Exact => "exact",
            HessianRepair::Abs => "abs",
            HessianRepair::Shift => "shift",
        }
    }
}

/// Trace notes for the repairs.
pub const NOTE_ABS: &str = "hessian repaired: |eigenvalues|";
/// Trace note when `τI` was added.
pub const NOTE_SHIFT: &str = "hessian repaired: shifted by tau*I";

/// Newton's method `x ← x − η H⁻¹ ∇f(x)`, optionally with a Hessian repair
/// and a line search along the Newton direction.
///
/// ```
/// use downhill::{driver::{run, Options}, formula::Formula, method::Newton};
/// let f = Formula::parse("cosh(0.5*x)").unwrap();
/// let result = run(&f, &mut Newton::new(1.0), &[10.0], &Options::book(10)).unwrap();
/// assert_eq!(format!("{:.6}", result.x[0]), "0.000000");
/// ```
#[derive(Clone, Debug)]
pub struct Newton {
    /// Step size `η > 0` (1 is the pure Newton step); the trial step of a line search.
    pub eta: f64,
    /// Treatment of indefinite Hessians.
    pub repair: HessianRepair,
    /// Line search along the Newton direction.
    pub line_search: LineSearchKind,
    /// Factorization buffers and the direction, reused from step to step.
    solver: NewtonSolver,
    direction: Vec<f64>,
    buffers: RayBuffers,
}

impl Newton {
    /// The book's Newton's method with step size `eta`.
    pub fn new(eta: f64) -> Self {
        Newton {
            eta,
            repair: HessianRepair::Exact,
            line_search: LineSearchKind::None,
            solver: NewtonSolver::new(),
            direction: Vec::new(),
            buffers: RayBuffers::default(),
        }
    }

    /// The same with a Hessian repair.
    pub fn with_repair(mut self, repair: HessianRepair) -> Self {
        self.repair = repair;
        self
    }

    /// The same with a line search.
    pub fn with_line_search(mut self, line_search: LineSearchKind) -> Self {
        self.line_search = line_search;
        self
    }
}

/// Below this dimension the factorizations run on one thread: on two cores
/// faer's threading measured 1.4x slower at d = 500 and only pays from
/// d ≈ 1000-2000 on (perf anchors, W4).
pub const PARALLEL_MIN_DIM: usize = 1000;

/// Reusable buffers for dense Newton solves with faer: the working copy of
/// `H` (factorized in place), the right-hand side, eigen buffers for the
/// `abs` repair, pivots for LU and faer's scratch memory. Sized on the first
/// solve and kept, so a run allocates nothing per step once it has started
/// (the d×d matrix included).
///
/// The solve follows the book's order: a Cholesky factorization when `H` is
/// positive definite, an LU factorization with partial pivoting otherwise (a
/// zero pivot is a singular Hessian), or a repair ([`HessianRepair`]).
pub struct NewtonSolver {
    n: usize,
    /// `Hᵀ` column-major, i.e. `H` row-major as given; factorized in place.
    matrix: Vec<f64>,
    rhs: Vec<f64>,
    /// Eigenvectors (column-major) and eigenvalues for the `abs` repair.
    eigenvectors: Vec<f64>,
    eigenvalues: Vec<f64>,
    perm: Vec<usize>,
    perm_inv: Vec<usize>,
    memory: MemBuffer,
}

impl Default for NewtonSolver {
    fn default() -> Self {
        NewtonSolver {
            n: 0,
            matrix: Vec::new(),
            rhs: Vec::new(),
            eigenvectors: Vec::new(),
            eigenvalues: Vec::new(),
            perm: Vec::new(),
            perm_inv: Vec::new(),
            memory: MemBuffer::new(StackReq::EMPTY),
        }
    }
}

impl Clone for NewtonSolver {
    /// A clone starts with empty buffers (they hold no state between steps).
    fn clone(&self) -> Self {
        NewtonSolver::default()
    }
}

impl std::fmt::Debug for NewtonSolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewtonSolver").field("n", &self.n).finish()
    }
}

impl NewtonSolver {
    /// An empty solver; buffers are allocated by the first solve.
    pub fn new() -> Self {
        NewtonSolver::default()
    }

    fn parallelism(n: usize) -> Par {
        if n >= PARALLEL_MIN_DIM {
            Par::rayon(0)
        } else {
            Par::Seq
        }
    }

    /// Sizes the buffers for `n` variables and the scratch memory for the
    /// factorizations `repair` may use.
    fn prepare(&mut self, n: usize, repair: HessianRepair) {
        if self.n != n {
            self.n = n;
            self.matrix = vec![0.0; n * n];
            self.rhs = vec![0.0; n];
            self.perm = vec![0; n];
            self.perm_inv = vec![0; n];
            self.eigenvectors = Vec::new();
            self.eigenvalues = Vec::new();
        }
        let par = Self::parallelism(n);
        let mut need = StackReq::any_of(&[
            llt::factor::cholesky_in_place_scratch::<f64>(n, par, Default::default()),
            llt::solve::solve_in_place_scratch::<f64>(n, 1, par),
        ]);
        if repair == HessianRepair::Exact {
            need = need.or(lu::factor::lu_in_place_scratch::<usize, f64>(
                n,
                n,
                par,
                Default::default(),
            ));
            need = need.or(lu::solve::solve_transpose_in_place_scratch::<usize, f64>(
                n, 1, par,
            ));
        }
        if repair == HessianRepair::Abs {
            if self.eigenvalues.len() != n {
                self.eigenvectors = vec![0.0; n * n];
                self.eigenvalues = vec![0.0; n];
            }
            need = need.or(evd::self_adjoint_evd_scratch::<f64>(
                n,
                evd::ComputeEigenvectors::Yes,
                par,
                Default::default(),
            ));
        }
        if !MemStack::new(&mut self.memory).can_hold(need) {
            self.memory = MemBuffer::new(need);
        }
    }

    /// Copies `H` (row-major) into the working matrix and tells whether
    /// every entry is finite (one pass for both). Column-major, the copy is
    /// `Hᵀ`: for the symmetric Hessians of a `C²` function that is `H`; the
    /// LU path solves with the transpose, so it is exact for any `H`.
    fn load(&mut self, hess: &[f64]) -> bool {
        let mut bad = [0.0_f64; 4];
        let to = self.matrix.chunks_exact_mut(4);
        let from = hess.chunks_exact(4);
        let (tail_to, tail_from) = (to.into_remainder(), from.remainder());
        tail_to.copy_from_slice(tail_from);
        for v in tail_from {
            bad[0] += v * 0.0;
        }
        for (to, from) in self.matrix.chunks_exact_mut(4).zip(hess.chunks_exact(4)) {
            to.copy_from_slice(from);
            for (b, v) in bad.iter_mut().zip(from) {
                *b += v * 0.0;
            }
        }
        // x·0 is 0 for finite x and NaN otherwise; NaN survives the sums.
        !(bad[0] + bad[1] + bad[2] + bad[3]).is_nan()
    }

    /// Cholesky of the working matrix (after reloading `H` plus `shift` on
    /// the diagonal if `reload`), then `rhs ← L⁻ᵀL⁻¹ g`; false if the
    /// matrix is not positive definite.
    fn cholesky_solve(&mut self, hess: &[f64], reload: Option<f64>, grad: &[f64]) -> bool {
        let n = self.n;
        let par = Self::parallelism(n);
        if let Some(shift) = reload {
            // What a Cholesky factorization reads: one triangle and the diagonal.
            for j in 0..n {
                let range = j * n + j..(j + 1) * n;
                self.matrix[range.clone()].copy_from_slice(&hess[range]);
                self.matrix[j * n + j] = hess[j * n + j] + shift;
            }
        }
        let stack = MemStack::new(&mut self.memory);
        let mut a = MatMut::from_column_major_slice_mut(&mut self.matrix, n, n);
        if llt::factor::cholesky_in_place(
            a.rb_mut(),
            Default::default(),
            par,
            stack,
            Default::default(),
        )
        .is_err()
        {
            return false;
        }
        self.rhs.copy_from_slice(grad);
        let rhs = ColMut::from_slice_mut(&mut self.rhs).as_mat_mut();
        llt::solve::solve_in_place_with_conj(a.rb(), Conj::No, rhs, par, stack);
        true
    }

    /// LU with partial pivoting; `rhs ← H⁻¹ rhs`, or false if a pivot is zero.
    fn lu_solve(&mut self, hess: &[f64], grad: &[f64]) -> bool {
        let n = self.n;
        let par = Self::parallelism(n);
        self.load(hess);
        let stack = MemStack::new(&mut self.memory);
        let mut a = MatMut::from_column_major_slice_mut(&mut self.matrix, n, n);
        let (_, perm) = lu::factor::lu_in_place(
            a.rb_mut(),
            &mut self.perm,
            &mut self.perm_inv,
            par,
            stack,
            Default::default(),
        );
        if (0..n).any(|i| a[(i, i)] == 0.0) {
            return false;
        }
        self.rhs.copy_from_slice(grad);
        let rhs = ColMut::from_slice_mut(&mut self.rhs).as_mat_mut();
        // The working matrix is Hᵀ = Pᵀ L U, so H p = g is its transposed system.
        lu::solve::solve_transpose_in_place_with_conj(
            a.rb(),
            a.rb(),
            perm,
            Conj::No,
            rhs,
            par,
            stack,
        );
        true
    }

    /// `rhs ← Q |Λ|⁻¹ Qᵀ g`, each `|λ|` at least `1e-8·max(1, max|λ|)`;
    /// true if that changed an eigenvalue, `None` if the eigen solver failed.
    fn abs_solve(&mut self, grad: &[f64]) -> Option<bool> {
        let n = self.n;
        let par = Self::parallelism(n);
        let stack = MemStack::new(&mut self.memory);
        let a = MatRef::from_column_major_slice(&self.matrix, n, n);
        let u = MatMut::from_column_major_slice_mut(&mut self.eigenvectors, n, n);
        let s = ColMut::from_slice_mut(&mut self.eigenvalues).as_diagonal_mut();
        evd::self_adjoint_evd(a, s, Some(u), par, stack, Default::default()).ok()?;
        let largest = self.eigenvalues.iter().fold(1.0_f64, |m, l| m.max(l.abs()));
        let floor = 1e-8 * largest;
        let mut changed = false;
        // rhs = Q (|Λ|⁻¹ (Qᵀ g)), column by column of Q: O(n²).
        self.rhs.fill(0.0);
        for (k, &l) in self.eigenvalues.iter().enumerate() {
            let repaired = l.abs().max(floor);
            changed |= repaired != l;
            let q = &self.eigenvectors[k * n..(k + 1) * n];
            let t = q.iter().zip(grad).map(|(q, g)| q * g).sum::<f64>() / repaired;
            for (r, q) in self.rhs.iter_mut().zip(q) {
                *r += t * q;
            }
        }
        Some(changed)
    }

    /// `H + τI` with the smallest `τ` in `0, β, 2β, 4β, ...`
    /// (`β = 10⁻³‖H‖_F`) whose Cholesky factorization succeeds.
    fn shifted_solve(&mut self, hess: &[f64], grad: &[f64]) -> Option<bool> {
        let n = self.n;
        let norm = hess.iter().map(|v| v * v).sum::<f64>().sqrt();
        let beta = if norm > 0.0 { 1e-3 * norm } else { 1e-3 };
        let min_diagonal = (0..n)
            .map(|i| hess[i * n + i])
            .fold(f64::INFINITY, f64::min);
        let mut tau = if min_diagonal > 0.0 {
            0.0
        } else {
            -min_diagonal + beta
        };
        // 2^1100 · β overflows: the loop ends long before that.
        for _ in 0..1100 {
            if self.cholesky_solve(hess, Some(tau), grad) {
                return Some(tau > 0.0);
            }
            tau = (2.0 * tau).max(beta);
        }
        None
    }

    /// Writes the Newton direction `d = −H̃⁻¹ g` for the repaired Hessian
    /// `H̃` (`hess` row-major `n × n`) into `direction`, and returns the note
    /// saying whether a repair changed anything.
    pub fn direction(
        &mut self,
        hess: &[f64],
        grad: &[f64],
        repair: HessianRepair,
        direction: &mut [f64],
    ) -> Result<Option<&'static str>, StepFailure> {
        let n = grad.len();
        assert_eq!(hess.len(), n * n, "the Hessian must be n × n");
        assert_eq!(direction.len(), n, "the direction must have n components");
        // Positive definite: no repair needed whatever `repair` says.
        if n <= SMALL_MAX_DIM
            && repair != HessianRepair::Abs
            && small_newton_direction(hess, grad, direction)
        {
            return Ok(None);
        }
        self.prepare(n, repair);
        if !self.load(hess) {
            return Err(StepFailure::NonFiniteHessian);
        }
        let note = match repair {
            HessianRepair::Exact => {
                if !(self.cholesky_solve(hess, None, grad) || self.lu_solve(hess, grad)) {
                    return Err(StepFailure::SingularHessian);
                }
                None
            }
            HessianRepair::Abs => match self.abs_solve(grad) {
                Some(changed) => changed.then_some(NOTE_ABS),
                None => return Err(StepFailure::SingularHessian),
            },
            HessianRepair::Shift => match self.shifted_solve(hess, grad) {
                Some(shifted) => shifted.then_some(NOTE_SHIFT),
                None => return Err(StepFailure::SingularHessian),
            },
        };
        if self.rhs.iter().all(|v| v.is_finite()) {
            for (d, p) in direction.iter_mut().zip(&self.rhs) {
                *d = -p;
            }
            Ok(note)
        } else {
            Err(StepFailure::SingularHessian)
        }
    }
}

/// Up to this size a positive-definite Hessian is factored on the stack:
/// below it, setting up a faer factorization costs more than the arithmetic.
const SMALL_MAX_DIM: usize = 4;

/// Solves `H p = g` by a Cholesky factorization `H = L Lᵀ` of the lower
/// triangle, in stack arrays, for `n ≤ SMALL_MAX_DIM`; writes `p` into `out`.
/// False (and `out` unspecified) when `H` is not positive definite.
#[cfg(test)]
fn small_cholesky_solve(hess: &[f64], grad: &[f64], out: &mut [f64]) -> bool {
    match grad.len() {
        1 => cholesky_solve_fixed::<1>(hess, grad, out),
        2 => cholesky_solve_fixed::<2>(hess, grad, out),
        3 => cholesky_solve_fixed::<3>(hess, grad, out),
        4 => cholesky_solve_fixed::<4>(hess, grad, out),
        _ => false,
    }
}

/// The Newton direction `d = −H⁻¹ g` for a finite, positive-definite `H`
/// of `n ≤ SMALL_MAX_DIM` variables, on the stack; false (and `direction`
/// unspecified) when `H` is not finite, not positive definite, or `d` is
/// not finite.
fn small_newton_direction(hess: &[f64], grad: &[f64], direction: &mut [f64]) -> bool {
    match grad.len() {
        1 => newton_direction_fixed::<1>(hess, grad, direction),
        2 => newton_direction_fixed::<2>(hess, grad, direction),
        3 => newton_direction_fixed::<3>(hess, grad, direction),
        4 => newton_direction_fixed::<4>(hess, grad, direction),
        _ => false,
    }
}

#[inline]
fn newton_direction_fixed<const N: usize>(
    hess: &[f64],
    grad: &[f64],
    direction: &mut [f64],
) -> bool {
    if hess.len() != N * N || direction.len() != N {
        return false;
    }
    // x·0 is 0 for finite x and NaN otherwise (no early exit: unrolls).
    if hess.iter().fold(0.0, |bad, h| bad + h * 0.0).is_nan() {
        return false;
    }
    if !cholesky_solve_fixed::<N>(hess, grad, direction) {
        return false;
    }
    let mut bad = 0.0;
    for d in direction.iter_mut() {
        *d = -*d;
        bad += *d * 0.0;
    }
    !bad.is_nan()
}

/// [`small_cholesky_solve`] for `N` variables: the loops have constant
/// bounds and unroll (the arithmetic and its order are the same for every `N`).
#[inline]
#[allow(clippy::needless_range_loop)] // indices as in the textbook algorithm
fn cholesky_solve_fixed<const N: usize>(hess: &[f64], grad: &[f64], out: &mut [f64]) -> bool {
    let (Ok(grad), Ok(out)) = (<&[f64; N]>::try_from(grad), <&mut [f64; N]>::try_from(out)) else {
        return false;
    };
    if hess.len() != N * N {
        return false;
    }
    let mut l = [[0.0_f64; N]; N];
    for j in 0..N {
        let mut d = hess[j * N + j];
        for k in 0..j {
            d -= l[j][k] * l[j][k];
        }
        if d.is_nan() || d <= 0.0 {
            return false;
        }
        let pivot = d.sqrt();
        l[j][j] = pivot;
        for i in j + 1..N {
            let mut v = hess[i * N + j];
            for k in 0..j {
                v -= l[i][k] * l[j][k];
            }
            l[i][j] = v / pivot;
        }
    }
    // L y = g, then Lᵀ p = y.
    let mut y = [0.0_f64; N];
    for i in 0..N {
        let mut v = grad[i];
        for k in 0..i {
            v -= l[i][k] * y[k];
        }
        y[i] = v / l[i][i];
    }
    for i in (0..N).rev() {
        let mut v = y[i];
        for k in i + 1..N {
            v -= l[k][i] * out[k];
        }
        out[i] = v / l[i][i];
    }
    true
}

/// The largest dimension whose buffers [`newton_direction`] keeps per thread
/// (8 MB of matrix); beyond it each call allocates its own.
const CACHED_MAX_DIM: usize = 1000;

/// The Newton direction `d = −H̃⁻¹ g` for the repaired Hessian `H̃`, and the
/// note saying whether a repair changed anything. For methods without a
/// solver of their own (the robust default): the factorization buffers are
/// kept per thread up to [`CACHED_MAX_DIM`] variables; a method that steps
/// repeatedly should keep a [`NewtonSolver`].
pub(crate) fn newton_direction(
    hess: &[f64],
    grad: &[f64],
    repair: HessianRepair,
) -> Result<(Vec<f64>, Option<&'static str>), StepFailure> {
    thread_local! {
        static SOLVER: std::cell::RefCell<NewtonSolver> =
            std::cell::RefCell::new(NewtonSolver::new());
    }
    let mut direction = vec![0.0; grad.len()];
    let note = if grad.len() <= CACHED_MAX_DIM {
        SOLVER.with(|solver| match solver.try_borrow_mut() {
            Ok(mut solver) => solver.direction(hess, grad, repair, &mut direction),
            Err(_) => NewtonSolver::new().direction(hess, grad, repair, &mut direction),
        })?
    } else {
        NewtonSolver::new().direction(hess, grad, repair, &mut direction)?
    };
    Ok((direction, note))
}

impl Method for Newton {
    fn describe(&self) -> String {
        let mut text = String::with_capacity(64);
        text.push_str("Newton's method (eta = ");
        push_number(&mut text, self.eta);
        if self.repair != HessianRepair::Exact {
            text.push_str(", hessian ");
            text.push_str(self.repair.name());
        }
        if self.line_search != LineSearchKind::None {
            text.push_str(", line search ");
            text.push_str(self.line_search.name());
        }
        text.push(')');
        text
    }

    fn hessian_need(&self) -> HessianNeed {
        HessianNeed::Full
    }

    fn step(
        &mut self,
        problem: &Problem<'_>,
        state: &State,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure> {
        let plain = self.repair == HessianRepair::Exact && self.line_search == LineSearchKind::None;
        if plain && state.x.len() == 1 {
            // The book's update `x -= eta * f'(x) / f''(x)`, evaluated in the
            // same order so the printed digits agree.
            let h = state.hess[0];
            if !h.is_finite() {
                return Err(StepFailure::NonFiniteHessian);
            }
            if h == 0.0 {
                return Err(StepFailure::SingularHessian);
            }
            x_next[0] = state.x[0] - self.eta * state.grad[0] / h;
            return Ok(StepInfo::default());
        }
        match state.x.len() {
            2 => self.step_small::<2>(problem, state, x_next),
            3 => self.step_small::<3>(problem, state, x_next),
            4 => self.step_small::<4>(problem, state, x_next),
            _ => self.step_general(problem, state, x_next),
        }
    }
}

impl Newton {
    /// [`Method::step`] for `N ≤ SMALL_MAX_DIM` variables: a positive-definite
    /// `H` is solved on the stack and a fixed step taken in place (no
    /// buffer, loops unrolled); anything else goes the general way, which
    /// gives the same numbers.
    #[inline(always)]
    fn step_small<const N: usize>(
        &mut self,
        problem: &Problem<'_>,
        state: &State,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure> {
        let mut direction = [0.0; N];
        if self.repair != HessianRepair::Abs
            && newton_direction_fixed::<N>(&state.hess, &state.grad, &mut direction)
        {
            if self.line_search == LineSearchKind::None {
                if let (Ok(x), Ok(out)) = (
                    <&[f64; N]>::try_from(&state.x[..]),
                    <&mut [f64; N]>::try_from(&mut x_next[..]),
                ) {
                    // `x + η d`, as `advance` computes it.
                    for ((o, x), d) in out.iter_mut().zip(x).zip(&direction) {
                        *o = x + self.eta * d;
                    }
                    return Ok(StepInfo::default());
                }
            }
            self.direction.clear();
            self.direction.extend_from_slice(&direction);
            return advance_with(
                problem,
                state,
                &mut self.direction,
                self.eta,
                self.line_search,
                None,
                x_next,
                &mut self.buffers,
            );
        }
        self.step_general(problem, state, x_next)
    }

    /// [`Method::step`] through [`NewtonSolver::direction`], for any `n`.
    fn step_general(
        &mut self,
        problem: &Problem<'_>,
        state: &State,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure> {
        if self.direction.len() != state.x.len() {
            self.direction.resize(state.x.len(), 0.0);
        }
        let note =
            self.solver
                .direction(&state.hess, &state.grad, self.repair, &mut self.direction)?;
        advance_with(
            problem,
            state,
            &mut self.direction,
            self.eta,
            self.line_search,
            note,
            x_next,
            &mut self.buffers,
        )
    }
}

#[cfg(test)]
mod small_solve_tests {
    use super::small_cholesky_solve;

    #[test]
    fn solves_positive_definite_systems_and_refuses_others() {
        // H = A Aᵀ + I is positive definite; check H p = g.
        let a = [1.0, 2.0, 0.5, -1.0, 0.3, 2.0, 0.7, -0.2, 1.5];
        let n = 3;
        let mut h = [0.0; 9];
        for i in 0..n {
            for j in 0..n {
                h[i * n + j] = (0..n).map(|k| a[i * n + k] * a[j * n + k]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        let g = [1.0, -2.0, 0.25];
        let mut p = [0.0; 3];
        assert!(small_cholesky_solve(&h, &g, &mut p));
        for i in 0..n {
            let hp: f64 = (0..n).map(|j| h[i * n + j] * p[j]).sum();
            assert!((hp - g[i]).abs() < 1e-12, "{hp} vs {}", g[i]);
        }
        // Indefinite and singular matrices are refused.
        assert!(!small_cholesky_solve(
            &[2.0, 0.0, 0.0, -1.0],
            &[1.0, 1.0],
            &mut [0.0; 2]
        ));
        assert!(!small_cholesky_solve(
            &[1.0, 1.0, 1.0, 1.0],
            &[1.0, 1.0],
            &mut [0.0; 2]
        ));
    }
}
