//! `f(x) = ½ xᵀA x − bᵀx` with `A` dense, diagonal or sparse.

use std::path::Path;

use super::matrix::{Csr, Matrix};
use super::mtx::{read_matrix, read_vector, MatrixError};
use super::separable::{for_blocks, for_blocks_ref, parallel};
use crate::objective::Objective;

/// `f(x) = ½ xᵀA x − bᵀx`, `∇f = A x − b`, `∇²f = A`.
///
/// `A` is stored symmetrized, `(A + Aᵀ)/2`, which leaves `f` unchanged and
/// makes `A x − b` its gradient for any square `A`
/// ([`Quadratic::was_symmetrized`] says whether that changed anything).
/// A gradient evaluation is one product with `A` plus one pass over the
/// vectors, rows in parallel for large matrices, without allocation.
///
/// ```
/// use downhill::large::Quadratic;
/// use downhill::objective::Objective;
/// let q = Quadratic::diagonal(vec![1.0, 4.0], Some(vec![1.0, 2.0])).unwrap();
/// let mut g = [0.0; 2];
/// assert_eq!(q.value_gradient(&[1.0, 0.5], &mut g), 0.5 * (1.0 + 1.0) - 2.0);
/// assert_eq!(g, [0.0, 0.0]);
/// ```
#[derive(Clone, Debug)]
pub struct Quadratic {
    a: Matrix,
    b: Vec<f64>,
    diagonal: Vec<f64>,
    symmetrized: bool,
}

impl Quadratic {
    /// From a square matrix and an optional right-hand side (default 0).
    pub fn new(a: Matrix, b: Option<Vec<f64>>) -> Result<Self, String> {
        let (rows, cols) = (a.rows(), a.cols());
        if rows != cols {
            return Err(format!(
                "the quadratic's matrix must be square, got {rows} x {cols}"
            ));
        }
        if rows == 0 {
            return Err("the quadratic's matrix is empty".into());
        }
        let b = b.unwrap_or_else(|| vec![0.0; rows]);
        if b.len() != rows {
            return Err(format!(
                "the right-hand side has {} values but the matrix has {rows} rows",
                b.len()
            ));
        }
        let (a, symmetrized) = a.symmetrized();
        Ok(Quadratic {
            diagonal: a.diagonal(),
            a,
            b,
            symmetrized,
        })
    }

    /// Dense `A` (row-major `n × n`).
    pub fn dense(n: usize, a: Vec<f64>, b: Option<Vec<f64>>) -> Result<Self, String> {
        if a.len() != n * n {
            return Err(format!(
                "a dense {n} x {n} matrix needs {} values, got {}",
                n * n,
                a.len()
            ));
        }
        Quadratic::new(
            Matrix::Dense {
                rows: n,
                cols: n,
                data: a,
            },
            b,
        )
    }

    /// Diagonal `A = diag(d)`.
    pub fn diagonal(d: Vec<f64>, b: Option<Vec<f64>>) -> Result<Self, String> {
        Quadratic::new(Matrix::Diagonal(d), b)
    }

    /// Sparse `A`.
    pub fn sparse(a: Csr, b: Option<Vec<f64>>) -> Result<Self, String> {
        Quadratic::new(Matrix::Sparse(a), b)
    }

    /// `A` from a Matrix Market file, `b` from a vector file (see
    /// [`read_vector`]); a size mismatch is an error naming the files.
    pub fn from_files(a: &Path, b: Option<&Path>) -> Result<Self, MatrixError> {
        let matrix = read_matrix(a)?;
        let rhs = b.map(read_vector).transpose()?;
        let mismatch = |message: String, path: &Path| MatrixError {
            path: Some(path.to_path_buf()),
            line: None,
            message,
        };
        if matrix.rows() != matrix.cols() {
            return Err(mismatch(
                format!(
                    "the quadratic's matrix must be square, got {} x {}",
                    matrix.rows(),
                    matrix.cols()
                ),
                a,
            ));
        }
        if let (Some(rhs), Some(path)) = (&rhs, b) {
            if rhs.len() != matrix.rows() {
                return Err(mismatch(
                    format!(
                        "the right-hand side has {} values but the matrix {} has {} rows",
                        rhs.len(),
                        a.display(),
                        matrix.rows()
                    ),
                    path,
                ));
            }
        }
        Quadratic::new(matrix, rhs).map_err(|message| mismatch(message, a))
    }

    /// `A` as stored (symmetrized).
    pub fn matrix(&self) -> &Matrix {
        &self.a
    }

    /// `b`.
    pub fn rhs(&self) -> &[f64] {
        &self.b
    }

    /// Whether the given `A` was not symmetric (and was replaced by `(A + Aᵀ)/2`).
    pub fn was_symmetrized(&self) -> bool {
        self.symmetrized
    }

    fn parallel(&self) -> bool {
        parallel(self.a.stored())
    }
}

impl Objective for Quadratic {
    fn dim(&self) -> usize {
        self.b.len()
    }

    fn value(&self, x: &[f64]) -> f64 {
        let (sums, count) = for_blocks_ref(&self.b, self.parallel(), |start, b| {
            let mut f = 0.0;
            let mut row = [0.0; 1];
            for (k, bk) in b.iter().enumerate() {
                let i = start + k;
                self.a.rows_times(i, x, &mut row);
                f += x[i] * (0.5 * row[0] - bk);
            }
            f
        });
        sums[..count].iter().sum()
    }

    fn value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let (sums, count) = for_blocks(grad, self.parallel(), |start, g| {
            self.a.rows_times(start, x, g);
            let mut f = 0.0;
            for (k, gk) in g.iter_mut().enumerate() {
                let i = start + k;
                let ax = *gk;
                f += x[i] * (0.5 * ax - self.b[i]);
                *gk = ax - self.b[i];
            }
            f
        });
        sums[..count].iter().sum()
    }

    fn value_gradient_hessian(&self, x: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        match &self.a {
            Matrix::Dense { data, .. } => hess.copy_from_slice(data),
            other => {
                let n = self.b.len();
                hess.fill(0.0);
                match other {
                    Matrix::Diagonal(d) => {
                        for (i, v) in d.iter().enumerate() {
                            hess[i * n + i] = *v;
                        }
                    }
                    Matrix::Sparse(a) => {
                        for i in 0..n {
                            let (cols, values) = a.row(i);
                            for (&j, &v) in cols.iter().zip(values) {
                                hess[i * n + j] = v;
                            }
                        }
                    }
                    Matrix::Dense { .. } => unreachable!(),
                }
            }
        }
        self.value_gradient(x, grad)
    }

    fn hessian_diagonal(&self, _x: &[f64], diag: &mut [f64]) -> Option<()> {
        diag.copy_from_slice(&self.diagonal);
        Some(())
    }
}
