//! E: evaluation cost of value+gradient and value+gradient+Hessian.
//!
//! Every implementation is called through `&dyn Objective`, as the driver
//! calls it, on the same 1024 points; the reference is a hand-written
//! objective that computes value and derivatives together (the limit of
//! what any objective can cost behind a dynamic call). Rows: downhill's
//! `Formula`, downhill's `AutoDiff` (num-dual), and for information the
//! hand-written code inlined into the loop (no dynamic call).

use std::f64::consts::PI;
use std::hint::black_box;

use downhill::formula::Formula;
use downhill::objective::{AutoDiff, DualFunction, Objective};
use num_dual::DualNumCopy;

use crate::harness::{interleave, repeat_for, Impl, Measured, Sample};
use crate::report::{Col, Goal, Metric, Table};
use crate::Config;

const C: f64 = 0.15 * PI;
const POINTS: usize = 1024;

/// Which derivatives an evaluation computes.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Grad,
    Hess,
}

/// Hand-written objectives: value and derivatives computed together.
#[derive(Clone, Copy)]
enum Hand {
    Wave,
    LogSumExp,
    Book2d,
    Rosenbrock,
}

impl Hand {
    #[inline(always)]
    fn vg(self, x: &[f64], g: &mut [f64]) -> f64 {
        match self {
            Hand::Wave => {
                let (s, c) = (C * x[0]).sin_cos();
                g[0] = c - C * x[0] * s;
                x[0] * c
            }
            Hand::LogSumExp => {
                let a = x[0].exp();
                let b = (-2.0 * x[0] - 3.0).exp();
                let sum = a + b;
                g[0] = (a - 2.0 * b) / sum;
                sum.ln()
            }
            Hand::Book2d => {
                g[0] = 2.0 * x[0];
                g[1] = 4.0 * x[1];
                x[0] * x[0] + 2.0 * x[1] * x[1]
            }
            Hand::Rosenbrock => {
                let t = x[1] - x[0] * x[0];
                let u = 1.0 - x[0];
                g[0] = -400.0 * x[0] * t - 2.0 * u;
                g[1] = 200.0 * t;
                100.0 * t * t + u * u
            }
        }
    }

    #[inline(always)]
    fn vgh(self, x: &[f64], g: &mut [f64], h: &mut [f64]) -> f64 {
        match self {
            Hand::Wave => {
                let (s, c) = (C * x[0]).sin_cos();
                g[0] = c - C * x[0] * s;
                h[0] = -2.0 * C * s - C * C * x[0] * c;
                x[0] * c
            }
            Hand::LogSumExp => {
                let a = x[0].exp();
                let b = (-2.0 * x[0] - 3.0).exp();
                let sum = a + b;
                let d = (a - 2.0 * b) / sum;
                g[0] = d;
                h[0] = (a + 4.0 * b) / sum - d * d;
                sum.ln()
            }
            Hand::Book2d => {
                g[0] = 2.0 * x[0];
                g[1] = 4.0 * x[1];
                h[0] = 2.0;
                h[1] = 0.0;
                h[2] = 0.0;
                h[3] = 4.0;
                x[0] * x[0] + 2.0 * x[1] * x[1]
            }
            Hand::Rosenbrock => {
                let t = x[1] - x[0] * x[0];
                let u = 1.0 - x[0];
                g[0] = -400.0 * x[0] * t - 2.0 * u;
                g[1] = 200.0 * t;
                h[0] = 1200.0 * x[0] * x[0] - 400.0 * x[1] + 2.0;
                h[1] = -400.0 * x[0];
                h[2] = -400.0 * x[0];
                h[3] = 200.0;
                100.0 * t * t + u * u
            }
        }
    }

    fn dim(self) -> usize {
        match self {
            Hand::Wave | Hand::LogSumExp => 1,
            Hand::Book2d | Hand::Rosenbrock => 2,
        }
    }
}

/// The hand-written objective behind the trait.
struct HandObjective(Hand);

impl Objective for HandObjective {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn value(&self, x: &[f64]) -> f64 {
        let mut g = [0.0; 2];
        self.0.vg(x, &mut g)
    }
    fn value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        self.0.vg(x, grad)
    }
    fn value_gradient_hessian(&self, x: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        self.0.vgh(x, grad, hess)
    }
}

struct WaveD;
impl DualFunction<1> for WaveD {
    fn eval<D: DualNumCopy<Primitive = f64>>(&self, x: [D; 1]) -> D {
        x[0] * (x[0] * C).cos()
    }
}
struct LogSumExpD;
impl DualFunction<1> for LogSumExpD {
    fn eval<D: DualNumCopy<Primitive = f64>>(&self, x: [D; 1]) -> D {
        (x[0].exp() + (x[0] * -2.0 - 3.0).exp()).ln()
    }
}
struct Book2dD;
impl DualFunction<2> for Book2dD {
    fn eval<D: DualNumCopy<Primitive = f64>>(&self, x: [D; 2]) -> D {
        x[0] * x[0] + x[1] * x[1] * 2.0
    }
}
struct RosenbrockD;
impl DualFunction<2> for RosenbrockD {
    fn eval<D: DualNumCopy<Primitive = f64>>(&self, x: [D; 2]) -> D {
        let t = x[1] - x[0] * x[0];
        let u = -x[0] + 1.0;
        t * t * 100.0 + u * u
    }
}

struct Function {
    label: &'static str,
    formula: &'static str,
    hand: Hand,
    autodiff: Box<dyn Objective>,
}

fn functions() -> Vec<Function> {
    vec![
        Function {
            label: "x*cos(0.15*pi*x)",
            formula: "x*cos(0.15*pi*x)",
            hand: Hand::Wave,
            autodiff: Box::new(AutoDiff::new(WaveD)),
        },
        Function {
            label: "log(exp(x)+exp(-2*x-3))",
            formula: "log(exp(x)+exp(-2*x-3))",
            hand: Hand::LogSumExp,
            autodiff: Box::new(AutoDiff::new(LogSumExpD)),
        },
        Function {
            label: "x1^2+2*x2^2",
            formula: "x1^2+2*x2^2",
            hand: Hand::Book2d,
            autodiff: Box::new(AutoDiff::new(Book2dD)),
        },
        Function {
            label: "Rosenbrock",
            formula: "100*(x2-x1^2)^2+(1-x1)^2",
            hand: Hand::Rosenbrock,
            autodiff: Box::new(AutoDiff::new(RosenbrockD)),
        },
    ]
}

/// Deterministic points in [-5, 5]^dim (a small LCG; no rand dependency).
fn points(dim: usize) -> Vec<f64> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..POINTS * dim)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            -5.0 + 10.0 * ((state >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

/// One pass of `kind` evaluations over all points through `&dyn Objective`.
fn pass_dyn(obj: &dyn Objective, pts: &[f64], dim: usize, kind: Kind) -> f64 {
    let mut g = [0.0; 2];
    let mut h = [0.0; 4];
    let mut acc = 0.0;
    for x in pts.chunks_exact(dim) {
        let x = black_box(x);
        let v = match kind {
            Kind::Grad => obj.value_gradient(x, &mut g[..dim]),
            Kind::Hess => obj.value_gradient_hessian(x, &mut g[..dim], &mut h[..dim * dim]),
        };
        acc += v + g[0] + h[0];
    }
    acc
}

fn pass_inline(hand: Hand, pts: &[f64], dim: usize, kind: Kind) -> f64 {
    let mut g = [0.0; 2];
    let mut h = [0.0; 4];
    let mut acc = 0.0;
    for x in pts.chunks_exact(dim) {
        let x = black_box(x);
        let v = match kind {
            Kind::Grad => hand.vg(x, &mut g[..dim]),
            Kind::Hess => hand.vgh(x, &mut g[..dim], &mut h[..dim * dim]),
        };
        acc += v + g[0] + h[0];
    }
    acc
}

/// Largest relative difference between two objectives' derivatives over the points.
fn max_rel_diff(a: &dyn Objective, b: &dyn Objective, pts: &[f64], dim: usize) -> f64 {
    let (mut ga, mut gb, mut ha, mut hb) = ([0.0; 2], [0.0; 2], [0.0; 4], [0.0; 4]);
    let mut worst: f64 = 0.0;
    for x in pts.chunks_exact(dim) {
        let va = a.value_gradient_hessian(x, &mut ga[..dim], &mut ha[..dim * dim]);
        let vb = b.value_gradient_hessian(x, &mut gb[..dim], &mut hb[..dim * dim]);
        let pairs = std::iter::once((va, vb))
            .chain(ga[..dim].iter().copied().zip(gb[..dim].iter().copied()))
            .chain(
                ha[..dim * dim]
                    .iter()
                    .copied()
                    .zip(hb[..dim * dim].iter().copied()),
            );
        for (p, q) in pairs {
            worst = worst.max((p - q).abs() / (1.0 + q.abs()));
        }
    }
    worst
}

fn row_name(f: &Function, what: &str) -> String {
    format!("{}: {what}", f.label)
}

pub fn run(cfg: &Config) -> Vec<Table> {
    let min_secs = if cfg.quick { 0.01 } else { 0.04 };
    let mut tables = Vec::new();
    for kind in [Kind::Grad, Kind::Hess] {
        let mut impls = Vec::new();
        let mut refs = Vec::new();
        let mut goals = Vec::new();
        let mut notes = Vec::new();
        for f in functions() {
            let dim = f.hand.dim();
            let pts = points(dim);
            let formula = Formula::parse(f.formula).expect("benchmark formula parses");
            let hand = f.hand;
            let reference = row_name(&f, "hand-written (dyn Objective)");
            let formula_row = row_name(&f, "downhill Formula");
            let interpreted_row = row_name(&f, "downhill Formula, interpreted");
            let interpreted = formula.clone().with_native(false);
            let autodiff_row = row_name(&f, "downhill AutoDiff (num-dual)");
            let inline_row = row_name(&f, "hand-written, inlined (no dyn call)");
            notes.push(format!(
                "{}: max relative difference Formula vs hand-written {:.1e}, AutoDiff vs hand-written {:.1e} (value, gradient, Hessian over the {POINTS} points)",
                f.label,
                max_rel_diff(&formula, &HandObjective(hand), &pts, dim),
                max_rel_diff(f.autodiff.as_ref(), &HandObjective(hand), &pts, dim)
            ));
            notes.push(format!(
                "{}: Formula runs {}",
                f.label,
                if formula.is_native() {
                    "machine code (compiled on first use)"
                } else {
                    "the interpreter (machine code not available here)"
                }
            ));
            for r in [&formula_row, &interpreted_row, &autodiff_row, &inline_row] {
                refs.push((r.clone(), reference.clone()));
            }
            let limit = if kind == Kind::Grad { 1.5 } else { 2.0 };
            goals.push(Goal {
                text: format!("≤ {limit}x the hand-written objective"),
                row: formula_row.clone(),
                against: reference.clone(),
                limit,
                metric: Metric::Time,
            });
            let units = POINTS as f64;
            {
                let pts = pts.clone();
                let name = reference.clone();
                impls.push(Impl::new(name.clone(), move || {
                    let obj = HandObjective(hand);
                    let (secs, reps) = repeat_for(min_secs, || pass_dyn(&obj, &pts, dim, kind));
                    Ok(vec![Measured::new(
                        &name,
                        Sample::new(secs, units * reps as f64),
                    )])
                }));
            }
            {
                let pts = pts.clone();
                let name = formula_row.clone();
                impls.push(Impl::new(name.clone(), move || {
                    let (secs, reps) = repeat_for(min_secs, || pass_dyn(&formula, &pts, dim, kind));
                    Ok(vec![Measured::new(
                        &name,
                        Sample::new(secs, units * reps as f64),
                    )])
                }));
            }
            {
                let pts = pts.clone();
                let name = interpreted_row.clone();
                impls.push(Impl::new(name.clone(), move || {
                    let (secs, reps) =
                        repeat_for(min_secs, || pass_dyn(&interpreted, &pts, dim, kind));
                    Ok(vec![Measured::new(
                        &name,
                        Sample::new(secs, units * reps as f64),
                    )])
                }));
            }
            {
                let pts = pts.clone();
                let name = autodiff_row.clone();
                let obj = f.autodiff;
                impls.push(Impl::new(name.clone(), move || {
                    let (secs, reps) =
                        repeat_for(min_secs, || pass_dyn(obj.as_ref(), &pts, dim, kind));
                    Ok(vec![Measured::new(
                        &name,
                        Sample::new(secs, units * reps as f64),
                    )])
                }));
            }
            {
                let name = inline_row.clone();
                impls.push(Impl::new(name.clone(), move || {
                    let (secs, reps) = repeat_for(min_secs, || pass_inline(hand, &pts, dim, kind));
                    Ok(vec![Measured::new(
                        &name,
                        Sample::new(secs, units * reps as f64),
                    )])
                }));
            }
        }
        let (id, title) = match kind {
            Kind::Grad => ("E value+gradient", "one evaluation of f and ∇f at a point"),
            Kind::Hess => (
                "E value+gradient+Hessian",
                "one evaluation of f, ∇f and ∇²f at a point",
            ),
        };
        let rows = interleave(id, &mut impls, cfg.rounds);
        let mut table = Table::new(id, title, rows);
        table.row_refs = refs;
        table.cols = vec![Col::PerUnit("ns/eval", 1e9)];
        table.goals = goals;
        notes.push(
            "every row but the inlined one calls through `&dyn Objective` (one indirect call per evaluation, as the driver does); ratios are against the hand-written row of the same function".into(),
        );
        table.notes = notes;
        tables.push(table);
    }
    tables
}
