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
use super::{push_number, HessianNeed, Method, NextIterate, State, StepFailure, StepInfo};
use crate::finite::FiniteCheck;
use crate::line_search::RayBuffers;
use crate::objective::Problem;
use crate::scratch;

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
/// solve and kept, so a run allocates nothing per step once it has started;
/// the d×d working matrix comes with the first solve that copies `H` (none
/// while every factorization runs in the caller's buffer,
/// [`NewtonSolver::direction_in_place`]).
///
/// The solve follows the book's order: a Cholesky factorization when `H` is
/// positive definite, an LU factorization with partial pivoting otherwise (a
/// zero pivot is a singular Hessian), or a repair ([`HessianRepair`]).
pub struct NewtonSolver {
    n: usize,
    /// `Hᵀ` column-major, i.e. `H` row-major as given; factorized in place.
    /// Column `j` is `matrix[offset + j·stride..][..n]`, 64-byte aligned
    /// ([`COLUMN_ALIGN`]).
    matrix: Vec<f64>,
    offset: usize,
    stride: usize,
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
            offset: 0,
            stride: 0,
            rhs: Vec::new(),
            eigenvectors: Vec::new(),
            eigenvalues: Vec::new(),
            perm: Vec::new(),
            perm_inv: Vec::new(),
            memory: MemBuffer::new(StackReq::EMPTY),
        }
    }
}

impl Drop for NewtonSolver {
    /// The working matrix goes back to the per-thread pool for the next solver.
    fn drop(&mut self) {
        scratch::give_back(std::mem::take(&mut self.matrix));
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

    /// Allocates the working matrix for `n` variables if it is not there:
    /// on the first load, so that a solver whose factorizations all run in
    /// place ([`NewtonSolver::direction_in_place`]) never holds one.
    fn ensure_matrix(&mut self) {
        let n = self.n;
        if self.stride == 0 && n > 0 {
            let stride = column_stride(n);
            // From the per-thread pool: a new solver (one per `Newton`)
            // does not map fresh pages for its matrix run after run.
            self.matrix = scratch::zeros(n * stride + COLUMN_ALIGN);
            self.offset = self.matrix.as_ptr().align_offset(COLUMN_ALIGN * 8);
            // A `Vec<f64>` is 8-byte aligned, so some offset below COLUMN_ALIGN works.
            debug_assert!(self.offset < COLUMN_ALIGN);
            self.stride = stride;
        }
    }

    /// The `n` entries of each column of the working matrix, in order.
    fn columns_mut(&mut self) -> impl Iterator<Item = &mut [f64]> {
        let (n, stride) = (self.n, self.stride.max(1));
        self.matrix[self.offset..self.offset + self.n * self.stride]
            .chunks_exact_mut(stride)
            .map(move |column| &mut column[..n])
    }

    /// Sizes the buffers for `n` variables and the scratch memory for the
    /// factorizations `repair` may use.
    fn prepare(&mut self, n: usize, repair: HessianRepair) {
        if self.n != n {
            self.n = n;
            // The working matrix is sized by the first load (see `matrix_for`).
            scratch::give_back(std::mem::take(&mut self.matrix));
            self.offset = 0;
            self.stride = 0;
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
        self.ensure_matrix();
        let n = self.n;
        let mut check = FiniteCheck::default();
        // Row by row, so the check reads what the copy just brought into cache.
        for (from, to) in hess.chunks_exact(n.max(1)).zip(self.columns_mut()) {
            to.copy_from_slice(from);
            check.add(from);
        }
        check.all_finite()
    }

    /// Copies what a Cholesky factorization of the working matrix reads
    /// (column-major: the lower triangle with the diagonal, i.e. row `j` of
    /// `H` from column `j` on) and tells whether every entry of `H` is
    /// finite. Half the writes of [`NewtonSolver::load`], and on a freshly
    /// allocated matrix half the pages touched: the copy is most of what a
    /// dense Newton step costs besides the factorization (W4). Paths that
    /// read the whole matrix (LU, the eigen repair) load it in full.
    fn load_cholesky_triangle(&mut self, hess: &[f64]) -> bool {
        self.ensure_matrix();
        let n = self.n;
        let mut check = FiniteCheck::default();
        for (j, (from, to)) in hess
            .chunks_exact(n.max(1))
            .zip(self.columns_mut())
            .enumerate()
        {
            to[j..].copy_from_slice(&from[j..]);
            check.add(from);
        }
        check.all_finite()
    }

    /// Cholesky of the working matrix (after reloading `H` plus `shift` on
    /// the diagonal if `reload`), then `rhs ← L⁻ᵀL⁻¹ g`; false if the
    /// matrix is not positive definite.
    fn cholesky_solve(&mut self, hess: &[f64], reload: Option<f64>, grad: &[f64]) -> bool {
        let n = self.n;
        let par = Self::parallelism(n);
        if let Some(shift) = reload {
            // What a Cholesky factorization reads: one triangle and the diagonal.
            for (j, (from, to)) in hess.chunks_exact(n).zip(self.columns_mut()).enumerate() {
                to[j..].copy_from_slice(&from[j..]);
                to[j] = from[j] + shift;
            }
        }
        let (offset, len, stride) = (self.offset, n * self.stride, self.stride);
        let stack = MemStack::new(&mut self.memory);
        let mut a = MatMut::from_column_major_slice_with_stride_mut(
            &mut self.matrix[offset..offset + len],
            n,
            n,
            stride,
        );
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
        let (offset, len, stride) = (self.offset, n * self.stride, self.stride);
        let stack = MemStack::new(&mut self.memory);
        let mut a = MatMut::from_column_major_slice_with_stride_mut(
            &mut self.matrix[offset..offset + len],
            n,
            n,
            stride,
        );
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
        let (offset, len) = (self.offset, n * self.stride);
        let a = MatRef::from_column_major_slice_with_stride(
            &self.matrix[offset..offset + len],
            n,
            n,
            self.stride,
        );
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
        let finite = match repair {
            HessianRepair::Exact | HessianRepair::Shift => self.load_cholesky_triangle(hess),
            HessianRepair::Abs => self.load(hess),
        };
        if !finite {
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
        self.finish(direction, note)
    }

    /// `direction ← −rhs` with `note`, or a singular Hessian if the solve
    /// left a non-finite number.
    fn finish(
        &self,
        direction: &mut [f64],
        note: Option<&'static str>,
    ) -> Result<Option<&'static str>, StepFailure> {
        if self.rhs.iter().all(|v| v.is_finite()) {
            for (d, p) in direction.iter_mut().zip(&self.rhs) {
                *d = -p;
            }
            Ok(note)
        } else {
            Err(StepFailure::SingularHessian)
        }
    }

    /// [`NewtonSolver::direction`] without repair, factoring `hess` where
    /// it is instead of copying it: for a large `H` the copy is the dense
    /// step's largest cost besides the factorization (W4). `hess` is `H`
    /// row-major, i.e. `Hᵀ` column-major; the Cholesky factorization reads
    /// and overwrites its column-major lower triangle (row `j` of `H` from
    /// column `j` on), so `hess` no longer holds `H` afterwards.
    ///
    /// Every entry of `H` is checked as in `direction`: the triangle the
    /// factorization does not read before it, the other one through the
    /// factorization (a NaN or infinite entry there makes a pivot NaN,
    /// infinite or negative, so the factorization fails and the fallback
    /// checks `H`). Where the factorization
    /// fails (`H` not positive definite), the LU fallback needs all of `H`
    /// again: `reevaluate(hess, scratch)` must write `H` into `hess` (and
    /// may use `scratch`, of length `n`, e.g. for the gradient that comes
    /// with it); then this is `direction`. The results are those of
    /// `direction` with [`HessianRepair::Exact`].
    pub fn direction_in_place(
        &mut self,
        hess: &mut [f64],
        grad: &[f64],
        direction: &mut [f64],
        reevaluate: impl FnOnce(&mut [f64], &mut [f64]),
    ) -> Result<Option<&'static str>, StepFailure> {
        let n = grad.len();
        assert_eq!(hess.len(), n * n, "the Hessian must be n × n");
        assert_eq!(direction.len(), n, "the direction must have n components");
        if n <= SMALL_MAX_DIM {
            return self.direction(hess, grad, HessianRepair::Exact, direction);
        }
        self.prepare(n, HessianRepair::Exact);
        // The strict lower triangle (row-major), which the factorization
        // does not read.
        let mut check = FiniteCheck::default();
        for (i, row) in hess.chunks_exact(n).enumerate().skip(1) {
            check.add(&row[..i]);
        }
        if !check.all_finite() {
            return Err(StepFailure::NonFiniteHessian);
        }
        let par = Self::parallelism(n);
        let stack = MemStack::new(&mut self.memory);
        let mut a = MatMut::from_column_major_slice_mut(hess, n, n);
        let factored = llt::factor::cholesky_in_place(
            a.rb_mut(),
            Default::default(),
            par,
            stack,
            Default::default(),
        )
        .is_ok();
        if !factored {
            reevaluate(hess, &mut self.rhs);
            return self.direction(hess, grad, HessianRepair::Exact, direction);
        }
        // A pivot of `+∞` would factor into `L_jj = ∞`; faer 0.24 refuses
        // non-finite pivots itself, this keeps the promise if that changes.
        if (0..n).any(|j| !a[(j, j)].is_finite()) {
            return Err(StepFailure::NonFiniteHessian);
        }
        self.rhs.copy_from_slice(grad);
        let rhs = ColMut::from_slice_mut(&mut self.rhs).as_mat_mut();
        llt::solve::solve_in_place_with_conj(a.rb(), Conj::No, rhs, par, stack);
        self.finish(direction, None)
    }
}

/// Columns of the working matrix start on 64-byte boundaries (8 `f64`s):
/// faer's kernels then load whole cache lines. Its own `Mat` is laid out so,
/// and a factorization in an unpadded `n × n` slice measured 3% slower at
/// d = 500.
const COLUMN_ALIGN: usize = 8;

/// `n` rounded up to a multiple of [`COLUMN_ALIGN`].
fn column_stride(n: usize) -> usize {
    n.div_ceil(COLUMN_ALIGN) * COLUMN_ALIGN
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

    /// From [`IN_PLACE_MIN_DIM`] variables on and without repair, `H` is
    /// factored in the state's buffer (`NewtonSolver::direction_in_place`);
    /// where it is not positive definite, the LU fallback evaluates `∇²f`
    /// at `x` once more (counted in the evaluations). Otherwise as `step`.
    /// (No hand-over of `f` and `∇f`: the driver evaluates `∇²f` at the
    /// next iterate anyway, with them.)
    fn step_into(
        &mut self,
        problem: &Problem<'_>,
        state: &mut State,
        next: &mut NextIterate<'_>,
    ) -> Result<StepInfo, StepFailure> {
        let n = state.x.len();
        let x_next = &mut *next.x;
        if n < IN_PLACE_MIN_DIM || self.repair != HessianRepair::Exact {
            return self.step(problem, state, x_next);
        }
        if self.direction.len() != n {
            self.direction.resize(n, 0.0);
        }
        let State { x, grad, hess, .. } = &mut *state;
        let note =
            self.solver
                .direction_in_place(hess, grad, &mut self.direction, |hess, scratch| {
                    problem.value_gradient_hessian(x, scratch, hess);
                })?;
        self.advance(problem, state, note, x_next)
    }
}

/// From this many variables on, [`Newton`] without repair factors the
/// Hessian in the driver's buffer instead of copying it (at d = 500 the copy
/// and its check measured about 10 % of a step). Below, the copy costs little
/// and keeps `∇²f` for the LU fallback without a second evaluation.
pub const IN_PLACE_MIN_DIM: usize = 64;

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
            return self.advance(problem, state, None, x_next);
        }
        self.step_general(problem, state, x_next)
    }

    /// `x_next` from `x` along `self.direction` (the fixed step `η` or the
    /// line search), with the solve's `note`.
    fn advance(
        &mut self,
        problem: &Problem<'_>,
        state: &State,
        note: Option<&'static str>,
        x_next: &mut [f64],
    ) -> Result<StepInfo, StepFailure> {
        advance_with(
            problem,
            state,
            &mut self.direction,
            self.eta,
            self.line_search,
            note,
            &mut NextIterate::x_only(x_next),
            &mut self.buffers,
        )
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
        self.advance(problem, state, note, x_next)
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

#[cfg(test)]
mod dense_solve_tests {
    use super::{HessianRepair, NewtonSolver};

    /// The `n × n` symmetric matrix `0.5^|i−j| + shift·δᵢⱼ` (positive
    /// definite for `shift ≥ 0`, indefinite for `shift = −1.2`), row-major.
    fn matrix(n: usize, shift: f64) -> Vec<f64> {
        let mut h = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                h[i * n + j] =
                    0.5f64.powi((i as i32 - j as i32).abs()) + if i == j { shift } else { 0.0 };
            }
        }
        h
    }

    /// The Cholesky path copies only the triangle it reads: whatever the
    /// rest of the working matrix holds (here NaN) changes no bit of the
    /// direction, on the Cholesky path and on the LU fallback (sizes below
    /// and above faer's blocking).
    #[test]
    fn stale_entries_outside_the_triangle_change_nothing() {
        for (n, shift) in [(6, 1.0), (6, -1.2), (300, 1.0), (300, -1.2)] {
            let grad: Vec<f64> = (0..n).map(|i| (i % 7) as f64 - 2.5).collect();
            let h = matrix(n, shift);
            for repair in [HessianRepair::Exact, HessianRepair::Shift] {
                let mut fresh = vec![0.0; n];
                let fresh_note = NewtonSolver::new()
                    .direction(&h, &grad, repair, &mut fresh)
                    .unwrap();
                let mut solver = NewtonSolver::new();
                solver.prepare(n, repair);
                solver.ensure_matrix();
                solver.matrix.fill(f64::NAN);
                let mut stale = vec![0.0; n];
                let stale_note = solver.direction(&h, &grad, repair, &mut stale).unwrap();
                assert_eq!(stale_note, fresh_note, "{n} {shift} {repair:?}");
                let bits = |v: &[f64]| v.iter().map(|d| d.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&stale), bits(&fresh), "{n} {shift} {repair:?}");
                assert!(stale.iter().all(|d| d.is_finite()));
            }
        }
    }

    /// Factoring in the caller's buffer gives the bits, notes and errors of
    /// the copying solve: positive definite (no second evaluation), indefinite
    /// and not symmetric (one, for the LU fallback), below and above faer's
    /// blocking.
    #[test]
    fn in_place_directions_are_the_copying_ones() {
        for n in [5, 6, 37, 300] {
            let grad: Vec<f64> = (0..n).map(|i| (i % 7) as f64 - 2.5).collect();
            let mut not_symmetric = matrix(n, 1.0);
            for (k, v) in not_symmetric.iter_mut().enumerate() {
                // Below the diagonal only: the upper triangle stays positive definite.
                if k % n < k / n {
                    *v += 0.1 * (k % 5) as f64;
                }
            }
            let mut not_symmetric_indefinite = matrix(n, -1.2);
            not_symmetric_indefinite[n] += 0.25;
            let cases = [
                ("positive definite", matrix(n, 1.0), 0),
                ("indefinite", matrix(n, -1.2), 1),
                ("not symmetric", not_symmetric, 0),
                ("not symmetric, indefinite", not_symmetric_indefinite, 1),
                ("singular", vec![0.0; n * n], 1),
            ];
            for (name, h, expected_reevaluations) in cases {
                let mut copied = vec![0.0; n];
                let expected =
                    NewtonSolver::new().direction(&h, &grad, HessianRepair::Exact, &mut copied);
                let mut buffer = h.clone();
                let mut in_place = vec![0.0; n];
                let mut reevaluations = 0;
                let got = NewtonSolver::new().direction_in_place(
                    &mut buffer,
                    &grad,
                    &mut in_place,
                    |hess, scratch| {
                        assert_eq!(scratch.len(), n);
                        reevaluations += 1;
                        hess.copy_from_slice(&h);
                    },
                );
                assert_eq!(got, expected, "{n} {name}");
                assert_eq!(reevaluations, expected_reevaluations, "{n} {name}");
                if expected.is_ok() {
                    let bits = |v: &[f64]| v.iter().map(|d| d.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&in_place), bits(&copied), "{n} {name}");
                }
            }
        }
    }

    /// A non-finite entry is reported wherever it is: in the triangle the
    /// factorization does not read (checked first), and in the one it reads
    /// or on the diagonal (a failed pivot, then the fallback's check).
    #[test]
    fn in_place_reports_a_non_finite_entry_anywhere() {
        let n = 6;
        // (row, column): strictly lower, strictly upper, diagonal.
        for (i, j) in [(5, 0), (3, 1), (0, 5), (1, 3), (0, 0), (4, 4), (5, 5)] {
            for bad in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
                let mut h = matrix(n, 1.0);
                h[i * n + j] = bad;
                let original = h.clone();
                let result = NewtonSolver::new().direction_in_place(
                    &mut h,
                    &[1.0; 6],
                    &mut [0.0; 6],
                    |hess, _| hess.copy_from_slice(&original),
                );
                assert_eq!(
                    result,
                    Err(super::StepFailure::NonFiniteHessian),
                    "({i}, {j}) = {bad}"
                );
            }
        }
    }

    /// The padded, aligned working matrix gives the bits faer gives on a
    /// plain `n × n` column-major slice (the layout before the padding).
    #[test]
    fn padded_layout_gives_the_bits_of_a_plain_slice() {
        use faer::dyn_stack::{MemBuffer, MemStack};
        use faer::linalg::cholesky::llt;
        use faer::{ColMut, MatMut, Par};
        for n in [5, 6, 37, 300, 501] {
            let h = matrix(n, 1.0);
            let grad: Vec<f64> = (0..n).map(|i| (i % 7) as f64 - 2.5).collect();
            let mut direction = vec![0.0; n];
            NewtonSolver::new()
                .direction(&h, &grad, HessianRepair::Exact, &mut direction)
                .unwrap();
            let mut plain = h.clone();
            let mut rhs = grad.clone();
            let mut memory = MemBuffer::new(
                llt::factor::cholesky_in_place_scratch::<f64>(n, Par::Seq, Default::default())
                    .or(llt::solve::solve_in_place_scratch::<f64>(n, 1, Par::Seq)),
            );
            let stack = MemStack::new(&mut memory);
            let mut a = MatMut::from_column_major_slice_mut(&mut plain, n, n);
            llt::factor::cholesky_in_place(
                a.as_mut(),
                Default::default(),
                Par::Seq,
                stack,
                Default::default(),
            )
            .unwrap();
            llt::solve::solve_in_place_with_conj(
                a.as_ref(),
                faer::Conj::No,
                ColMut::from_slice_mut(&mut rhs).as_mat_mut(),
                Par::Seq,
                stack,
            );
            let expected: Vec<u64> = rhs.iter().map(|p| (-p).to_bits()).collect();
            let got: Vec<u64> = direction.iter().map(|d| d.to_bits()).collect();
            assert_eq!(got, expected, "n = {n}");
        }
    }

    #[test]
    fn a_non_finite_entry_anywhere_is_reported() {
        for at in [1, 6, 35] {
            let mut h = matrix(6, 1.0);
            h[at] = f64::INFINITY;
            for repair in [
                HessianRepair::Exact,
                HessianRepair::Shift,
                HessianRepair::Abs,
            ] {
                let result = NewtonSolver::new().direction(&h, &[1.0; 6], repair, &mut [0.0; 6]);
                assert_eq!(
                    result,
                    Err(super::StepFailure::NonFiniteHessian),
                    "{at} {repair:?}"
                );
            }
        }
    }
}
