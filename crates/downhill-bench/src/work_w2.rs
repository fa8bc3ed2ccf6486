//! W2: a basin map. A 1000 × 1000 grid of starts x0 ∈ [−20, 20] and
//! learning rates η ∈ [0.01, 3], 50 fixed-step GD steps on x cos(0.15 π x)
//! per cell, the final x of every cell kept.

use std::f64::consts::PI;
use std::hint::black_box;

use rayon::prelude::*;

use crate::harness::{interleave, time, Impl, Measured, Sample};
use crate::report::{Col, Goal, Metric, Table};
use crate::simd::Isa;
use crate::Config;

const C: f64 = 0.15 * PI;
pub const STEPS: usize = 50;
pub const X0_RANGE: (f64, f64) = (-20.0, 20.0);
pub const ETA_RANGE: (f64, f64) = (0.01, 3.0);

const SCALAR: &str = "hand-written rayon, scalar std sin_cos";

/// `count` evenly spaced values from `a` to `b`, both included.
/// (`a + i·((b − a)/(count − 1))`, exactly `b` last: downhill's `Axis`.)
pub fn linspace(a: f64, b: f64, count: usize) -> Vec<f64> {
    let step = (b - a) / (count - 1) as f64;
    (0..count)
        .map(|i| {
            if i + 1 == count {
                b
            } else {
                a + i as f64 * step
            }
        })
        .collect()
}

fn simd_row(isa: Isa, threads: usize) -> String {
    format!(
        "hand-written SIMD ({}, 8 lanes, poly sincos), {threads} thread{}",
        isa.name(),
        if threads == 1 { "" } else { "s" }
    )
}

/// Grid rows are starts x0, columns learning rates η: `out[i * n + j]`.
fn scalar_grid(x0s: &[f64], etas: &[f64], out: &mut [f64]) {
    let n = etas.len();
    out.par_chunks_mut(n)
        .zip(x0s.par_iter())
        .for_each(|(row, &x0)| {
            for (o, &eta) in row.iter_mut().zip(etas) {
                let mut x = x0;
                for _ in 0..STEPS {
                    let (s, c) = (C * x).sin_cos();
                    x -= eta * (c - C * x * s);
                }
                *o = x;
            }
        });
}

fn simd_grid(isa: Isa, parallel: bool, x0s: &[f64], etas: &[f64], out: &mut [f64]) {
    let n = etas.len();
    if parallel {
        out.par_chunks_mut(n)
            .zip(x0s.par_iter())
            .for_each(|(row, &x0)| isa.row(C, x0, etas, STEPS, row));
    } else {
        for (row, &x0) in out.chunks_mut(n).zip(x0s) {
            isa.row(C, x0, etas, STEPS, row);
        }
    }
}

/// Fraction of cells within 1e-6 (relative) of the scalar libm result:
/// cells with large η are chaotic, so a one-ulp difference in sin/cos
/// changes where they end.
pub fn agreement(a: &[f64], reference: &[f64]) -> f64 {
    a.iter()
        .zip(reference)
        .filter(|(p, q)| (*p - *q).abs() <= 1e-6 * (1.0 + q.abs()))
        .count() as f64
        / reference.len() as f64
}

pub fn run(cfg: &Config) -> Vec<Table> {
    let n: usize = if cfg.quick { 300 } else { 1000 };
    let x0s = linspace(X0_RANGE.0, X0_RANGE.1, n);
    let etas = linspace(ETA_RANGE.0, ETA_RANGE.1, n);
    let units = (n * n * STEPS) as f64;
    let threads = rayon::current_num_threads();
    let best = Isa::best();

    let mut reference = vec![0.0; n * n];
    scalar_grid(&x0s, &etas, &mut reference);
    let mut notes = Vec::new();

    let mut impls = Vec::new();
    {
        let (x0s, etas) = (x0s.clone(), etas.clone());
        let mut out = vec![0.0; n * n];
        impls.push(Impl::new(SCALAR, move || {
            let (secs, _) = time(|| scalar_grid(&x0s, &etas, &mut out));
            black_box(&out);
            Ok(vec![Measured::new(SCALAR, Sample::new(secs, units))])
        }));
    }
    let mut variants = vec![(best, true)];
    if best != Isa::Portable {
        variants.push((Isa::Portable, true));
    }
    variants.push((best, false));
    for (isa, parallel) in variants {
        let name = simd_row(isa, if parallel { threads } else { 1 });
        let (x0s, etas) = (x0s.clone(), etas.clone());
        let mut out = vec![0.0; n * n];
        simd_grid(isa, parallel, &x0s, &etas, &mut out);
        let agree = agreement(&out, &reference);
        impls.push(Impl::new(name.clone(), move || {
            let (secs, _) = time(|| simd_grid(isa, parallel, &x0s, &etas, &mut out));
            black_box(&out);
            Ok(vec![Measured::new(&name, Sample::new(secs, units)).note(
                format!("agrees with scalar libm in {:.1}% of cells", 100.0 * agree),
            )])
        }));
    }

    let sweep_rows = crate::downhill_sweep::implementations(n, &x0s, &etas, &reference, units);
    match sweep_rows {
        Ok(list) => impls.extend(list),
        Err(why) => notes.push(format!("downhill sweep row missing: {why}")),
    }

    if let Some(peers) = &cfg.peers {
        for lib in ["numpy", "torch", "jax"] {
            if peers.has(lib) {
                impls.push(peers.implementation(
                    &format!("python peer {lib}"),
                    "w2.py",
                    vec!["--lib".into(), lib.into(), "--n".into(), n.to_string()],
                ));
            } else {
                notes.push(format!("{lib} not installed: no {lib} row"));
            }
        }
    } else {
        notes.push("Python peers not run (no --python given)".into());
    }

    let rows = interleave("W2", &mut impls, cfg.rounds);
    let ref_name = simd_row(best, threads);
    let mut table = Table::new(
        "W2",
        format!("{n}x{n} grid x0 ∈ [-20,20] × eta ∈ [0.01,3], {STEPS} GD steps per cell on x*cos(0.15*pi*x)"),
        rows,
    );
    table.reference = ref_name.clone();
    table.cols = vec![
        Col::PerSolve("s/grid", 1.0),
        Col::Rate("Mcell-steps/s", 1e-6),
    ];
    let sweep = crate::downhill_sweep::ROW.to_string();
    table.goals.push(Goal {
        text: "≤ 1.5x the hand-written SIMD kernel".into(),
        row: sweep.clone(),
        against: ref_name,
        limit: 1.5,
        metric: Metric::Time,
    });
    for row in table
        .rows
        .iter()
        .map(|r| r.name.clone())
        .collect::<Vec<_>>()
    {
        if ["numpy", "torch", "jax"]
            .iter()
            .any(|lib| row.starts_with(lib))
        {
            table.goals.push(Goal {
                text: format!("faster than {row}"),
                row: sweep.clone(),
                against: row,
                limit: 1.0,
                metric: Metric::Time,
            });
        }
    }
    // every sample is one whole grid: s/grid = per-unit time × units per solve
    for row in &mut table.rows {
        for s in &mut row.samples {
            s.solves = 1.0;
        }
    }
    notes.push(format!(
        "the SIMD kernels are chosen at run time; this CPU's widest: {}",
        best.name()
    ));
    table.notes = notes;
    vec![table]
}
