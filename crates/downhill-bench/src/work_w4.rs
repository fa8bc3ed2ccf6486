//! W4: one dense Newton step at d = 500 and d = 2000 on the quadratic
//! f(x) = ½ xᵀAx − bᵀx with the SPD matrix Aᵢⱼ = 0.5^|i−j| + δᵢⱼ.
//!
//! Every row does the same work per step: the gradient A x − b (a plain
//! row-major mat-vec, O(d²)), the Hessian A copied into the solver's
//! matrix (O(d²)), a Cholesky factorization (d³/3 flops) and the solve.

use std::hint::black_box;

use downhill::driver::{run as drive, Options};
use downhill::method::Newton;
use downhill::objective::Objective;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::{Mat, Par};
use nalgebra::{DMatrix, DVector};

use crate::harness::{interleave, time, Impl, Measured, Sample};
use crate::report::{Col, Goal, Metric, Table};
use crate::Config;

/// ½ xᵀAx − bᵀx with A row-major.
pub struct DenseQuadratic {
    pub d: usize,
    pub a: Vec<f64>,
    pub b: Vec<f64>,
}

impl DenseQuadratic {
    pub fn new(d: usize) -> DenseQuadratic {
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                a[i * d + j] =
                    0.5f64.powi((i as i32 - j as i32).abs()) + if i == j { 1.0 } else { 0.0 };
            }
        }
        let b = (0..d).map(|i| 1.0 + (i % 5) as f64).collect();
        DenseQuadratic { d, a, b }
    }

    /// g = A x − b, returns f.
    #[inline]
    pub fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let d = self.d;
        let mut f = 0.0;
        for i in 0..d {
            let row = &self.a[i * d..(i + 1) * d];
            let ax: f64 = row.iter().zip(x).map(|(p, q)| p * q).sum();
            g[i] = ax - self.b[i];
            f += x[i] * (0.5 * ax - self.b[i]);
        }
        f
    }
}

impl Objective for DenseQuadratic {
    fn dim(&self) -> usize {
        self.d
    }
    fn value(&self, x: &[f64]) -> f64 {
        let mut g = vec![0.0; self.d];
        self.gradient(x, &mut g)
    }
    fn value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.gradient(x, grad)
    }
    fn value_gradient_hessian(&self, x: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        hess.copy_from_slice(&self.a);
        self.gradient(x, grad)
    }
}

/// The Newton step with faer's in-place Cholesky, nothing allocated per step.
struct FaerStep {
    h: Mat<f64>,
    rhs: Mat<f64>,
    g: Vec<f64>,
    mem: MemBuffer,
    par: Par,
}

impl FaerStep {
    fn new(d: usize, par: Par) -> FaerStep {
        let req = llt::factor::cholesky_in_place_scratch::<f64>(d, par, Default::default())
            .or(llt::solve::solve_in_place_scratch::<f64>(d, 1, par));
        FaerStep {
            h: Mat::zeros(d, d),
            rhs: Mat::zeros(d, 1),
            g: vec![0.0; d],
            mem: MemBuffer::new(req),
            par,
        }
    }

    fn step(&mut self, q: &DenseQuadratic, x: &mut [f64]) -> Result<(), String> {
        let d = q.d;
        q.gradient(x, &mut self.g);
        // A is symmetric: its row-major rows are the column-major columns.
        for j in 0..d {
            self.h
                .col_as_slice_mut(j)
                .copy_from_slice(&q.a[j * d..(j + 1) * d]);
        }
        self.rhs.col_as_slice_mut(0).copy_from_slice(&self.g);
        let stack = MemStack::new(&mut self.mem);
        llt::factor::cholesky_in_place(
            self.h.as_mut(),
            Default::default(),
            self.par,
            stack,
            Default::default(),
        )
        .map_err(|e| format!("faer Cholesky failed: {e:?}"))?;
        llt::solve::solve_in_place(self.h.as_ref(), self.rhs.as_mut(), self.par, stack);
        for (x, p) in x.iter_mut().zip(self.rhs.col_as_slice(0)) {
            *x -= p;
        }
        Ok(())
    }
}

fn nalgebra_step(q: &DenseQuadratic, x: &mut [f64], g: &mut [f64]) -> Result<(), String> {
    let d = q.d;
    q.gradient(x, g);
    let h = DMatrix::from_row_slice(d, d, &q.a);
    let chol = h.cholesky().ok_or("nalgebra Cholesky failed")?;
    let p = chol.solve(&DVector::from_column_slice(g));
    for (x, p) in x.iter_mut().zip(p.iter()) {
        *x -= p;
    }
    Ok(())
}

fn start(d: usize) -> Vec<f64> {
    (0..d).map(|i| (i % 3) as f64 - 1.0).collect()
}

/// max |A x − b| after the steps: the Newton step on a quadratic is exact.
fn residual(q: &DenseQuadratic, x: &[f64]) -> f64 {
    let mut g = vec![0.0; q.d];
    q.gradient(x, &mut g);
    g.iter().fold(0.0_f64, |m, v| m.max(v.abs()))
}

const FAER_1: &str = "faer llt in place, 1 thread";
const FAER_2: &str = "faer llt in place, 2 threads";
const NALGEBRA: &str = "nalgebra cholesky";
pub const DOWNHILL: &str = "downhill Newton (driver::run)";

pub fn run(cfg: &Config) -> Vec<Table> {
    let sizes: &[usize] = if cfg.quick { &[200, 500] } else { &[500, 2000] };
    let mut tables = Vec::new();
    for &d in sizes {
        // The same number of steps at every size: downhill's row also
        // evaluates f, ∇f and ∇²f at the final iterate (the driver reports
        // them), one evaluation more than the faer rows make; 2 steps at
        // d = 2000 charged half an evaluation to each step, 10 charge a tenth
        // as at d = 500.
        let steps: usize = 10;
        let q = std::sync::Arc::new(DenseQuadratic::new(d));
        let mut impls = Vec::new();
        let mut notes = Vec::new();
        for (name, par) in [(FAER_1, Par::Seq), (FAER_2, Par::rayon(0))] {
            let q = q.clone();
            let mut solver = FaerStep::new(d, par);
            impls.push(Impl::new(name, move || {
                let mut x = start(d);
                let (secs, r) = time(|| -> Result<(), String> {
                    for _ in 0..steps {
                        solver.step(&q, &mut x)?;
                    }
                    Ok(())
                });
                r?;
                Ok(vec![Measured::new(name, Sample::new(secs, steps as f64))
                    .note(format!(
                        "max|Ax-b| after = {:.1e}",
                        residual(&q, black_box(&x))
                    ))])
            }));
        }
        {
            let q = q.clone();
            impls.push(Impl::new(NALGEBRA, move || {
                let mut x = start(d);
                let mut g = vec![0.0; d];
                let (secs, r) = time(|| -> Result<(), String> {
                    for _ in 0..steps {
                        nalgebra_step(&q, &mut x, &mut g)?;
                    }
                    Ok(())
                });
                r?;
                Ok(vec![Measured::new(
                    NALGEBRA,
                    Sample::new(secs, steps as f64),
                )
                .note(format!("max|Ax-b| after = {:.1e}", residual(&q, &x)))])
            }));
        }
        {
            let q = q.clone();
            impls.push(Impl::new(DOWNHILL, move || {
                let x0 = start(d);
                let options = Options::book(steps);
                let (secs, result) =
                    time(|| drive(q.as_ref(), &mut Newton::new(1.0), &x0, &options));
                let result = result.map_err(|e| e.to_string())?;
                Ok(vec![Measured::new(
                    DOWNHILL,
                    Sample::new(secs, result.iterations.max(1) as f64),
                )
                .note(format!(
                    "{} steps ({}), max|Ax-b| after = {:.1e}; includes the evaluations at x0 and at the final iterate",
                    result.iterations,
                    result.status,
                    residual(&q, &result.x)
                ))])
            }));
        }
        if let Some(peers) = &cfg.peers {
            if peers.has("scipy") {
                impls.push(peers.implementation(
                    "python peer scipy",
                    "w4.py",
                    vec![
                        "--d".into(),
                        d.to_string(),
                        "--steps".into(),
                        steps.to_string(),
                    ],
                ));
            } else {
                notes.push("scipy not installed: no scipy row".into());
            }
        }
        // A sample at d = 500 lasts about 15 ms, short against the machine's
        // slow phases (seconds): three times the rounds give its medians
        // the stability of the longer samples at d = 2000 (about 3 s).
        let rounds = if d <= 500 { 3 * cfg.rounds } else { cfg.rounds };
        let id = format!("W4 d={d}");
        let rows = interleave(&id, &mut impls, rounds);
        let mut table = Table::new(
            id,
            format!("one dense Newton step (gradient, Hessian copy, Cholesky, solve) at d = {d}"),
            rows,
        );
        table.fastest_reference(&[FAER_1, FAER_2]);
        table.cols = vec![Col::PerUnit("ms/step", 1e3)];
        table.goals.push(Goal {
            text: "≤ 1.1x faer called directly".into(),
            row: DOWNHILL.into(),
            against: table.reference.clone(),
            limit: 1.1,
            metric: Metric::Time,
        });
        notes.push(format!(
            "reference: the faster of the two faer rows in this run; {steps} steps per sample, {rounds} rounds; A_ij = 0.5^|i-j| + δ_ij"
        ));
        table.notes = notes;
        tables.push(table);
    }
    tables
}
