//! Separable sums `f(x) = Σᵢ g(xᵢ; cᵢ)`: one formula (or closure) for
//! millions of variables, evaluated in one pass over memory.
//!
//! Work is split into at most [`MAX_BLOCKS`] contiguous blocks whose bounds
//! depend only on `n` (not on the thread count), each summed in
//! [`LANES`] lanes; the block sums are added in order. Every evaluation path
//! (the [`Objective`] methods and the in-place runner's passes) uses this
//! order, so they return the bit-identical `f`, on one thread or many.

use num_dual::Dual2_64;

use super::coef::Coef;
use super::team::{for_each_block, SendPtr};
use super::term::{CoefLanes, DualTerm, Term, TermLanes, MAX_COEFS};
use super::{Lanes, LANES, SUB};
use crate::objective::Objective;

/// At most this many blocks (tasks) per pass.
pub const MAX_BLOCKS: usize = 64;

/// Below this many variables a pass runs on the calling thread.
pub const PARALLEL_MIN_DIM: usize = 1 << 15;

/// `f(x) = Σᵢ g(xᵢ; cᵢ)` for a one-variable term `g` and per-coordinate
/// coefficients `cᵢ = (aᵢ, bᵢ, ...)`.
///
/// ```
/// use downhill::large::{Coef, Separable};
/// use downhill::objective::Objective;
/// // f(x) = Σ aᵢ xᵢ², aᵢ evenly spaced in [1, 2]
/// let f = Separable::new(1_000, [Coef::linspace(1.0, 2.0)], |x, [a]| x * x * a).unwrap();
/// let x = vec![1.0; 1_000];
/// let mut g = vec![0.0; 1_000];
/// assert!((f.value_gradient(&x, &mut g) - 1500.0).abs() < 1e-9);
/// assert_eq!((g[0], g[999]), (2.0, 4.0));
/// ```
#[derive(Clone)]
pub struct Separable<T> {
    dim: usize,
    coefs: Vec<Coef>,
    names: Vec<String>,
    term: T,
    description: String,
}

impl<T> std::fmt::Debug for Separable<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Separable")
            .field("dim", &self.dim)
            .field("term", &self.description)
            .field("coefficients", &self.names)
            .field("sources", &self.coefs)
            .finish()
    }
}

impl<F, const K: usize> Separable<DualTerm<F, K>>
where
    F: Fn(Dual2_64, [f64; K]) -> Dual2_64 + Send + Sync,
{
    /// `Σᵢ g(xᵢ; cᵢ)` with `g` a closure over dual numbers and `K`
    /// coefficient sources; errors if a stored coefficient vector does not
    /// have `dim` values.
    pub fn new(dim: usize, coefs: [Coef; K], term: F) -> Result<Self, String> {
        let names = (0..K).map(|k| format!("c{}", k + 1)).collect();
        Separable::with_term(dim, coefs.to_vec(), names, DualTerm::new(term))
    }
}

impl<T: Term> Separable<T> {
    /// `Σᵢ g(xᵢ; cᵢ)` for any [`Term`]; `names` label the coefficients.
    pub fn with_term(
        dim: usize,
        coefs: Vec<Coef>,
        names: Vec<String>,
        term: T,
    ) -> Result<Self, String> {
        if dim == 0 {
            return Err("a separable objective needs at least one variable".into());
        }
        if coefs.len() != term.coefficient_count() || coefs.len() > MAX_COEFS {
            return Err(format!(
                "the term reads {} coefficient{} but {} source{} given",
                term.coefficient_count(),
                if term.coefficient_count() == 1 {
                    ""
                } else {
                    "s"
                },
                coefs.len(),
                if coefs.len() == 1 { " was" } else { "s were" }
            ));
        }
        for (name, coef) in names.iter().zip(&coefs) {
            if let Some(len) = coef.stored_len() {
                if len != dim {
                    return Err(format!(
                        "coefficient {name} has {len} value{} but the objective has {dim} variables",
                        if len == 1 { "" } else { "s" }
                    ));
                }
            }
        }
        Ok(Separable {
            dim,
            coefs,
            names,
            term,
            description: "g(x; c)".into(),
        })
    }

    /// The same objective with a description of its term for printing
    /// (e.g. the formula text).
    pub fn described(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// The description of the term.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The term.
    pub fn term(&self) -> &T {
        &self.term
    }

    /// The coefficient sources, in the term's order.
    pub fn coefficients(&self) -> &[Coef] {
        &self.coefs
    }

    /// Coefficient lanes for coordinates `start..start + LANES`.
    #[inline(always)]
    pub(crate) fn gather(&self, start: usize, c: &mut CoefLanes) {
        for (source, lanes) in self.coefs.iter().zip(c.iter_mut()) {
            source.fill(start, self.dim, lanes);
        }
    }

    /// The coefficient slices of coordinates `start..start + len`.
    #[inline(always)]
    pub(crate) fn views<'a>(
        &'a self,
        start: usize,
        len: usize,
        buffers: &'a mut [[f64; SUB]; MAX_COEFS],
    ) -> [&'a [f64]; MAX_COEFS] {
        let mut views: [&[f64]; MAX_COEFS] = [&[]; MAX_COEFS];
        for ((view, coef), buffer) in views.iter_mut().zip(&self.coefs).zip(buffers.iter_mut()) {
            *view = coef.view(start, len, self.dim, buffer);
        }
        views
    }

    /// The stored coefficient vectors as (pointer, length), for
    /// [`prefetch`]; the others point at one constant value.
    #[inline(always)]
    pub(crate) fn stored_coefficients(&self) -> [(*const f64, usize); MAX_COEFS] {
        static NOTHING: f64 = 0.0;
        let mut out = [(&NOTHING as *const f64, 1); MAX_COEFS];
        for (slot, coef) in out.iter_mut().zip(&self.coefs) {
            match coef {
                Coef::Values(v) if !v.is_empty() => *slot = (v.as_ptr(), v.len()),
                _ => {}
            }
        }
        out
    }

    /// Coefficient lanes at offset `o` of the slices `views`.
    ///
    /// The count comes from the term (equal to `coefs.len()`, checked at
    /// construction): for a closure term it is the constant `K`, so this
    /// loop unrolls instead of testing the count once per coefficient and
    /// group (measured: a quarter of a one-step pass's instructions).
    #[inline(always)]
    pub(crate) fn gather_views(
        &self,
        views: &[&[f64]; MAX_COEFS],
        o: usize,
        valid: usize,
        c: &mut CoefLanes,
    ) {
        for k in 0..self.term.coefficient_count() {
            c[k] = load(views[k], o, valid);
        }
    }

    /// `g, g', g''` of coordinate `i` at `x`, through [`Term::eval`] (a
    /// scalar look-up for rare paths).
    pub(crate) fn eval_at(&self, i: usize, x: f64) -> (f64, f64, f64) {
        let mut c: CoefLanes = [[0.0; LANES]; MAX_COEFS];
        self.gather(i, &mut c);
        let t = self.term.eval(&[x; LANES], &c);
        (t.value[0], t.slope[0], t.curvature[0])
    }

    /// `g, g'` of coordinate `i` at `x`, through [`Term::value_slope`].
    pub(crate) fn value_slope_at(&self, i: usize, x: f64) -> (f64, f64) {
        let mut c: CoefLanes = [[0.0; LANES]; MAX_COEFS];
        self.gather(i, &mut c);
        let (v, g) = self.term.value_slope(&[x; LANES], &c);
        (v[0], g[0])
    }
}

/// Whether a pass over `n` variables is worth the thread pool.
#[inline]
pub(crate) fn parallel(n: usize) -> bool {
    n >= PARALLEL_MIN_DIM
}

/// Block length (a multiple of [`LANES`]) and block count for `n` variables.
pub(crate) fn partition(n: usize) -> (usize, usize) {
    let groups = n.div_ceil(LANES);
    let len = groups.div_ceil(MAX_BLOCKS).max(1) * LANES;
    (len, n.div_ceil(len))
}

/// Runs `work(start, block)` on every block of `data` (on the team of
/// threads if `parallel`) and returns the results in block order.
pub(crate) fn for_blocks<R, W>(
    data: &mut [f64],
    parallel: bool,
    work: W,
) -> ([R; MAX_BLOCKS], usize)
where
    R: Copy + Default + Send,
    W: Fn(usize, &mut [f64]) -> R + Sync,
{
    let n = data.len();
    let (len, count) = partition(n);
    let mut results = [R::default(); MAX_BLOCKS];
    let data = SendPtr(data.as_mut_ptr());
    let out = SendPtr(results.as_mut_ptr());
    for_each_block(count, parallel, &|b| {
        let start = b * len;
        let end = (start + len).min(n);
        // SAFETY: block `b` is visited once; blocks are disjoint parts of
        // `data`, and `results[b]` is written by this block only.
        unsafe {
            let block = std::slice::from_raw_parts_mut(data.get().add(start), end - start);
            *out.get().add(b) = work(start, block);
        }
    });
    (results, count)
}

/// [`for_blocks`] for read-only data.
pub(crate) fn for_blocks_ref<R, W>(
    data: &[f64],
    parallel: bool,
    work: W,
) -> ([R; MAX_BLOCKS], usize)
where
    R: Copy + Default + Send,
    W: Fn(usize, &[f64]) -> R + Sync,
{
    let n = data.len();
    let (len, count) = partition(n);
    let mut results = [R::default(); MAX_BLOCKS];
    let out = SendPtr(results.as_mut_ptr());
    for_each_block(count, parallel, &|b| {
        let start = b * len;
        let end = (start + len).min(n);
        // SAFETY: `results[b]` is written by block `b` only.
        unsafe { *out.get().add(b) = work(start, &data[start..end]) };
    });
    (results, count)
}

/// [`for_blocks`] over two slices of equal length split alike (`x` read, `out` written).
pub(crate) fn for_blocks_pair<R, W>(
    x: &[f64],
    out: &mut [f64],
    parallel: bool,
    work: W,
) -> ([R; MAX_BLOCKS], usize)
where
    R: Copy + Default + Send,
    W: Fn(usize, &[f64], &mut [f64]) -> R + Sync,
{
    assert_eq!(x.len(), out.len());
    let n = x.len();
    let (len, count) = partition(n);
    let mut results = [R::default(); MAX_BLOCKS];
    let data = SendPtr(out.as_mut_ptr());
    let res = SendPtr(results.as_mut_ptr());
    for_each_block(count, parallel, &|b| {
        let start = b * len;
        let end = (start + len).min(n);
        // SAFETY: as in `for_blocks`.
        unsafe {
            let block = std::slice::from_raw_parts_mut(data.get().add(start), end - start);
            *res.get().add(b) = work(start, &x[start..end], block);
        }
    });
    (results, count)
}

/// Loads `LANES` values from `block[offset..]`, padding past `valid` with
/// the last valid value.
#[inline(always)]
pub(crate) fn load(block: &[f64], offset: usize, valid: usize) -> Lanes {
    if valid == LANES {
        let mut x = [0.0; LANES];
        x.copy_from_slice(&block[offset..offset + LANES]);
        x
    } else {
        std::array::from_fn(|l| block[offset + l.min(valid - 1)])
    }
}

/// How far ahead (in coordinates) the passes ask for memory: 8 KB per
/// stream.
pub(crate) const PREFETCH_AHEAD: usize = 1024;

/// Asks the CPU to start loading the cache line of `base[min(i, len − 1)]`
/// (a hint: no effect on results; nothing on other architectures).
/// Branch-free, so that it does not split the vectorized loop around it.
/// `len ≥ 1`.
///
/// Why by hand: the hardware prefetcher alone does not keep a pass with a
/// dozen operations per coordinate fed. Measured on this project's 2-core
/// machine at d = 2·10⁷, a one-pass gradient step with its statistics took
/// 1.2x the time of a bare `x -= η·2a·x` loop; asking 8 KB ahead brought it
/// to 0.8-0.9x that loop's time.
#[inline(always)]
pub(crate) fn prefetch(base: *const f64, len: usize, i: usize) {
    #[cfg(target_arch = "x86_64")]
    #[allow(clippy::pointers_in_nomem_asm_block)] // a prefetch reads nothing
    // SAFETY: the index is clamped into the caller's slice of `len ≥ 1`
    // values, and a prefetch changes nothing the program can observe (hence
    // `nomem`: unlike `_mm_prefetch`, this does not stop the compiler from
    // vectorizing the loads and stores around it).
    unsafe {
        std::arch::asm!(
            "prefetcht0 [{}]",
            in(reg) base.add(i.min(len - 1)),
            options(nomem, nostack, preserves_flags)
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (base, len, i);
}

/// Running sums or maxima, one per lane. Every sum of the kernels is kept
/// in [`LANES`] lanes on every instruction set (so results do not depend
/// on the CPU); folding to fewer lanes measured 25% slower with AVX-512.
pub(crate) type Acc = [f64; LANES];

/// `acc[l] += v[l]`, padding lanes (`l ≥ valid`) skipped.
#[inline(always)]
pub(crate) fn add(acc: &mut Acc, v: &Lanes, valid: usize) {
    for l in 0..LANES {
        acc[l] += if valid == LANES || l < valid {
            v[l]
        } else {
            0.0
        };
    }
}

/// The lanes of an accumulator summed in a fixed order.
#[inline(always)]
pub(crate) fn lane_sum(acc: &Acc) -> f64 {
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

impl<T: Term> Separable<T> {
    #[inline(always)]
    fn value_block(&self, start: usize, x: &[f64]) -> f64 {
        let mut c: CoefLanes = [[0.0; LANES]; MAX_COEFS];
        let mut acc = [0.0; LANES];
        with_coefficients!(self, start, x.len(), |sub, len, views| {
            let x = &x[sub..sub + len];
            for_groups!(len, |o, valid| {
                self.gather_views(&views, o, valid, &mut c);
                let (v, _) = self.term.value_slope(&load(x, o, valid), &c);
                add(&mut acc, &v, valid);
            });
        });
        lane_sum(&acc)
    }

    #[inline(always)]
    fn value_gradient_block(&self, start: usize, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut c: CoefLanes = [[0.0; LANES]; MAX_COEFS];
        let mut acc = [0.0; LANES];
        with_coefficients!(self, start, x.len(), |sub, len, views| {
            let x = &x[sub..sub + len];
            let grad = &mut grad[sub..sub + len];
            for_groups!(len, |o, valid| {
                self.gather_views(&views, o, valid, &mut c);
                let (v, s) = self.term.value_slope(&load(x, o, valid), &c);
                add(&mut acc, &v, valid);
                grad[o..o + valid].copy_from_slice(&s[..valid]);
            });
        });
        lane_sum(&acc)
    }

    #[inline(always)]
    fn diagonal_block(&self, start: usize, x: &[f64], diag: &mut [f64]) {
        let mut c: CoefLanes = [[0.0; LANES]; MAX_COEFS];
        with_coefficients!(self, start, x.len(), |sub, len, views| {
            let x = &x[sub..sub + len];
            let diag = &mut diag[sub..sub + len];
            for_groups!(len, |o, valid| {
                self.gather_views(&views, o, valid, &mut c);
                let t: TermLanes = self.term.eval(&load(x, o, valid), &c);
                diag[o..o + valid].copy_from_slice(&t.curvature[..valid]);
            });
        });
    }
}

/// Calls the AVX2 build `$avx` of a block function when the CPU has AVX2
/// (or better), else the portable one.
macro_rules! dispatch {
    ($avx:ident, $portable:ident, ($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if super::simd() >= super::Simd::Avx2 {
                // SAFETY: the CPU supports AVX2 and FMA (checked by `simd`).
                unsafe { $avx($($arg),*) }
            } else {
                $portable($($arg),*)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            $portable($($arg),*)
        }
    }};
}

fn value_portable<T: Term>(s: &Separable<T>, start: usize, x: &[f64]) -> f64 {
    s.value_block(start, x)
}
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn value_avx2<T: Term>(s: &Separable<T>, start: usize, x: &[f64]) -> f64 {
    s.value_block(start, x)
}

fn value_gradient_portable<T: Term>(
    s: &Separable<T>,
    start: usize,
    x: &[f64],
    g: &mut [f64],
) -> f64 {
    s.value_gradient_block(start, x, g)
}
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn value_gradient_avx2<T: Term>(
    s: &Separable<T>,
    start: usize,
    x: &[f64],
    g: &mut [f64],
) -> f64 {
    s.value_gradient_block(start, x, g)
}

impl<T: Term> Objective for Separable<T> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn value(&self, x: &[f64]) -> f64 {
        let (sums, count) = for_blocks_ref(x, parallel(self.dim), |start, x| {
            dispatch!(value_avx2, value_portable, (self, start, x))
        });
        sums[..count].iter().sum()
    }

    fn value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let (sums, count) = for_blocks_pair(x, grad, parallel(self.dim), |start, x, g| {
            dispatch!(
                value_gradient_avx2,
                value_gradient_portable,
                (self, start, x, g)
            )
        });
        sums[..count].iter().sum()
    }

    /// The dense contract: `hess` gets the full `n × n` matrix, zero off
    /// the diagonal. That is `8n²` bytes; for large `n` use
    /// [`Objective::hessian_diagonal`] (diagonal preconditioning does) or
    /// the in-place runner ([`super::run_separable`]).
    fn value_gradient_hessian(&self, x: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        let n = self.dim;
        let value = self.value_gradient(x, grad);
        hess.fill(0.0);
        let mut c: CoefLanes = [[0.0; LANES]; MAX_COEFS];
        for_groups!(n, |o, valid| {
            self.gather(o, &mut c);
            let t = self.term.eval(&load(x, o, valid), &c);
            for l in 0..valid {
                let i = o + l;
                hess[i * n + i] = t.curvature[l];
            }
        });
        value
    }

    fn hessian_diagonal(&self, x: &[f64], diag: &mut [f64]) -> Option<()> {
        for_blocks_pair(x, diag, parallel(self.dim), |start, x, d| {
            self.diagonal_block(start, x, d)
        });
        Some(())
    }
}
