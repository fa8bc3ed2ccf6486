//! Matrices for quadratics and least squares: dense (row-major), diagonal,
//! or sparse in compressed sparse row form.

/// Below this many stored entries a product runs on the calling thread.
const PARALLEL_MIN_ENTRIES: usize = 1 << 16;

/// A sparse matrix in compressed sparse row (CSR) form.
#[derive(Clone, Debug, PartialEq)]
pub struct Csr {
    rows: usize,
    cols: usize,
    /// Row `i` holds entries `row_start[i]..row_start[i + 1]`.
    row_start: Vec<usize>,
    col: Vec<usize>,
    value: Vec<f64>,
}

impl Csr {
    /// From `(row, column, value)` triplets (0-based, in any order);
    /// duplicates are added, columns sorted within each row.
    pub fn from_triplets(rows: usize, cols: usize, mut triplets: Vec<(usize, usize, f64)>) -> Csr {
        triplets.sort_unstable_by_key(|&(i, j, _)| (i, j));
        let mut row_start = vec![0; rows + 1];
        let mut col = Vec::with_capacity(triplets.len());
        let mut value: Vec<f64> = Vec::with_capacity(triplets.len());
        let mut last: Option<(usize, usize)> = None;
        for (i, j, v) in triplets {
            assert!(
                i < rows && j < cols,
                "entry ({i}, {j}) outside {rows} x {cols}"
            );
            if last == Some((i, j)) {
                *value.last_mut().expect("a previous entry") += v;
                continue;
            }
            last = Some((i, j));
            row_start[i + 1] += 1;
            col.push(j);
            value.push(v);
        }
        for i in 0..rows {
            row_start[i + 1] += row_start[i];
        }
        Csr {
            rows,
            cols,
            row_start,
            col,
            value,
        }
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Stored entries.
    pub fn nnz(&self) -> usize {
        self.value.len()
    }

    /// The stored entries of row `i`: `(columns, values)`.
    pub fn row(&self, i: usize) -> (&[usize], &[f64]) {
        let range = self.row_start[i]..self.row_start[i + 1];
        (&self.col[range.clone()], &self.value[range])
    }

    /// The transpose.
    pub fn transpose(&self) -> Csr {
        let mut triplets = Vec::with_capacity(self.nnz());
        for i in 0..self.rows {
            let (cols, values) = self.row(i);
            for (&j, &v) in cols.iter().zip(values) {
                triplets.push((j, i, v));
            }
        }
        Csr::from_triplets(self.cols, self.rows, triplets)
    }

    /// Row-major dense copy.
    pub fn to_dense(&self) -> Vec<f64> {
        let mut dense = vec![0.0; self.rows * self.cols];
        for i in 0..self.rows {
            let (cols, values) = self.row(i);
            for (&j, &v) in cols.iter().zip(values) {
                dense[i * self.cols + j] += v;
            }
        }
        dense
    }

    /// `(A x)_i`.
    #[inline]
    pub fn row_dot(&self, i: usize, x: &[f64]) -> f64 {
        let (cols, values) = self.row(i);
        let mut sum = 0.0;
        for (&j, &v) in cols.iter().zip(values) {
            sum += v * x[j];
        }
        sum
    }
}

/// A matrix as the large objectives store it.
#[derive(Clone, Debug, PartialEq)]
pub enum Matrix {
    /// Row-major `rows × cols` entries.
    Dense {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
        /// `a_ij` at `i * cols + j`.
        data: Vec<f64>,
    },
    /// A square diagonal matrix.
    Diagonal(Vec<f64>),
    /// A sparse matrix.
    Sparse(Csr),
}

impl Matrix {
    /// Rows.
    pub fn rows(&self) -> usize {
        match self {
            Matrix::Dense { rows, .. } => *rows,
            Matrix::Diagonal(d) => d.len(),
            Matrix::Sparse(a) => a.rows(),
        }
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        match self {
            Matrix::Dense { cols, .. } => *cols,
            Matrix::Diagonal(d) => d.len(),
            Matrix::Sparse(a) => a.cols(),
        }
    }

    /// Stored entries (what a product reads).
    pub fn stored(&self) -> usize {
        match self {
            Matrix::Dense { data, .. } => data.len(),
            Matrix::Diagonal(d) => d.len(),
            Matrix::Sparse(a) => a.nnz(),
        }
    }

    /// A short description: `dense 100 x 100`, `diagonal 10`, `sparse 10 x 10, 28 entries`.
    pub fn describe(&self) -> String {
        match self {
            Matrix::Dense { rows, cols, .. } => format!("dense {rows} x {cols}"),
            Matrix::Diagonal(d) => format!("diagonal {0} x {0}", d.len()),
            Matrix::Sparse(a) => format!(
                "sparse {} x {}, {} stored entries",
                a.rows(),
                a.cols(),
                a.nnz()
            ),
        }
    }

    /// `a_ij` (a look-up; `O(log nnz(row))` for sparse matrices).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        match self {
            Matrix::Dense { cols, data, .. } => data[i * cols + j],
            Matrix::Diagonal(d) => {
                if i == j {
                    d[i]
                } else {
                    0.0
                }
            }
            Matrix::Sparse(a) => {
                let (cols, values) = a.row(i);
                cols.binary_search(&j).map(|k| values[k]).unwrap_or(0.0)
            }
        }
    }

    /// `(A x)_i` for `i` in `first..first + out.len()`, written to `out`.
    #[inline]
    pub(crate) fn rows_times(&self, first: usize, x: &[f64], out: &mut [f64]) {
        match self {
            Matrix::Dense { cols, data, .. } => {
                for (k, o) in out.iter_mut().enumerate() {
                    let row = &data[(first + k) * cols..(first + k + 1) * cols];
                    *o = dot(row, x);
                }
            }
            Matrix::Diagonal(d) => {
                for (k, o) in out.iter_mut().enumerate() {
                    *o = d[first + k] * x[first + k];
                }
            }
            Matrix::Sparse(a) => {
                for (k, o) in out.iter_mut().enumerate() {
                    *o = a.row_dot(first + k, x);
                }
            }
        }
    }

    /// `out = A x`, rows in parallel for large matrices.
    pub fn mul_vec(&self, x: &[f64], out: &mut [f64]) {
        assert_eq!(x.len(), self.cols());
        assert_eq!(out.len(), self.rows());
        super::separable::for_blocks(out, self.stored() >= PARALLEL_MIN_ENTRIES, |first, o| {
            self.rows_times(first, x, o)
        });
    }

    /// The diagonal `a_ii` of a square matrix.
    pub fn diagonal(&self) -> Vec<f64> {
        let n = self.rows().min(self.cols());
        match self {
            Matrix::Diagonal(d) => d.clone(),
            _ => (0..n).map(|i| self.get(i, i)).collect(),
        }
    }

    /// `(A + Aᵀ)/2` of a square matrix, and whether it differs from `A`.
    pub fn symmetrized(self) -> (Matrix, bool) {
        match self {
            Matrix::Diagonal(_) => (self, false),
            Matrix::Dense {
                rows,
                cols,
                mut data,
            } => {
                let mut changed = false;
                for i in 0..rows {
                    for j in 0..i {
                        let (a, b) = (data[i * cols + j], data[j * cols + i]);
                        if a != b {
                            changed = true;
                            let m = 0.5 * (a + b);
                            data[i * cols + j] = m;
                            data[j * cols + i] = m;
                        }
                    }
                }
                (Matrix::Dense { rows, cols, data }, changed)
            }
            Matrix::Sparse(a) => {
                let t = a.transpose();
                if t == a {
                    return (Matrix::Sparse(a), false);
                }
                let mut triplets = Vec::with_capacity(2 * a.nnz());
                for m in [&a, &t] {
                    for i in 0..m.rows() {
                        let (cols, values) = m.row(i);
                        for (&j, &v) in cols.iter().zip(values) {
                            triplets.push((i, j, 0.5 * v));
                        }
                    }
                }
                (
                    Matrix::Sparse(Csr::from_triplets(a.rows(), a.cols(), triplets)),
                    true,
                )
            }
        }
    }

    /// Row-major dense copy.
    pub fn to_dense(&self) -> Vec<f64> {
        match self {
            Matrix::Dense { data, .. } => data.clone(),
            Matrix::Diagonal(d) => {
                let n = d.len();
                let mut dense = vec![0.0; n * n];
                for (i, v) in d.iter().enumerate() {
                    dense[i * n + i] = *v;
                }
                dense
            }
            Matrix::Sparse(a) => a.to_dense(),
        }
    }
}

/// `Σ a_k b_k` in four interleaved sums (the order is fixed: results do
/// not depend on the thread count).
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = [0.0; 4];
    let chunks = a.len() / 4 * 4;
    for k in (0..chunks).step_by(4) {
        for l in 0..4 {
            s[l] += a[k + l] * b[k + l];
        }
    }
    let mut tail = 0.0;
    for k in chunks..a.len() {
        tail += a[k] * b[k];
    }
    (s[0] + s[1]) + (s[2] + s[3]) + tail
}
