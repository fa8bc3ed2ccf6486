//! `f(x) = ‖A x − b‖²`.

use std::path::Path;
use std::sync::Mutex;

use super::matrix::Matrix;
use super::mtx::{read_matrix, read_vector, MatrixError};
use super::separable::{for_blocks, parallel};
use crate::objective::Objective;

/// `f(x) = ‖A x − b‖²` (no ½), `∇f = 2Aᵀ(A x − b)`, `∇²f = 2AᵀA`.
///
/// `A` is `m × n` (dense, diagonal or sparse) and kept together with `Aᵀ`,
/// so both products run over rows in parallel; the residual lives in a
/// buffer allocated once, so evaluations do not allocate.
///
/// ```
/// use downhill::large::{LeastSquares, Matrix};
/// use downhill::objective::Objective;
/// // rows (1, 0), (0, 2), (1, 1); b = (1, 2, 3)
/// let a = Matrix::Dense { rows: 3, cols: 2, data: vec![1.0, 0.0, 0.0, 2.0, 1.0, 1.0] };
/// let ls = LeastSquares::new(a, vec![1.0, 2.0, 3.0]).unwrap();
/// let mut g = [0.0; 2];
/// assert_eq!(ls.value_gradient(&[1.0, 1.0], &mut g), 1.0);
/// assert_eq!(g, [-2.0, -2.0]);
/// ```
#[derive(Debug)]
pub struct LeastSquares {
    a: Matrix,
    at: Matrix,
    b: Vec<f64>,
    diagonal: Vec<f64>,
    residual: Mutex<Vec<f64>>,
}

impl Clone for LeastSquares {
    fn clone(&self) -> Self {
        LeastSquares {
            a: self.a.clone(),
            at: self.at.clone(),
            b: self.b.clone(),
            diagonal: self.diagonal.clone(),
            residual: Mutex::new(vec![0.0; self.b.len()]),
        }
    }
}

fn transpose(a: &Matrix) -> Matrix {
    match a {
        Matrix::Dense { rows, cols, data } => {
            let mut t = vec![0.0; rows * cols];
            for i in 0..*rows {
                for j in 0..*cols {
                    t[j * rows + i] = data[i * cols + j];
                }
            }
            Matrix::Dense {
                rows: *cols,
                cols: *rows,
                data: t,
            }
        }
        Matrix::Diagonal(d) => Matrix::Diagonal(d.clone()),
        Matrix::Sparse(s) => Matrix::Sparse(s.transpose()),
    }
}

impl LeastSquares {
    /// From `A` (`m × n`) and `b` (`m` values).
    pub fn new(a: Matrix, b: Vec<f64>) -> Result<Self, String> {
        if b.len() != a.rows() {
            return Err(format!(
                "b has {} values but A has {} rows",
                b.len(),
                a.rows()
            ));
        }
        if a.cols() == 0 || a.rows() == 0 {
            return Err("A is empty".into());
        }
        let at = transpose(&a);
        // ∇²f = 2AᵀA; its diagonal is 2 Σᵢ a_ij², i.e. twice the squared
        // norms of the rows of Aᵀ.
        let mut diagonal = vec![0.0; a.cols()];
        for (j, d) in diagonal.iter_mut().enumerate() {
            *d = 2.0
                * match &at {
                    Matrix::Dense { cols, data, .. } => data[j * cols..(j + 1) * cols]
                        .iter()
                        .map(|v| v * v)
                        .sum::<f64>(),
                    Matrix::Diagonal(v) => v[j] * v[j],
                    Matrix::Sparse(s) => s.row(j).1.iter().map(|v| v * v).sum::<f64>(),
                };
        }
        Ok(LeastSquares {
            residual: Mutex::new(vec![0.0; b.len()]),
            a,
            at,
            b,
            diagonal,
        })
    }

    /// `A` from a Matrix Market file, `b` from a vector file; a size
    /// mismatch is an error naming the files.
    pub fn from_files(a: &Path, b: &Path) -> Result<Self, MatrixError> {
        let matrix = read_matrix(a)?;
        let rhs = read_vector(b)?;
        if rhs.len() != matrix.rows() {
            return Err(MatrixError {
                path: Some(b.to_path_buf()),
                line: None,
                message: format!(
                    "b has {} values but the matrix {} has {} rows",
                    rhs.len(),
                    a.display(),
                    matrix.rows()
                ),
            });
        }
        LeastSquares::new(matrix, rhs).map_err(|message| MatrixError {
            path: Some(a.to_path_buf()),
            line: None,
            message,
        })
    }

    /// `A`.
    pub fn matrix(&self) -> &Matrix {
        &self.a
    }

    /// `b`.
    pub fn rhs(&self) -> &[f64] {
        &self.b
    }

    /// `r = A x − b` into `r`; returns `‖r‖²`.
    fn residual(&self, x: &[f64], r: &mut [f64]) -> f64 {
        let (sums, count) = for_blocks(r, parallel(self.a.stored()), |start, r| {
            self.a.rows_times(start, x, r);
            let mut f = 0.0;
            for (k, rk) in r.iter_mut().enumerate() {
                *rk -= self.b[start + k];
                f += *rk * *rk;
            }
            f
        });
        sums[..count].iter().sum()
    }
}

impl Objective for LeastSquares {
    fn dim(&self) -> usize {
        self.a.cols()
    }

    fn value(&self, x: &[f64]) -> f64 {
        let mut r = self.residual.lock().unwrap_or_else(|e| e.into_inner());
        self.residual(x, &mut r)
    }

    fn value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let mut r = self.residual.lock().unwrap_or_else(|e| e.into_inner());
        let f = self.residual(x, &mut r);
        for_blocks(grad, parallel(self.at.stored()), |start, g| {
            self.at.rows_times(start, &r, g);
            for v in g.iter_mut() {
                *v *= 2.0;
            }
        });
        f
    }

    fn value_gradient_hessian(&self, x: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        let n = self.dim();
        hess.fill(0.0);
        // 2AᵀA, row by row of A: each row adds 2 a aᵀ.
        let mut row = vec![0.0; n];
        for i in 0..self.a.rows() {
            let entries: Vec<(usize, f64)> = match &self.a {
                Matrix::Dense { cols, data, .. } => {
                    row.copy_from_slice(&data[i * cols..(i + 1) * cols]);
                    row.iter()
                        .copied()
                        .enumerate()
                        .filter(|e| e.1 != 0.0)
                        .collect()
                }
                Matrix::Diagonal(d) => vec![(i, d[i])],
                Matrix::Sparse(s) => {
                    let (cols, values) = s.row(i);
                    cols.iter().copied().zip(values.iter().copied()).collect()
                }
            };
            for &(j, aj) in &entries {
                for &(k, ak) in &entries {
                    hess[j * n + k] += 2.0 * aj * ak;
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
