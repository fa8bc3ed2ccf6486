//! Large objectives and runs: separable sums, quadratics, least squares,
//! Matrix Market files, the in-place and vector runners against the generic
//! driver, and the faer Newton solve against the former nalgebra one.

use downhill::driver::{run, DivergenceReason, Options, RunError, Stall, Status};
use downhill::formula::Formula;
use downhill::large::DualNum;
use downhill::large::{
    epoch_line, parse_matrix, parse_vector, read_matrix, run_separable, run_vector, summary, Coef,
    Csr, FormulaTerm, LargeRecord, LeastSquares, Matrix, Quadratic, Separable, Update, HEAD,
};
use downhill::method::{
    GradientDescent, HessianRepair, Method, Newton, Precond, State, StepFailure,
};
use downhill::objective::{Objective, Problem};
use downhill::trace::TracePolicy;
use nalgebra::{DMatrix, DVector};

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * (1.0 + a.abs().max(b.abs()))
}

fn assert_all_close(a: &[f64], b: &[f64], rel: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(close(*x, *y, rel), "{what}[{i}]: {x} vs {y}");
    }
}

/// A deterministic point with coordinates in [-1.5, 1.5].
fn point(n: usize, seed: u64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let z = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed;
            3.0 * ((z >> 11) as f64 / (1u64 << 53) as f64) - 1.5
        })
        .collect()
}

/// `Σ aᵢ xᵢ² + sin(bᵢ xᵢ)` written out as one formula in x1..xn.
fn formula_of(a: &[f64], b: &[f64]) -> Formula {
    let terms: Vec<String> = a
        .iter()
        .zip(b)
        .enumerate()
        .map(|(i, (a, b))| format!("{a:?}*x{0}^2 + sin({b:?}*x{0})", i + 1))
        .collect();
    let names: Vec<String> = (1..=a.len()).map(|i| format!("x{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    Formula::parse_with_vars(&terms.join(" + "), &refs).unwrap()
}

fn check_against_formula(f: &dyn Objective, reference: &Formula, x: &[f64]) {
    let n = x.len();
    let (mut g, mut gr) = (vec![0.0; n], vec![0.0; n]);
    let (mut h, mut hr) = (vec![0.0; n * n], vec![0.0; n * n]);
    let v = f.value_gradient_hessian(x, &mut g, &mut h);
    let vr = reference.value_gradient_hessian(x, &mut gr, &mut hr);
    assert!(close(v, vr, 1e-13), "value {v} vs {vr}");
    assert!(close(f.value(x), vr, 1e-13));
    assert_all_close(&g, &gr, 1e-13, "gradient");
    assert_all_close(&h, &hr, 1e-13, "Hessian");
    let mut g2 = vec![0.0; n];
    assert!(close(f.value_gradient(x, &mut g2), vr, 1e-13));
    assert_all_close(&g2, &gr, 1e-13, "gradient (value_gradient)");
    let mut d = vec![0.0; n];
    assert_eq!(f.hessian_diagonal(x, &mut d), Some(()));
    let diag: Vec<f64> = (0..n).map(|i| hr[i * n + i]).collect();
    assert_all_close(&d, &diag, 1e-13, "Hessian diagonal");
}

#[test]
fn separable_matches_the_equivalent_formula() {
    for n in [1, 5, 8, 13] {
        let a: Vec<f64> = (0..n).map(|i| Coef::linspace(1.0, 2.0).at(i, n)).collect();
        let b: Vec<f64> = (0..n).map(|i| 0.5 + 0.25 * i as f64).collect();
        let reference = formula_of(&a, &b);
        let x = point(n, 7);
        // A Rust closure over dual numbers...
        let closure = Separable::new(
            n,
            [Coef::linspace(1.0, 2.0), Coef::values(b.clone())],
            |x, [a, b]| x * x * a + (x * b).sin(),
        )
        .unwrap();
        check_against_formula(&closure, &reference, &x);
        // ...and the same term typed as a formula.
        let term = FormulaTerm::parse("a*x^2 + sin(b*x)", &["a", "b"]).unwrap();
        let typed = Separable::with_term(
            n,
            vec![Coef::linspace(1.0, 2.0), Coef::values(b.clone())],
            vec!["a".into(), "b".into()],
            term,
        )
        .unwrap();
        check_against_formula(&typed, &reference, &x);
    }
}

#[test]
fn separable_sums_do_not_depend_on_the_threads() {
    // Above PARALLEL_MIN_DIM the blocks run on a team of threads, unless
    // the team is busy: then on the calling thread. The order of every sum
    // is fixed by n alone, so concurrent calls (some on the team, some
    // alone) all give the same bits.
    let n = 100_003;
    let f = Separable::new(n, [uniform()], |x, [a]| x * x * a + x.cos()).unwrap();
    let x = point(n, 3);
    let mut g = vec![0.0; n];
    let reference = f.value_gradient(&x, &mut g);
    let results: Vec<(u64, Vec<f64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut g = vec![0.0; n];
                    let v = f.value_gradient(&x, &mut g);
                    (v.to_bits(), g)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (bits, grad) in results {
        assert_eq!(bits, reference.to_bits());
        assert_eq!(grad, g);
    }
    assert_eq!(f.value(&x).to_bits(), reference.to_bits());
    let naive: f64 = (0..n)
        .map(|i| {
            let a = uniform().at(i, n);
            a * x[i] * x[i] + x[i].cos()
        })
        .sum();
    assert!(close(reference, naive, 1e-12));
}

fn uniform() -> Coef {
    Coef::Uniform {
        low: 1.0,
        high: 10.0,
        seed: 42,
    }
}

#[test]
fn separable_rejects_mismatched_coefficients() {
    let err = Separable::new(10, [Coef::values(vec![1.0; 9])], |x, [a]| x * a).unwrap_err();
    assert!(
        err.contains("9 values") && err.contains("10 variables"),
        "{err}"
    );
    let term = FormulaTerm::parse("a*x", &["a"]).unwrap();
    let err = Separable::with_term(10, vec![], vec![], term).unwrap_err();
    assert!(err.contains("reads 1 coefficient"), "{err}");
}

/// A symmetric positive definite tridiagonal matrix, as triplets.
fn tridiagonal(n: usize) -> Vec<(usize, usize, f64)> {
    let mut t = Vec::new();
    for i in 0..n {
        t.push((i, i, 4.0 + i as f64 * 0.1));
        if i + 1 < n {
            t.push((i, i + 1, -1.0));
            t.push((i + 1, i, -1.0));
        }
    }
    t
}

#[test]
fn quadratic_dense_diagonal_and_sparse_agree() {
    let n = 37;
    let csr = Csr::from_triplets(n, n, tridiagonal(n));
    let dense = csr.to_dense();
    let b = point(n, 11);
    let sparse = Quadratic::sparse(csr, Some(b.clone())).unwrap();
    let full = Quadratic::dense(n, dense.clone(), Some(b.clone())).unwrap();
    let x = point(n, 5);
    let (mut gs, mut gd) = (vec![0.0; n], vec![0.0; n]);
    let (mut hs, mut hd) = (vec![0.0; n * n], vec![0.0; n * n]);
    let fs = sparse.value_gradient_hessian(&x, &mut gs, &mut hs);
    let fd = full.value_gradient_hessian(&x, &mut gd, &mut hd);
    assert!(close(fs, fd, 1e-14));
    assert!(close(sparse.value(&x), fd, 1e-14));
    assert_all_close(&gs, &gd, 1e-14, "gradient");
    assert_eq!(hs, dense);
    assert_eq!(hd, dense);
    // f = ½xᵀAx − bᵀx by hand.
    let ax: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| dense[i * n + j] * x[j]).sum())
        .collect();
    let by_hand: f64 = (0..n).map(|i| 0.5 * x[i] * ax[i] - b[i] * x[i]).sum();
    assert!(close(fs, by_hand, 1e-13));
    // Diagonal: the same matrix three ways.
    let d: Vec<f64> = (0..n).map(|i| 1.0 + i as f64).collect();
    let diag = Quadratic::diagonal(d.clone(), Some(b.clone())).unwrap();
    let diag_sparse = Quadratic::sparse(
        Csr::from_triplets(n, n, (0..n).map(|i| (i, i, d[i])).collect()),
        Some(b.clone()),
    )
    .unwrap();
    let mut diag_dense = vec![0.0; n * n];
    for i in 0..n {
        diag_dense[i * n + i] = d[i];
    }
    let diag_full = Quadratic::dense(n, diag_dense, Some(b)).unwrap();
    let mut results = Vec::new();
    for q in [&diag, &diag_sparse, &diag_full] {
        let mut g = vec![0.0; n];
        let mut h = vec![0.0; n];
        let f = q.value_gradient(&x, &mut g);
        q.hessian_diagonal(&x, &mut h).unwrap();
        results.push((f, g, h));
    }
    for r in &results[1..] {
        assert!(close(r.0, results[0].0, 1e-14));
        assert_all_close(&r.1, &results[0].1, 1e-14, "gradient");
        assert_eq!(r.2, d);
    }
}

#[test]
fn a_non_symmetric_quadratic_is_symmetrized_keeping_f() {
    // A = [[2, 1], [3, 4]]: f = ½xᵀAx is the same with (A + Aᵀ)/2 = [[2, 2], [2, 4]].
    let q = Quadratic::dense(2, vec![2.0, 1.0, 3.0, 4.0], None).unwrap();
    assert!(q.was_symmetrized());
    let x = [1.0, -2.0];
    let mut g = [0.0; 2];
    let f = q.value_gradient(&x, &mut g);
    assert_eq!(f, 0.5 * (2.0 * 1.0 + (1.0 + 3.0) * -2.0 + 4.0 * 4.0));
    assert_eq!(g, [2.0 - 4.0, 2.0 - 8.0]);
    let sparse = Quadratic::sparse(
        Csr::from_triplets(
            2,
            2,
            vec![(0, 0, 2.0), (0, 1, 1.0), (1, 0, 3.0), (1, 1, 4.0)],
        ),
        None,
    )
    .unwrap();
    let mut gs = [0.0; 2];
    assert_eq!(sparse.value_gradient(&x, &mut gs), f);
    assert_eq!(gs, g);
}

#[test]
fn matrix_market_general_symmetric_comments_and_arrays() {
    let general = "%%MatrixMarket matrix coordinate real general\n% a comment\n\n3 3 4\n1 1 2.0\n% another\n3 2 -1.5\n2 3 4\n1 1 1.0\n";
    let m = parse_matrix(general.as_bytes(), None).unwrap();
    assert_eq!((m.rows(), m.cols()), (3, 3));
    assert_eq!(m.get(0, 0), 3.0, "duplicates are added");
    assert_eq!(m.get(2, 1), -1.5);
    assert_eq!(m.get(1, 2), 4.0);
    assert_eq!(m.get(1, 1), 0.0);
    assert!(matches!(m, Matrix::Sparse(_)));

    let symmetric = "%%MatrixMarket matrix coordinate real symmetric\n2 2 2\n1 1 1\n2 1 5\n";
    let m = parse_matrix(symmetric.as_bytes(), None).unwrap();
    assert_eq!((m.get(0, 1), m.get(1, 0)), (5.0, 5.0));

    let skew = "%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n2 1 5\n";
    let m = parse_matrix(skew.as_bytes(), None).unwrap();
    assert_eq!((m.get(0, 1), m.get(1, 0)), (-5.0, 5.0));

    let diagonal = "%%MatrixMarket matrix coordinate integer general\n3 3 2\n1 1 7\n3 3 9\n";
    assert_eq!(
        parse_matrix(diagonal.as_bytes(), None).unwrap(),
        Matrix::Diagonal(vec![7.0, 0.0, 9.0])
    );

    let pattern = "%%MatrixMarket matrix coordinate pattern general\n2 3 2\n1 3\n2 1\n";
    let m = parse_matrix(pattern.as_bytes(), None).unwrap();
    assert_eq!((m.get(0, 2), m.get(1, 0), m.get(0, 0)), (1.0, 1.0, 0.0));

    // Arrays are column-major; symmetric arrays list the lower triangle.
    let array = "%%MatrixMarket matrix array real general\n2 3\n1\n2\n3\n4\n5 6\n";
    let m = parse_matrix(array.as_bytes(), None).unwrap();
    assert_eq!(
        m,
        Matrix::Dense {
            rows: 2,
            cols: 3,
            data: vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]
        }
    );
    let array_sym = "%%MatrixMarket matrix array real symmetric\n2 2\n1\n2\n3\n";
    assert_eq!(
        parse_matrix(array_sym.as_bytes(), None).unwrap(),
        Matrix::Dense {
            rows: 2,
            cols: 2,
            data: vec![1.0, 2.0, 2.0, 3.0]
        }
    );
}

fn mm_error(text: &str) -> String {
    parse_matrix(text.as_bytes(), Some(std::path::Path::new("A.mtx")))
        .unwrap_err()
        .to_string()
}

/// Sizes in a corrupt header are errors at the size line or the end of the
/// data, never an allocation of what the header claims (an abort).
#[test]
fn matrix_market_sizes_beyond_memory_are_errors() {
    assert_eq!(
        mm_error("%%MatrixMarket matrix coordinate real general\n3 3 99999999999\n1 1 1\n"),
        "A.mtx: the file ends after 1 of 99999999999 entries"
    );
    assert_eq!(
        mm_error("%%MatrixMarket matrix array real general\n100000000 100000000\n1\n"),
        "A.mtx:2: a dense 100000000 x 100000000 matrix needs 80000000.0 GB, more than can be allocated"
    );
    let overflowing = format!(
        "%%MatrixMarket matrix array real general\n{0} {0}\n1\n",
        usize::MAX
    );
    assert!(mm_error(&overflowing).ends_with("more than can be allocated"));
    assert_eq!(
        mm_error("%%MatrixMarket matrix coordinate real general\n100000000000000 3 1\n1 1 1\n"),
        "A.mtx:2: the row index of a sparse 100000000000000 x 3 matrix needs 800000.0 GB, more than can be allocated"
    );
}

#[test]
fn matrix_market_errors_name_the_file_and_line() {
    assert_eq!(
        mm_error("%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n"),
        "A.mtx:1: complex matrices are not supported (real only)"
    );
    assert!(mm_error("%%MatrixMarket vector coordinate real general\n")
        .starts_with("A.mtx:1: not a Matrix Market header"));
    assert!(mm_error("hello\n").starts_with("A.mtx:1: not a Matrix Market header"));
    assert!(mm_error("%%MatrixMarket matrix sparse real general\n")
        .starts_with("A.mtx:1: unknown Matrix Market format 'sparse'"));
    assert!(
        mm_error("%%MatrixMarket matrix coordinate real hermitian\n")
            .starts_with("A.mtx:1: unsupported Matrix Market symmetry 'hermitian'")
    );
    assert_eq!(mm_error(""), "A.mtx: the file is empty");
    assert_eq!(
        mm_error("%%MatrixMarket matrix coordinate real general\n% only comments\n"),
        "A.mtx: the size line is missing"
    );
    assert_eq!(
        mm_error("%%MatrixMarket matrix coordinate real general\n2 2\n"),
        "A.mtx:2: the size line needs 3 numbers (rows, columns, entries), got '2 2'"
    );
    // Line numbers count comments and blank lines.
    assert_eq!(
        mm_error("%%MatrixMarket matrix coordinate real general\n% c\n2 2 2\n1 1 1\n\n2 x 1\n"),
        "A.mtx:6: the column index 'x' is not a positive whole number"
    );
    assert_eq!(
        mm_error("%%MatrixMarket matrix coordinate real general\n2 2 1\n3 1 1\n"),
        "A.mtx:3: the row index 3 is out of range 1..=2"
    );
    assert_eq!(
        mm_error("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1\n"),
        "A.mtx:3: expected 3 numbers (row, column, value), got '1 1'"
    );
    assert_eq!(
        mm_error("%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n"),
        "A.mtx: the file ends after 1 of 2 entries"
    );
    assert_eq!(
        mm_error("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1\n2 2 2\n"),
        "A.mtx:4: more entries than the 1 announced: '2 2 2'"
    );
    assert_eq!(
        mm_error("%%MatrixMarket matrix coordinate real symmetric\n2 2 1\n1 2 1\n"),
        "A.mtx:3: a symmetric file lists the lower triangle only, but (1, 2) is above the diagonal"
    );
    assert_eq!(
        mm_error("%%MatrixMarket matrix coordinate real general\n1 1 1\n1 1 nan\n"),
        "A.mtx:3: the value 'nan' is not finite"
    );
    assert_eq!(
        mm_error("%%MatrixMarket matrix array real general\n2 1\n1\n"),
        "A.mtx: the file ends after 1 of 2 values"
    );
    let missing = read_matrix(std::path::Path::new("/no/such/A.mtx")).unwrap_err();
    assert_eq!(
        missing.to_string(),
        "/no/such/A.mtx: cannot open: no such file"
    );
}

#[test]
fn vectors_read_plain_or_matrix_market() {
    let plain = "# b\n1\n\n-2.5\n% also a comment\n3e2\n";
    assert_eq!(
        parse_vector(plain.as_bytes(), None).unwrap(),
        vec![1.0, -2.5, 300.0]
    );
    let mm = "%%MatrixMarket matrix array real general\n3 1\n1\n2\n3\n";
    assert_eq!(
        parse_vector(mm.as_bytes(), None).unwrap(),
        vec![1.0, 2.0, 3.0]
    );
    let coordinate = "%%MatrixMarket matrix coordinate real general\n1 3 1\n1 2 5\n";
    assert_eq!(
        parse_vector(coordinate.as_bytes(), None).unwrap(),
        vec![0.0, 5.0, 0.0]
    );
    let path = Some(std::path::Path::new("b.txt"));
    assert_eq!(
        parse_vector("1\n2 3\n".as_bytes(), path)
            .unwrap_err()
            .to_string(),
        "b.txt:2: expected one number per line, got '2 3...'"
    );
    assert_eq!(
        parse_vector("1\nx\n".as_bytes(), path)
            .unwrap_err()
            .to_string(),
        "b.txt:2: the value 'x' is not a number"
    );
    assert_eq!(
        parse_vector("".as_bytes(), path).unwrap_err().to_string(),
        "b.txt: the file has no numbers"
    );
    let matrix = "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n";
    assert_eq!(
        parse_vector(matrix.as_bytes(), path)
            .unwrap_err()
            .to_string(),
        "b.txt: expected a vector (n x 1 or 1 x n), got a 2 x 2 matrix"
    );
}

#[test]
fn files_with_mismatched_sizes_are_errors_naming_them() {
    let dir = std::env::temp_dir().join(format!("downhill-large-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = dir.join("A.mtx");
    let b = dir.join("b.txt");
    std::fs::write(
        &a,
        "%%MatrixMarket matrix coordinate real general\n3 2 2\n1 1 1\n3 2 2\n",
    )
    .unwrap();
    std::fs::write(&b, "1\n2\n").unwrap();
    let err = LeastSquares::from_files(&a, &b).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: b has 2 values but the matrix", b.display())),
        "{err}"
    );
    assert!(err.ends_with("has 3 rows"), "{err}");
    let err = Quadratic::from_files(&a, None).unwrap_err().to_string();
    assert!(err.contains("must be square, got 3 x 2"), "{err}");
    std::fs::write(&b, "1\n2\n3\n").unwrap();
    assert_eq!(LeastSquares::from_files(&a, &b).unwrap().dim(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn finite_difference_gradient(f: &dyn Objective, x: &[f64]) -> Vec<f64> {
    let mut y = x.to_vec();
    (0..x.len())
        .map(|i| {
            let h = 1e-6 * (1.0 + x[i].abs());
            y[i] = x[i] + h;
            let up = f.value(&y);
            y[i] = x[i] - h;
            let down = f.value(&y);
            y[i] = x[i];
            (up - down) / (2.0 * h)
        })
        .collect()
}

#[test]
fn least_squares_gradient_and_hessian_match_finite_differences() {
    let (m, n) = (9, 6);
    let mut triplets = Vec::new();
    for i in 0..m {
        for j in 0..n {
            if (i + 2 * j) % 3 != 0 {
                triplets.push((i, j, 0.5 + ((i * 7 + j * 3) % 5) as f64 - 2.0));
            }
        }
    }
    let csr = Csr::from_triplets(m, n, triplets);
    let b = point(m, 21);
    let dense = Matrix::Dense {
        rows: m,
        cols: n,
        data: csr.to_dense(),
    };
    let sparse = LeastSquares::new(Matrix::Sparse(csr), b.clone()).unwrap();
    let full = LeastSquares::new(dense, b.clone()).unwrap();
    let x = point(n, 4);
    for ls in [&sparse, &full] {
        let mut g = vec![0.0; n];
        let mut h = vec![0.0; n * n];
        let f = ls.value_gradient_hessian(&x, &mut g, &mut h);
        let r: Vec<f64> = (0..m)
            .map(|i| (0..n).map(|j| ls.matrix().get(i, j) * x[j]).sum::<f64>() - b[i])
            .collect();
        assert!(close(f, r.iter().map(|v| v * v).sum(), 1e-13));
        assert_all_close(
            &g,
            &finite_difference_gradient(ls, &x),
            1e-7,
            "gradient vs FD",
        );
        // Each Hessian column by central differences of the gradient.
        for j in 0..n {
            let (mut up, mut down) = (x.clone(), x.clone());
            up[j] += 1e-5;
            down[j] -= 1e-5;
            let (mut gu, mut gd) = (vec![0.0; n], vec![0.0; n]);
            ls.value_gradient(&up, &mut gu);
            ls.value_gradient(&down, &mut gd);
            for i in 0..n {
                assert!(close(h[i * n + j], (gu[i] - gd[i]) / 2e-5, 1e-7));
            }
        }
        let mut d = vec![0.0; n];
        ls.hessian_diagonal(&x, &mut d).unwrap();
        assert_all_close(
            &d,
            &(0..n).map(|i| h[i * n + i]).collect::<Vec<_>>(),
            1e-14,
            "diag",
        );
    }
}

fn book_options(steps: usize) -> Options {
    Options {
        trace: TracePolicy::Ends,
        ..Options::book(steps)
    }
}

#[test]
fn gradient_descent_in_place_equals_the_driver_bit_for_bit() {
    let n = 40_001;
    let f = Separable::new(n, [Coef::linspace(0.5, 3.0)], |x, [a]| {
        x * x * a + (x * 0.5).cosh()
    })
    .unwrap();
    let x0 = point(n, 9);
    let driver = run(&f, &mut GradientDescent::new(0.1), &x0, &book_options(30)).unwrap();
    let mut seen = Vec::new();
    let large = run_separable(
        &f,
        Update::gradient(0.1),
        x0.clone(),
        &book_options(30),
        &mut |r, x| seen.push((r.iteration, x[0])),
    )
    .unwrap();
    assert_eq!(large.status, driver.status);
    assert_eq!(large.iterations, 30);
    assert_eq!(large.x, driver.x, "same iterates bit for bit");
    assert_eq!(large.f.to_bits(), driver.f.to_bits());
    assert!(close(large.grad_norm, driver.grad_norm, 1e-12));
    assert_eq!(large.evaluations, driver.evaluations);
    assert_eq!(seen.len(), 31);
    assert_eq!(seen[30], (30, driver.x[0]));
    // The history: the start, then every iteration (fewer than the cap).
    assert_eq!(large.history.len(), 31);
    assert_eq!(large.history[0].iteration, 0);
    assert_eq!(large.last().head(), &driver.x[..HEAD]);
    // The vector runner agrees too.
    let vector = run_vector(
        &f,
        Update::gradient(0.1),
        x0,
        &book_options(30),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(vector.x, driver.x);
    assert_eq!(vector.f.to_bits(), driver.f.to_bits());
}

#[test]
fn preconditioning_in_place_equals_the_driver() {
    // The driver needs the n × n Hessian, so a small n.
    let n = 41;
    for absolute in [false, true] {
        let f = Separable::new(n, [Coef::linspace(-1.0, 2.0)], |x, [a]| {
            x * x * x * x * 0.25 + x * x * a * 0.5
        })
        .unwrap();
        let x0 = point(n, 2);
        let options = book_options(15);
        let driver = run(&f, &mut Precond::new(0.5, absolute), &x0, &options).unwrap();
        let large = run_separable(
            &f,
            Update::diagonal(0.5, absolute),
            x0.clone(),
            &options,
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(large.status, driver.status, "absolute = {absolute}");
        assert_eq!(large.iterations, driver.iterations);
        assert_eq!(large.x, driver.x, "absolute = {absolute}");
        assert_eq!(large.evaluations, driver.evaluations);
        let vector = run_vector(
            &f,
            Update::diagonal(0.5, absolute),
            x0,
            &options,
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(vector.x, driver.x);
        assert_eq!(vector.status, driver.status);
    }
}

/// Both runners against the driver on one setup: status, iterations, x, f.
fn same_outcome(
    f: &Separable<impl downhill::large::Term>,
    method: &mut dyn Method,
    update: Update,
    x0: &[f64],
    options: &Options,
) -> Status {
    let driver = run(f, method, x0, options).unwrap();
    let large = run_separable(f, update, x0.to_vec(), options, &mut |_, _| {}).unwrap();
    let vector = run_vector(f, update, x0.to_vec(), options, &mut |_, _| {}).unwrap();
    for (name, other) in [("in place", &large), ("vector", &vector)] {
        assert_eq!(other.status, driver.status, "{name}");
        assert_eq!(other.iterations, driver.iterations, "{name}");
        assert_eq!(other.x, driver.x, "{name}: the last good iterate");
        assert_eq!(other.f.to_bits(), driver.f.to_bits(), "{name}");
        assert_eq!(other.evaluations, driver.evaluations, "{name}");
    }
    driver.status
}

#[test]
fn stopping_and_divergence_follow_the_driver() {
    let n = 50;
    let quadratic = Separable::new(n, [Coef::linspace(1.0, 2.0)], |x, [a]| x * x * a).unwrap();
    let x0 = point(n, 1);
    // Converged (gradient tolerance).
    let options = Options {
        trace: TracePolicy::Ends,
        ..Options::default()
    };
    let status = same_outcome(
        &quadratic,
        &mut GradientDescent::new(0.2),
        Update::gradient(0.2),
        &x0,
        &options,
    );
    assert_eq!(status, Status::Converged);
    // Stalled (x and f tolerances).
    let robust = Options {
        trace: TracePolicy::Ends,
        grad_tol: 0.0,
        x_tol: 1e-6,
        ..Options::robust()
    };
    let status = same_outcome(
        &quadratic,
        &mut GradientDescent::new(0.01),
        Update::gradient(0.01),
        &x0,
        &robust,
    );
    assert_eq!(status, Status::Stalled(Stall::Step));
    let robust = Options {
        trace: TracePolicy::Ends,
        grad_tol: 0.0,
        f_tol: 1e-4,
        ..Options::default()
    };
    let status = same_outcome(
        &quadratic,
        &mut GradientDescent::new(0.01),
        Update::gradient(0.01),
        &x0,
        &robust,
    );
    assert_eq!(status, Status::Stalled(Stall::Value));
    // Out of bounds: eta too large, x grows by |1 - 2·eta·a| per step.
    let status = same_outcome(
        &quadratic,
        &mut GradientDescent::new(3.0),
        Update::gradient(3.0),
        &x0,
        &book_options(100),
    );
    assert!(matches!(
        status,
        Status::Diverged {
            reason: DivergenceReason::OutOfBounds { .. },
            ..
        }
    ));
    // A non-finite iterate: eta·g overflows.
    let status = same_outcome(
        &quadratic,
        &mut GradientDescent::new(1e308),
        Update::gradient(1e308),
        &vec![10.0; n],
        &book_options(5),
    );
    assert_eq!(
        status,
        Status::Diverged {
            iteration: 1,
            reason: DivergenceReason::NonFiniteIterate
        }
    );
    // f overflows at a finite, bounded x: f = -Σ exp(x) pushes x up until exp(x) = inf.
    let exp = Separable::new(n, [Coef::Constant(1.0)], |x, [a]| -(x * a).exp()).unwrap();
    let status = same_outcome(
        &exp,
        &mut GradientDescent::new(300.0),
        Update::gradient(300.0),
        &vec![1.0; n],
        &book_options(100),
    );
    assert!(
        matches!(
            status,
            Status::Diverged {
                reason: DivergenceReason::NonFiniteValue,
                ..
            }
        ),
        "{status:?}"
    );
    // Preconditioning on a zero curvature: the method fails, as Precond does.
    let quartic = Separable::new(n, [Coef::Constant(1.0)], |x, [a]| x * x * x * x * a).unwrap();
    let mut start = vec![1.0; n];
    start[7] = 0.0;
    let status = same_outcome(
        &quartic,
        &mut Precond::new(1.0, false),
        Update::diagonal(1.0, false),
        &start,
        &book_options(5),
    );
    assert_eq!(
        status,
        Status::MethodFailed {
            iteration: 1,
            reason: StepFailure::SingularHessian.to_string()
        }
    );
    // ... which the absolute variant's floor avoids.
    let status = same_outcome(
        &quartic,
        &mut Precond::new(1.0, true),
        Update::diagonal(1.0, true),
        &start,
        &book_options(5),
    );
    assert_eq!(status, Status::IterationLimit);
}

/// The one-pass runner checks each candidate by sums (`f`, `‖∇f‖²`,
/// `‖x‖²` there) and rescans when one is not finite: a sum of squares that
/// overflowed is no divergence, a gradient that is not finite where `f` is
/// one. Both as the driver decides, on one thread and on several.
#[test]
fn look_ahead_rescans_tell_overflow_from_divergence() {
    for n in [50, downhill::large::PARALLEL_MIN_DIM + 3] {
        // ‖x‖² and ‖∇f‖² overflow, nothing else does: x_i = 1e154 with
        // a_i = 0, except x_7 = 1e150 with a_7 = 1e6 (g' = 2e156).
        let mut a = vec![0.0; n];
        a[7] = 1e6;
        let mut x0 = vec![1e154; n];
        x0[7] = 1e150;
        let quadratic = Separable::new(n, [Coef::values(a)], |x, [a]| x * x * a).unwrap();
        let status = same_outcome(
            &quadratic,
            &mut GradientDescent::new(1e-7),
            Update::gradient(1e-7),
            &x0,
            &book_options(5),
        );
        assert_eq!(status, Status::IterationLimit, "n = {n}");
        // x² + 0·√x: from 1, η = 0.5 lands on 0 exactly, where f = 0 and
        // the gradient is 0·∞ = NaN.
        let kink = Separable::new(n, [Coef::Constant(0.0)], |x, [a]| x * x + x.sqrt() * a).unwrap();
        let status = same_outcome(
            &kink,
            &mut GradientDescent::new(0.5),
            Update::gradient(0.5),
            &vec![1.0; n],
            &book_options(5),
        );
        assert_eq!(
            status,
            Status::Diverged {
                iteration: 1,
                reason: DivergenceReason::NonFiniteValue
            },
            "n = {n}"
        );
    }
}

#[test]
fn bad_starts_are_errors() {
    let f = Separable::new(10, [Coef::Constant(1.0)], |x, [a]| x.ln() * a).unwrap();
    let options = book_options(3);
    let err = run_separable(
        &f,
        Update::gradient(0.1),
        vec![1.0; 9],
        &options,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert_eq!(
        err,
        RunError::DimensionMismatch {
            expected: 10,
            given: 9
        }
    );
    let err = run_separable(
        &f,
        Update::gradient(0.1),
        vec![-1.0; 10],
        &options,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(
        matches!(&err, RunError::NotFiniteAtStart { what: "value", detail } if detail == "f = nan"),
        "{err:?}"
    );
    let err = run_separable(
        &f,
        Update::gradient(0.0),
        vec![1.0; 10],
        &options,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(err, RunError::InvalidOption(_)));
    let mut x = vec![1.0; 10];
    x[3] = f64::NAN;
    let err = run_vector(&f, Update::gradient(0.1), x, &options, &mut |_, _| {}).unwrap_err();
    assert_eq!(err, RunError::NonFiniteStart);
    // Preconditioning needs the Hessian diagonal.
    let plain = Formula::parse("x1^2 + x2^2").unwrap();
    let err = run_vector(
        &plain,
        Update::diagonal(1.0, true),
        vec![1.0; 2],
        &options,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(err, RunError::InvalidOption(m) if m.contains("Hessian diagonal")));
}

/// The start checks come from the start probe (one pass over `x`): the
/// driver's errors in the driver's order, at a dimension the threads share.
#[test]
fn start_checks_keep_the_driver_order_in_parallel_passes() {
    let n = 3 * downhill::large::PARALLEL_MIN_DIM + 5;
    let f = Separable::new(n, [Coef::linspace(1.0, 2.0)], |x, [a]| x * x * a).unwrap();
    let options = book_options(3);
    let bad_options = Options {
        x_tol: -1.0,
        ..book_options(3)
    };
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        for at in [0, n / 2 + 3, n - 1] {
            let mut x = point(n, 4);
            x[at] = bad;
            for update in [Update::gradient(0.1), Update::diagonal(0.5, true)] {
                // A non-finite start comes before invalid options or step sizes.
                for (opts, upd) in [
                    (&options, update),
                    (&bad_options, update),
                    (&options, Update::gradient(-1.0)),
                ] {
                    let err = run_separable(&f, upd, x.clone(), opts, &mut |_, _| {}).unwrap_err();
                    assert_eq!(err, RunError::NonFiniteStart, "{bad} at {at}");
                    let err = run_vector(&f, upd, x.clone(), opts, &mut |_, _| {}).unwrap_err();
                    assert_eq!(err, RunError::NonFiniteStart, "{bad} at {at}");
                }
            }
        }
    }
    let x = point(n, 4);
    let err = run_separable(
        &f,
        Update::gradient(0.1),
        x.clone(),
        &bad_options,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(err, RunError::InvalidOption(m) if m.contains("x tolerance")));
    let err = run_separable(&f, Update::gradient(-1.0), x, &options, &mut |_, _| {}).unwrap_err();
    assert!(matches!(err, RunError::InvalidOption(m) if m.contains("eta")));
}

/// The divergence bound `1e10 · max(1, ‖x0‖∞)` (or `max_abs_x`) is taken from
/// the start probe's maximum: the same bound as the driver's, wherever the
/// largest coordinate is.
#[test]
fn divergence_bounds_equal_the_driver_in_parallel_passes() {
    let n = 2 * downhill::large::PARALLEL_MIN_DIM + 17;
    let f = Separable::new(n, [Coef::linspace(1.0, 2.0)], |x, [a]| x * x * a).unwrap();
    for (at, largest) in [(0, -3.25), (n / 3 + 1, 7.5), (n - 1, -123.0), (5, 0.5)] {
        let mut x0 = point(n, 6);
        for v in x0.iter_mut() {
            *v *= 0.25;
        }
        x0[at] = largest;
        for max_abs_x in [None, Some(1e3)] {
            let options = Options {
                max_abs_x,
                ..book_options(60)
            };
            let status = same_outcome(
                &f,
                &mut GradientDescent::new(3.0),
                Update::gradient(3.0),
                &x0,
                &options,
            );
            let expected = max_abs_x.unwrap_or(1e10 * largest.abs().max(1.0));
            assert!(
                matches!(
                    status,
                    Status::Diverged {
                        reason: DivergenceReason::OutOfBounds { bound, .. },
                        ..
                    } if bound == expected
                ),
                "{status:?}"
            );
        }
    }
}

#[test]
fn quadratic_runs_agree_with_the_driver() {
    let n = 60;
    let q = Quadratic::sparse(Csr::from_triplets(n, n, tridiagonal(n)), Some(point(n, 8))).unwrap();
    let x0 = vec![0.0; n];
    let options = Options {
        trace: TracePolicy::Ends,
        ..Options::default()
    };
    let driver = run(&q, &mut GradientDescent::new(0.15), &x0, &options).unwrap();
    let large = run_vector(
        &q,
        Update::gradient(0.15),
        x0.clone(),
        &options,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(large.status, Status::Converged);
    assert_eq!(large.x, driver.x);
    assert_eq!(large.iterations, driver.iterations);
    let driver = run(&q, &mut Precond::new(1.0, false), &x0, &options).unwrap();
    let large = run_vector(
        &q,
        Update::diagonal(1.0, false),
        x0,
        &options,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(large.x, driver.x);
    assert_eq!(large.status, driver.status);
    // The minimizer solves A x = b.
    let mut g = vec![0.0; n];
    q.value_gradient(&large.x, &mut g);
    assert!(g.iter().all(|v| v.abs() < 1e-7));
}

#[test]
fn epoch_lines_keep_the_book_format_for_small_dimensions() {
    let x = [1.0, -0.5];
    let record = LargeRecord::from_point(3, 1.25, 0.5, 0.1, &x);
    assert_eq!(
        epoch_line(&record, &x),
        "epoch 3, x1: 1.000000, x2: -0.500000"
    );
    let x1 = [0.25];
    let record = LargeRecord::from_point(1, 0.0, 0.0, 0.0, &x1);
    assert_eq!(epoch_line(&record, &x1), "epoch 1, x: 0.250000");
    let big = vec![0.5; 1_000];
    let record = LargeRecord::from_point(7, 0.0, 0.0, 0.0, &big);
    assert_eq!(
        epoch_line(&record, &big),
        "epoch 7, x1: 0.500000, x2: 0.500000, x3: 0.500000, ... (1000 variables), |x|: 15.8114"
    );
    let f = Separable::new(1_000, [Coef::Constant(1.0)], |x, [a]| x * x * a).unwrap();
    let options = book_options(2);
    let result = run_separable(&f, Update::gradient(0.25), big, &options, &mut |_, _| {}).unwrap();
    let text = summary(&result, &options);
    assert!(text.contains("final x      x1 = 0.125000, x2 = 0.125000, x3 = 0.125000, ... (1000 variables), |x| = 3.95285"), "{text}");
    assert!(
        text.contains("evaluations  f: 3, gradient: 3, Hessian: 0"),
        "{text}"
    );
    let json = result.to_json(false);
    assert_eq!(json["dim"], 1000);
    assert_eq!(json["x_head"].as_array().unwrap().len(), HEAD);
    assert!(json.get("x").is_none());
}

#[test]
fn histories_are_thinned_to_a_bounded_size() {
    let f = Separable::new(16, [Coef::Constant(1.0)], |x, [a]| x * x * a).unwrap();
    let steps = 5_000;
    let run = run_separable(
        &f,
        Update::gradient(1e-4),
        vec![1.0; 16],
        &book_options(steps),
        &mut |_, _| {},
    )
    .unwrap();
    assert!(run.history.len() <= downhill::large::HISTORY_CAP + 1);
    assert_eq!(run.history[0].iteration, 0);
    assert_eq!(run.last().iteration, steps);
    assert!(run
        .history
        .windows(2)
        .all(|w| w[0].iteration < w[1].iteration));
}

/// The Newton direction as the method computed it before faer: nalgebra's
/// Cholesky, LU, symmetric eigen and shifted Cholesky.
fn nalgebra_direction(
    hess: &[f64],
    grad: &[f64],
    repair: HessianRepair,
) -> Option<(Vec<f64>, bool)> {
    let n = grad.len();
    let h = DMatrix::from_row_slice(n, n, hess);
    let g = DVector::from_column_slice(grad);
    let (p, repaired) = match repair {
        HessianRepair::Exact => match h.clone().cholesky() {
            Some(chol) => (chol.solve(&g), false),
            None => (h.lu().solve(&g)?, false),
        },
        HessianRepair::Abs => {
            let eigen = h.symmetric_eigen();
            let largest = eigen
                .eigenvalues
                .iter()
                .fold(1.0_f64, |m, l| m.max(l.abs()));
            let floor = 1e-8 * largest;
            let mut changed = false;
            let inverse = eigen.eigenvalues.map(|l| {
                let r = l.abs().max(floor);
                changed |= r != l;
                1.0 / r
            });
            let q = &eigen.eigenvectors;
            (
                q * DMatrix::from_diagonal(&inverse) * q.transpose() * g,
                changed,
            )
        }
        HessianRepair::Shift => {
            let norm = h.norm();
            let beta = if norm > 0.0 { 1e-3 * norm } else { 1e-3 };
            let min_diagonal = h.diagonal().min();
            let mut tau = if min_diagonal > 0.0 {
                0.0
            } else {
                -min_diagonal + beta
            };
            loop {
                if let Some(chol) = (&h + DMatrix::identity(n, n) * tau).cholesky() {
                    break (chol.solve(&g), tau > 0.0);
                }
                tau = (2.0 * tau).max(beta);
            }
        }
    };
    p.iter()
        .all(|v| v.is_finite())
        .then(|| (p.iter().map(|v| -v).collect(), repaired))
}

fn newton_direction(
    hess: &[f64],
    grad: &[f64],
    repair: HessianRepair,
) -> Result<(Vec<f64>, Option<&'static str>), StepFailure> {
    let n = grad.len();
    let objective = Quadratic::dense(n, hess.to_vec(), None).unwrap();
    let problem = Problem::new(&objective);
    let state = State {
        iteration: 0,
        x: vec![0.0; n],
        f: 0.0,
        grad: grad.to_vec(),
        hess: hess.to_vec(),
    };
    let mut newton = Newton::new(1.0).with_repair(repair);
    let mut x_next = vec![0.0; n];
    let info = newton.step(&problem, &state, &mut x_next)?;
    // A second step reuses the buffers and must give the same answer.
    let mut again = vec![0.0; n];
    newton.step(&problem, &state, &mut again)?;
    assert_eq!(x_next, again);
    Ok((x_next, info.note))
}

#[test]
fn newton_with_faer_equals_the_former_nalgebra_solve() {
    let n = 12;
    let m: Vec<f64> = point(n * n, 13);
    // Symmetric positive definite, indefinite, and not symmetric.
    let mut spd = vec![0.0; n * n];
    let mut indefinite = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let s: f64 = (0..n).map(|k| m[i * n + k] * m[j * n + k]).sum();
            spd[i * n + j] = s + if i == j { 0.5 } else { 0.0 };
            indefinite[i * n + j] = s - if i == j { 3.0 } else { 0.0 };
        }
    }
    let grad = point(n, 17);
    for (name, h) in [
        ("spd", &spd),
        ("indefinite", &indefinite),
        ("not symmetric", &m),
    ] {
        for repair in [
            HessianRepair::Exact,
            HessianRepair::Abs,
            HessianRepair::Shift,
        ] {
            if name == "not symmetric" && repair != HessianRepair::Exact {
                continue; // repairs assume a symmetric Hessian
            }
            let (ours, note) = newton_direction(h, &grad, repair).unwrap();
            let (theirs, repaired) = nalgebra_direction(h, &grad, repair).unwrap();
            assert_all_close(&ours, &theirs, 1e-9, &format!("{name}, {repair:?}"));
            assert_eq!(note.is_some(), repaired, "{name}, {repair:?}");
        }
    }
    // A singular Hessian is reported, as before.
    let err = newton_direction(&vec![0.0; n * n], &grad, HessianRepair::Exact).unwrap_err();
    assert_eq!(err, StepFailure::SingularHessian);
    assert!(nalgebra_direction(&vec![0.0; n * n], &grad, HessianRepair::Exact).is_none());
    let mut nan = spd.clone();
    nan[5] = f64::NAN;
    assert_eq!(
        newton_direction(&nan, &grad, HessianRepair::Exact).unwrap_err(),
        StepFailure::NonFiniteHessian
    );
}

#[test]
fn the_quadratic_newton_step_solves_a_x_equals_b() {
    // One Newton step from 0 on ½xᵀAx − bᵀx lands on A⁻¹b, at a size where
    // faer runs blocked (and, from PARALLEL_MIN_DIM on, threaded) code.
    for n in [300, 1100] {
        let csr = Csr::from_triplets(n, n, tridiagonal(n));
        let q = Quadratic::dense(n, csr.to_dense(), Some(point(n, 3))).unwrap();
        let result = run(&q, &mut Newton::new(1.0), &vec![0.0; n], &book_options(1)).unwrap();
        let mut g = vec![0.0; n];
        q.value_gradient(&result.x, &mut g);
        assert!(g.iter().all(|v| v.abs() < 1e-10), "n = {n}");
    }
}

#[test]
fn newton_through_the_driver_factors_in_place_with_the_copying_steps_numbers() {
    use downhill::method::IN_PLACE_MIN_DIM;
    // Above the size where the driver's Hessian buffer is factored in place:
    // positive definite (one Hessian per iterate) and indefinite (the LU
    // fallback evaluates it once more per step).
    let n = IN_PLACE_MIN_DIM + 16;
    for (name, shift, hessians_per_step) in [("positive definite", 0.0, 1), ("indefinite", -6.0, 2)]
    {
        let mut a = Csr::from_triplets(n, n, tridiagonal(n)).to_dense();
        for i in 0..n {
            a[i * n + i] += shift;
        }
        let q = Quadratic::dense(n, a, Some(point(n, 3))).unwrap();
        let x0 = point(n, 5);
        let steps = 2;
        let result = run(&q, &mut Newton::new(1.0), &x0, &book_options(steps)).unwrap();
        assert_eq!(result.iterations, steps, "{name}");
        assert_eq!(
            result.evaluations.hess,
            1 + steps * hessians_per_step,
            "{name}"
        );
        // The same steps through `Method::step`, which copies the Hessian.
        let problem = Problem::new(&q);
        let mut newton = Newton::new(1.0);
        let mut x = x0.clone();
        for _ in 0..steps {
            let mut state = State {
                iteration: 0,
                x: x.clone(),
                f: 0.0,
                grad: vec![0.0; n],
                hess: vec![0.0; n * n],
            };
            state.f = q.value_gradient_hessian(&state.x, &mut state.grad, &mut state.hess);
            newton.step(&problem, &state, &mut x).unwrap();
        }
        let bits = |v: &[f64]| v.iter().map(|d| d.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&result.x), bits(&x), "{name}");
        // A Newton step solves the quadratic: ∇f = 0 at the iterate.
        let mut g = vec![0.0; n];
        q.value_gradient(&result.x, &mut g);
        assert!(g.iter().all(|v| v.abs() < 1e-10), "{name}: {g:?}");
    }
}

/// A typed term's value and slope are the formula's own at every lane: its
/// machine code over the eight lanes where the build has machine code (then
/// `Formula::value_gradient`'s numbers), else its lane evaluator.
#[test]
fn formula_terms_evaluate_as_their_formula() {
    // 40 points per coefficient set, where the lane evaluator's `sin`,
    // `exp` and `ln` kernels (within 2 ulp) and the C library's differ in
    // the last bit at some of them: the bitwise test below tells the paths
    // apart.
    for chunk in 0..5 {
        let x: [f64; downhill::large::LANES] =
            std::array::from_fn(|l| -3.0 + 0.85 * l as f64 + 0.37 * chunk as f64);
        check_formula_terms(&x);
    }
}

fn check_formula_terms(x: &[f64; downhill::large::LANES]) {
    use downhill::large::{CoefLanes, Term, LANES, MAX_COEFS};
    let x = *x;
    let mut c: CoefLanes = [[0.0; LANES]; MAX_COEFS];
    for (k, lanes) in c.iter_mut().enumerate() {
        *lanes = std::array::from_fn(|l| 0.5 + 0.3 * k as f64 + 0.1 * l as f64);
    }
    // Machine code in this build and environment (not with
    // `DOWNHILL_NATIVE=0`); otherwise terms run the SIMD lane evaluator.
    let machine_code = Formula::parse("x^2").unwrap().is_native();
    for (source, names) in [
        ("a*x^2 + sin(b*x)", vec!["a", "b"]),
        ("a*(x-b)^2 + log(1+exp(c*x))", vec!["a", "b", "c"]),
        // Five variables: reverse mode in `value_gradient`.
        ("a*x^2 + b*x + c*cos(x) + d", vec!["a", "b", "c", "d"]),
    ] {
        let term = FormulaTerm::parse(source, &names).unwrap();
        let formula = term.formula();
        let m = names.len() + 1;
        let (value, slope) = term.value_slope(&x, &c);
        if machine_code {
            // Machine code over the lanes: the formula's value bit for bit,
            // and its slope, bit for bit where `value_gradient` runs forward
            // mode too (up to four variables).
            for l in 0..LANES {
                let mut point = vec![x[l]];
                point.extend((0..names.len()).map(|k| c[k][l]));
                let mut grad = vec![0.0; m];
                let v = formula.value_gradient(&point, &mut grad);
                assert_eq!(value[l].to_bits(), v.to_bits(), "{source}, lane {l}");
                if m <= 4 {
                    assert_eq!(slope[l].to_bits(), grad[0].to_bits(), "{source}, lane {l}");
                } else {
                    let ulp = f64::EPSILON * grad[0].abs();
                    assert!(
                        (slope[l] - grad[0]).abs() <= 4.0 * ulp,
                        "{source}, lane {l}"
                    );
                }
            }
        } else {
            let mut point = vec![x];
            point.extend_from_slice(&c[..names.len()]);
            let mut lanes_value = [0.0; LANES];
            let mut grad = vec![[0.0; LANES]; m];
            formula.value_gradient_lanes(&point, &mut lanes_value, &mut grad);
            assert_eq!(value, lanes_value, "{source}");
            assert_eq!(slope, grad[0], "{source}");
        }
        // The curvature (diagonal preconditioning) is the Hessian's first
        // entry, as numbers (machine code leaves out the interpreter's
        // structural `+0` terms, which can only change the sign of a zero);
        // with machine code, value and slope come with it unchanged (the
        // fallback takes them point by point, not from the lane evaluator).
        let full = term.eval(&x, &c);
        if machine_code {
            assert_eq!((full.value, full.slope), (value, slope), "{source}");
        }
        for l in 0..LANES {
            let mut point = vec![x[l]];
            point.extend((0..names.len()).map(|k| c[k][l]));
            let (mut grad, mut hess) = (vec![0.0; m], vec![0.0; m * m]);
            formula.value_gradient_hessian(&point, &mut grad, &mut hess);
            assert_eq!(full.curvature[l], hess[0], "{source}, lane {l}");
        }
        // Either way the slope is the derivative in x (a central difference).
        for l in 0..LANES {
            let at = |t: f64| {
                let mut shifted = x;
                shifted[l] = t;
                term.value_slope(&shifted, &c).0[l]
            };
            let h = 1e-6;
            let difference = (at(x[l] + h) - at(x[l] - h)) / (2.0 * h);
            assert!(
                (difference - slope[l]).abs() <= 1e-6 * (1.0 + slope[l].abs()),
                "{source}, lane {l}"
            );
        }
    }
}
