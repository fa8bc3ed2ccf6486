//! W5: solver overhead on 2-D Rosenbrock from (−1.2, 1): steepest descent
//! with a Moré–Thuente line search (a fixed 2000 iterations), Newton (a
//! fixed 20 iterations) and BFGS (until ‖∇f‖ < 1e-5).
//!
//! The reference is a hand-written loop doing the same math as downhill's
//! method: stack arrays, hand-written derivatives, and downhill's own
//! `MoreThuente` called as a plain function on a closure, so its iterates
//! are downhill's (the notes show the distance). What the ratio measures is
//! everything else downhill does per iteration: the driver, the counted
//! `Problem`, heap vectors, the trace, the objective behind `dyn`. For
//! Newton that means the loop solves `H p = ∇f` by downhill's 2×2 Cholesky
//! (the Cramer's-rule loop, a different and shorter arithmetic, is shown
//! beside it).
//! argmin 0.11 runs its own Moré–Thuente (MINPACK's), so its iteration
//! counts and iterates differ a little; compare it per iteration.

use std::hint::black_box;

use argmin::core::{CostFunction, Error, Executor, Gradient, Hessian, State};
use argmin::solver::gradientdescent::SteepestDescent;
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::newton::Newton as ArgminNewton;
use argmin::solver::quasinewton::BFGS;
use downhill::driver::{run as drive, Options, RunResult};
use downhill::formula::Formula;
use downhill::line_search::{LineSearch, MoreThuente};
use downhill::method::{Bfgs, GradientDescent, LineSearchKind, Method, Newton};
use downhill::objective::{Manual, Objective};
use nalgebra034::{Matrix2, Vector2};

use crate::harness::{interleave, repeat_for, Impl, Measured, Sample};
use crate::report::{Col, Goal, Metric, Table};
use crate::Config;

pub(crate) const X0: [f64; 2] = [-1.2, 1.0];
const SD_ITERS: usize = 2000;
const NEWTON_ITERS: usize = 20;
pub(crate) const BFGS_TOL: f64 = 1e-5;
const FORMULA: &str = "100*(x2-x1^2)^2+(1-x1)^2";
/// The Newton table's extra hand-written row (not the reference).
const HAND_NEWTON_CRAMER: &str = "hand-written loop (2x2 solve by Cramer's rule)";

#[inline(always)]
fn rosen_f(x: [f64; 2]) -> f64 {
    let t = x[1] - x[0] * x[0];
    let u = 1.0 - x[0];
    100.0 * t * t + u * u
}

#[inline(always)]
fn rosen_fg(x: [f64; 2]) -> (f64, [f64; 2]) {
    let t = x[1] - x[0] * x[0];
    let u = 1.0 - x[0];
    (
        100.0 * t * t + u * u,
        [-400.0 * x[0] * t - 2.0 * u, 200.0 * t],
    )
}

#[inline(always)]
fn rosen_h(x: [f64; 2]) -> [f64; 4] {
    let off = -400.0 * x[0];
    [1200.0 * x[0] * x[0] - 400.0 * x[1] + 2.0, off, off, 200.0]
}

#[inline(always)]
fn dot(a: [f64; 2], b: [f64; 2]) -> f64 {
    a[0] * b[0] + a[1] * b[1]
}

#[inline(always)]
fn along(x: [f64; 2], d: [f64; 2], t: f64) -> [f64; 2] {
    [x[0] + t * d[0], x[1] + t * d[1]]
}

/// One Moré–Thuente search from `x` along `d` with downhill's line search;
/// returns the new point, f and ∇f there (reusing the search's last
/// gradient when it is at the returned step).
#[inline(always)]
fn search(
    x: [f64; 2],
    f: f64,
    g: [f64; 2],
    d: [f64; 2],
    t0: f64,
) -> Option<([f64; 2], f64, [f64; 2])> {
    let mut last = (f64::NAN, 0.0, [0.0; 2]);
    let mut phi = |t: f64| {
        let (v, gt) = rosen_fg(along(x, d, t));
        last = (t, v, gt);
        (v, dot(gt, d))
    };
    let found = MoreThuente::default()
        .search(&mut phi, f, dot(g, d), t0)
        .ok()?;
    let xn = along(x, d, found.t);
    if last.0 == found.t {
        Some((xn, last.1, last.2))
    } else {
        let (v, gn) = rosen_fg(xn);
        Some((xn, v, gn))
    }
}

/// Steepest descent + Moré–Thuente, first trial step 1, fixed iterations.
fn hand_sd(iters: usize) -> ([f64; 2], usize) {
    let mut x = X0;
    let (mut f, mut g) = rosen_fg(x);
    for k in 0..iters {
        match search(x, f, g, [-g[0], -g[1]], 1.0) {
            Some((xn, fnew, gn)) => {
                x = xn;
                f = fnew;
                g = gn;
            }
            None => return (x, k),
        }
    }
    (x, iters)
}

/// Newton with the 2×2 system solved directly, fixed iterations.
fn hand_newton(iters: usize) -> [f64; 2] {
    let mut x = X0;
    for _ in 0..iters {
        let (_, g) = rosen_fg(x);
        let h = rosen_h(x);
        let det = h[0] * h[3] - h[1] * h[2];
        let p = [
            (h[3] * g[0] - h[1] * g[1]) / det,
            (h[0] * g[1] - h[2] * g[0]) / det,
        ];
        x = [x[0] - p[0], x[1] - p[1]];
    }
    x
}

/// Newton as downhill does it for n = 2: `H = L Lᵀ` on the stack, the two
/// triangular solves, `x + η·(−p)` with η = 1; the same operations in the
/// same order, so the iterates are downhill's bit for bit. The chain
/// sqrt → div → sqrt → div → div → div per step is about three times the
/// latency of Cramer's rule in [`hand_newton`]: this loop, not that one, is
/// what "the same math without the library" costs.
fn hand_newton_cholesky(iters: usize) -> [f64; 2] {
    let eta = black_box(1.0);
    let mut x = X0;
    for _ in 0..iters {
        let (_, g) = rosen_fg(x);
        let h = rosen_h(x);
        let l00 = h[0].sqrt();
        let l10 = h[2] / l00;
        let d = h[3] - l10 * l10;
        if d.is_nan() || d <= 0.0 {
            break;
        }
        let l11 = d.sqrt();
        let y0 = g[0] / l00;
        let y1 = (g[1] - l10 * y0) / l11;
        let p1 = y1 / l11;
        let p0 = (y0 - l10 * p1) / l00;
        x = [x[0] + eta * -p0, x[1] + eta * -p1];
    }
    x
}

/// BFGS as downhill does it: B = I and the first trial step
/// min(1, 1/‖∇f‖∞); at the second iterate B is rescaled by yᵀs/yᵀy before
/// the first update; pairs without positive curvature are skipped.
pub(crate) fn hand_bfgs(tol: f64, max_iters: usize) -> ([f64; 2], usize) {
    let mut x = X0;
    let (mut f, mut g) = rosen_fg(x);
    let mut b = [1.0, 0.0, 0.0, 1.0];
    let mut k = 0;
    while k < max_iters && dot(g, g).sqrt() > tol {
        let largest = g[0].abs().max(g[1].abs());
        let t0 = if k == 0 && largest > 1.0 {
            1.0 / largest
        } else {
            1.0
        };
        let d = [-(b[0] * g[0] + b[1] * g[1]), -(b[2] * g[0] + b[3] * g[1])];
        let Some((xn, fnew, gn)) = search(x, f, g, d, t0) else {
            break;
        };
        let s = [xn[0] - x[0], xn[1] - x[1]];
        let y = [gn[0] - g[0], gn[1] - g[1]];
        let ys = dot(y, s);
        if ys > 1e-10 * dot(s, s).sqrt() * dot(y, y).sqrt() && ys.is_finite() {
            if k == 0 {
                let scale = ys / dot(y, y);
                b = [scale, 0.0, 0.0, scale];
            }
            let rho = 1.0 / ys;
            let by = [b[0] * y[0] + b[1] * y[1], b[2] * y[0] + b[3] * y[1]];
            let c = rho * rho * dot(y, by) + rho;
            for i in 0..2 {
                for j in 0..2 {
                    b[i * 2 + j] += c * s[i] * s[j] - rho * (by[i] * s[j] + s[i] * by[j]);
                }
            }
        }
        x = xn;
        f = fnew;
        g = gn;
        k += 1;
    }
    (x, k)
}

// ---------------------------------------------------------------- argmin

struct ArgRosen;
impl CostFunction for ArgRosen {
    type Param = Vector2<f64>;
    type Output = f64;
    fn cost(&self, p: &Self::Param) -> Result<f64, Error> {
        Ok(rosen_f([p[0], p[1]]))
    }
}
impl Gradient for ArgRosen {
    type Param = Vector2<f64>;
    type Gradient = Vector2<f64>;
    fn gradient(&self, p: &Self::Param) -> Result<Self::Gradient, Error> {
        let (_, g) = rosen_fg([p[0], p[1]]);
        Ok(Vector2::new(g[0], g[1]))
    }
}
impl Hessian for ArgRosen {
    type Param = Vector2<f64>;
    type Hessian = Matrix2<f64>;
    fn hessian(&self, p: &Self::Param) -> Result<Self::Hessian, Error> {
        let h = rosen_h([p[0], p[1]]);
        Ok(Matrix2::new(h[0], h[1], h[2], h[3]))
    }
}

struct ArgRosenVec;
impl CostFunction for ArgRosenVec {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Self::Param) -> Result<f64, Error> {
        Ok(rosen_f([p[0], p[1]]))
    }
}
impl Gradient for ArgRosenVec {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Self::Param) -> Result<Self::Gradient, Error> {
        Ok(rosen_fg([p[0], p[1]]).1.to_vec())
    }
}

fn argmin_sd(iters: u64) -> Result<([f64; 2], u64), String> {
    let solver = SteepestDescent::new(MoreThuenteLineSearch::new());
    let res = Executor::new(ArgRosen, solver)
        .configure(|s| s.param(Vector2::new(X0[0], X0[1])).max_iters(iters))
        .run()
        .map_err(|e| e.to_string())?;
    let p = res.state.get_param().ok_or("no param")?;
    Ok(([p[0], p[1]], res.state.get_iter()))
}

fn argmin_newton(iters: u64) -> Result<([f64; 2], u64), String> {
    let res = Executor::new(ArgRosen, ArgminNewton::<f64>::new())
        .configure(|s| s.param(Vector2::new(X0[0], X0[1])).max_iters(iters))
        .run()
        .map_err(|e| e.to_string())?;
    let p = res.state.get_param().ok_or("no param")?;
    Ok(([p[0], p[1]], res.state.get_iter()))
}

fn argmin_bfgs(tol: f64) -> Result<([f64; 2], u64), String> {
    let solver = BFGS::new(MoreThuenteLineSearch::new())
        .with_tolerance_grad(tol)
        .map_err(|e| e.to_string())?;
    let res = Executor::new(ArgRosenVec, solver)
        .configure(|s| {
            s.param(X0.to_vec())
                .inv_hessian(vec![vec![1.0, 0.0], vec![0.0, 1.0]])
                .max_iters(1000)
        })
        .run()
        .map_err(|e| e.to_string())?;
    let p = res.state.get_param().ok_or("no param")?;
    Ok(([p[0], p[1]], res.state.get_iter()))
}

// ---------------------------------------------------------------- downhill

fn manual() -> impl Objective {
    Manual::new(
        2,
        |x: &[f64]| rosen_f([x[0], x[1]]),
        |x: &[f64], g: &mut [f64]| g.copy_from_slice(&rosen_fg([x[0], x[1]]).1),
        |x: &[f64], h: &mut [f64]| h.copy_from_slice(&rosen_h([x[0], x[1]])),
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Solver {
    Sd,
    Newton,
    Bfgs,
}

impl Solver {
    fn method(self) -> Box<dyn Method> {
        match self {
            Solver::Sd => {
                Box::new(GradientDescent::new(1.0).with_line_search(LineSearchKind::Wolfe))
            }
            Solver::Newton => Box::new(Newton::new(1.0)),
            Solver::Bfgs => Box::new(Bfgs::new()),
        }
    }

    fn options(self) -> Options {
        match self {
            Solver::Sd => Options::book(SD_ITERS),
            Solver::Newton => Options::book(NEWTON_ITERS),
            Solver::Bfgs => Options {
                grad_tol: BFGS_TOL,
                max_iterations: 1000,
                ..Options::default()
            },
        }
    }
}

fn downhill_solve(objective: &dyn Objective, solver: Solver) -> Result<RunResult, String> {
    drive(objective, solver.method().as_mut(), &X0, &solver.options()).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------- harness

/// An implementation that solves repeatedly for `min_secs`; `solve` returns
/// (final x, iterations).
fn solver_impl(
    name: String,
    min_secs: f64,
    reference_x: Option<[f64; 2]>,
    mut solve: impl FnMut() -> Result<([f64; 2], usize), String> + 'static,
    describe: String,
) -> Impl {
    Impl::new(name.clone(), move || {
        let mut result = Ok(([0.0; 2], 0));
        let (secs, reps) = repeat_for(min_secs, || result = black_box(solve()));
        let (x, iters) = result?;
        let mut note = format!("{iters} iters, x = ({:.6}, {:.6})", x[0], x[1]);
        if let Some(r) = reference_x {
            note.push_str(&format!(
                ", |x - x_hand| = {:.1e}",
                ((x[0] - r[0]).powi(2) + (x[1] - r[1]).powi(2)).sqrt()
            ));
        }
        if !describe.is_empty() {
            note.push_str("; ");
            note.push_str(&describe);
        }
        Ok(vec![Measured::new(
            &name,
            Sample {
                secs,
                units: (iters * reps) as f64,
                solves: reps as f64,
            },
        )
        .note(note)])
    })
}

fn counts(objective: &dyn Objective, solver: Solver) -> String {
    match downhill_solve(objective, solver) {
        Ok(r) => format!(
            "{}; evaluations f {}, grad {}, hess {}",
            r.status, r.evaluations.f, r.evaluations.grad, r.evaluations.hess
        ),
        Err(e) => e,
    }
}

/// W5 runs this many times the configured rounds (see [`run`]).
const ROUNDS_FACTOR: usize = 5;

pub fn run(cfg: &Config) -> Vec<Table> {
    // Many short samples, the rows' order rotating every round: a solve
    // takes microseconds, so a sample of 10 ms is plenty, and five times
    // the rounds spread every row over the machine's slow and fast phases
    // alike (one 50 ms sample per row and round let a phase change inside
    // a round move one row's median by 30 % or more).
    let rounds = ROUNDS_FACTOR * cfg.rounds;
    let min_secs = if cfg.quick { 0.002 } else { 0.01 };
    let mut tables = Vec::new();
    let formula = std::sync::Arc::new(Formula::parse(FORMULA).expect("formula parses"));

    for solver in [Solver::Sd, Solver::Newton, Solver::Bfgs] {
        let (id, title, hand_name) = match solver {
            Solver::Sd => (
                "W5 SD+MoreThuente",
                format!("steepest descent + Moré–Thuente on Rosenbrock from (-1.2, 1), {SD_ITERS} iterations"),
                "hand-written loop (downhill's MoreThuente as a function)",
            ),
            Solver::Newton => (
                "W5 Newton",
                format!("Newton's method on Rosenbrock from (-1.2, 1), {NEWTON_ITERS} iterations"),
                "hand-written loop (downhill's 2x2 Cholesky)",
            ),
            Solver::Bfgs => (
                "W5 BFGS",
                "BFGS + Moré–Thuente on Rosenbrock from (-1.2, 1) until |grad| < 1e-5".to_string(),
                "hand-written loop (downhill's BFGS math and MoreThuente)",
            ),
        };
        let hand: fn() -> ([f64; 2], usize) = match solver {
            Solver::Sd => || hand_sd(SD_ITERS),
            Solver::Newton => || (hand_newton_cholesky(NEWTON_ITERS), NEWTON_ITERS),
            Solver::Bfgs => || hand_bfgs(BFGS_TOL, 1000),
        };
        let (hand_x, _) = hand();
        let mut impls = vec![solver_impl(
            hand_name.to_string(),
            min_secs,
            None,
            move || Ok(hand()),
            String::new(),
        )];
        if solver == Solver::Newton {
            impls.push(solver_impl(
                HAND_NEWTON_CRAMER.to_string(),
                min_secs,
                Some(hand_x),
                || Ok((hand_newton(NEWTON_ITERS), NEWTON_ITERS)),
                "Cramer's rule: other arithmetic than downhill's, shorter dependency chain".into(),
            ));
        }
        let formula_row = "downhill driver::run + Formula".to_string();
        let manual_row = "downhill driver::run + Manual (hand derivatives)".to_string();
        let interpreted_row = "downhill driver::run + Formula, interpreted".to_string();
        let interpreted = std::sync::Arc::new(formula.as_ref().clone().with_native(false));
        for (row, formula) in [
            (formula_row.clone(), formula.clone()),
            (interpreted_row, interpreted),
        ] {
            let describe = counts(formula.as_ref(), solver);
            impls.push(solver_impl(
                row,
                min_secs,
                Some(hand_x),
                move || {
                    let r = downhill_solve(formula.as_ref(), solver)?;
                    Ok(([r.x[0], r.x[1]], r.iterations))
                },
                describe,
            ));
        }
        {
            let objective = manual();
            let describe = counts(&objective, solver);
            impls.push(solver_impl(
                manual_row.clone(),
                min_secs,
                Some(hand_x),
                move || {
                    let r = downhill_solve(&objective, solver)?;
                    Ok(([r.x[0], r.x[1]], r.iterations))
                },
                describe,
            ));
        }
        let argmin_row = match solver {
            Solver::Sd => "argmin 0.11 SteepestDescent+MoreThuente (nalgebra)",
            Solver::Newton => "argmin 0.11 Newton (nalgebra)",
            Solver::Bfgs => "argmin 0.11 BFGS+MoreThuente (Vec)",
        };
        impls.push(solver_impl(
            argmin_row.to_string(),
            min_secs,
            Some(hand_x),
            move || {
                let (x, k) = match solver {
                    Solver::Sd => argmin_sd(SD_ITERS as u64)?,
                    Solver::Newton => argmin_newton(NEWTON_ITERS as u64)?,
                    Solver::Bfgs => argmin_bfgs(BFGS_TOL)?,
                };
                Ok((x, k as usize))
            },
            String::new(),
        ));
        let mut notes = Vec::new();
        if let Some(peers) = &cfg.peers {
            let method = match solver {
                Solver::Sd => None,
                Solver::Newton => Some("newton-cg"),
                Solver::Bfgs => Some("bfgs"),
            };
            if let Some(method) = method {
                if peers.has("scipy") {
                    impls.push(peers.implementation(
                        &format!("python peer scipy {method}"),
                        "w5.py",
                        vec![
                            "--method".into(),
                            method.into(),
                            "--min-secs".into(),
                            if cfg.quick {
                                "0.02".into()
                            } else {
                                "0.06".into()
                            },
                        ],
                    ));
                } else {
                    notes.push("scipy not installed: no scipy row".into());
                }
            }
        }
        let rows = interleave(id, &mut impls, rounds);
        let mut table = Table::new(id, title, rows);
        table.reference = hand_name.to_string();
        table.cols = vec![
            Col::PerSolve("µs/solve", 1e6),
            Col::UnitsPerSolve("iters"),
            Col::PerUnit("µs/iter", 1e6),
            Col::SolveRatio("ratio/solve"),
        ];
        for row in [&formula_row, &manual_row] {
            table.goals.push(Goal {
                text: "≤ 2x the hand-written loop per iteration".into(),
                row: row.clone(),
                against: hand_name.into(),
                limit: 2.0,
                metric: Metric::Time,
            });
        }
        if solver == Solver::Newton && cfg.peers.is_some() {
            notes.push("scipy's Newton-CG is a different algorithm (truncated CG on the Newton system, its own line search); it is here as the scipy peer of Newton's method".into());
        }
        notes.push(format!("ratio = time per iteration / the hand-written loop's; ratio/solve compares whole solves; {rounds} rounds of samples of {} ms per row", min_secs * 1e3));
        table.notes = notes;
        tables.push(table);
    }
    tables
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_loops_match_downhill_iterates() {
        let formula = Formula::parse(FORMULA).unwrap();
        let (x, k) = hand_bfgs(BFGS_TOL, 1000);
        let r = downhill_solve(&formula, Solver::Bfgs).unwrap();
        assert_eq!(k, r.iterations);
        assert!((x[0] - r.x[0]).abs() < 1e-9 && (x[1] - r.x[1]).abs() < 1e-9);
        let x = hand_newton(NEWTON_ITERS);
        assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 1.0).abs() < 1e-12);
        // The reference Newton loop is downhill's arithmetic: the same bits
        // at every iteration count, not only at the converged end.
        for iters in 1..=NEWTON_ITERS {
            let x = hand_newton_cholesky(iters);
            let options = Options::book(iters);
            let r = drive(&manual(), &mut Newton::new(1.0), &X0, &options).unwrap();
            assert_eq!(x.map(f64::to_bits), [r.x[0].to_bits(), r.x[1].to_bits()]);
        }
    }
}
