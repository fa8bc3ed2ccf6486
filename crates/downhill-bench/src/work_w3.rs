//! W3: one gradient-descent step at d = 2·10^7 on the separable quadratic
//! f(x) = Σ aᵢ xᵢ² (∇f = 2 a ∘ x), against the machine's memory bandwidth
//! measured by a STREAM triad in the same run.
//!
//! Bytes per element: the in-place GD update reads `a` and `x` and writes
//! `x` back (its cache lines are already loaded): 24 B. The triad
//! `a = b + s·c` reads `b` and `c` and writes `a`, whose lines the CPU
//! reads first (write-allocate): 32 B of DRAM traffic, the count used here.

use std::hint::black_box;

use rayon::prelude::*;

use crate::harness::{interleave, time, Impl, Measured, Sample};
use crate::report::{Col, Goal, Metric, Table};
use crate::Config;

pub const ETA: f64 = 0.01;
const CHUNK: usize = 1 << 16;

pub const TRIAD: &str = "STREAM triad (rayon), 32 B/elem";
const HAND: &str = "hand-written rayon in-place GD, 24 B/elem";
const HAND_1: &str = "hand-written in-place GD, 1 thread";

/// The coefficients `aᵢ ∈ [1, 2)`.
pub fn coefficient(i: usize) -> f64 {
    1.0 + (i % 16) as f64 / 16.0
}

fn filled(d: usize, f: impl Fn(usize) -> f64 + Sync) -> Vec<f64> {
    let mut v = vec![0.0; d];
    v.par_chunks_mut(CHUNK).enumerate().for_each(|(k, chunk)| {
        for (j, o) in chunk.iter_mut().enumerate() {
            *o = f(k * CHUNK + j);
        }
    });
    v
}

/// The starting point `x0ᵢ`.
pub fn start(i: usize) -> f64 {
    1.0 + (i % 7) as f64 * 0.25
}

fn gd_step(x: &mut [f64], a: &[f64]) {
    let two_eta = 2.0 * ETA;
    x.par_chunks_mut(CHUNK)
        .zip(a.par_chunks(CHUNK))
        .for_each(|(x, a)| {
            for (x, a) in x.iter_mut().zip(a) {
                *x -= two_eta * a * *x;
            }
        });
}

fn gd_step_serial(x: &mut [f64], a: &[f64]) {
    let two_eta = 2.0 * ETA;
    for (x, a) in x.iter_mut().zip(a) {
        *x -= two_eta * a * *x;
    }
}

fn triad(a: &mut [f64], b: &[f64], c: &[f64], s: f64) {
    a.par_chunks_mut(CHUNK)
        .zip(b.par_chunks(CHUNK).zip(c.par_chunks(CHUNK)))
        .for_each(|(a, (b, c))| {
            for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                *a = b + s * c;
            }
        });
}

pub fn run(cfg: &Config) -> Vec<Table> {
    let d: usize = if cfg.quick { 2_000_000 } else { 20_000_000 };
    // A run evaluates f and ∇f at its start (one read of x and a, 16 B per
    // element) before its steps, which the hand-written loops do not: 20
    // steps per sample amortize it to under 4 % of a step (10 steps: 7 %).
    let steps: usize = if cfg.quick { 3 } else { 20 };
    let units = (d * steps) as f64;
    let threads = rayon::current_num_threads();
    let mut notes = Vec::new();
    let mut impls = Vec::new();

    {
        let mut a = filled(d, |_| 0.0);
        let b = filled(d, |i| i as f64);
        let c = filled(d, |i| 0.5 * i as f64);
        impls.push(Impl::new(TRIAD, move || {
            let (secs, _) = time(|| {
                for _ in 0..steps {
                    triad(&mut a, &b, &c, 3.0);
                }
            });
            black_box(&a);
            Ok(vec![Measured::new(TRIAD, Sample::new(secs, units))
                .note(format!("a = b + s*c, {threads} threads, d = {d}"))
                .extra("bytes_per_unit", 32.0)])
        }));
    }
    {
        let a = filled(d, coefficient);
        let mut x = filled(d, start);
        impls.push(Impl::new(HAND, move || {
            let (secs, _) = time(|| {
                for _ in 0..steps {
                    gd_step(&mut x, &a);
                }
            });
            black_box(&x);
            Ok(vec![Measured::new(HAND, Sample::new(secs, units))
                .note(format!("x -= eta*2*a*x, {threads} threads, d = {d}"))
                .extra("bytes_per_unit", 24.0)])
        }));
    }
    {
        let a = filled(d, coefficient);
        let mut x = filled(d, start);
        impls.push(Impl::new(HAND_1, move || {
            let (secs, _) = time(|| {
                for _ in 0..steps {
                    gd_step_serial(&mut x, &a);
                }
            });
            black_box(&x);
            Ok(vec![
                Measured::new(HAND_1, Sample::new(secs, units)).extra("bytes_per_unit", 24.0)
            ])
        }));
    }

    match crate::downhill_large::implementations(d, steps) {
        Ok(list) => impls.extend(list),
        Err(why) => notes.push(format!("downhill large-d row missing: {why}")),
    }

    if let Some(peers) = &cfg.peers {
        for lib in ["numpy", "torch", "jax"] {
            if peers.has(lib) {
                impls.push(peers.implementation(
                    &format!("python peer {lib}"),
                    "w3.py",
                    vec![
                        "--lib".into(),
                        lib.into(),
                        "--d".into(),
                        d.to_string(),
                        "--steps".into(),
                        steps.to_string(),
                    ],
                ));
            } else {
                notes.push(format!("{lib} not installed: no {lib} row"));
            }
        }
    } else {
        notes.push("Python peers not run (no --python given)".into());
    }

    let rows = interleave("W3", &mut impls, cfg.rounds);
    let mut table = Table::new(
        "W3",
        format!("one GD step on f(x) = sum a_i x_i^2 at d = {d} ({steps} steps per sample)"),
        rows,
    );
    table.reference = HAND.into();
    table.no_ratio = vec![TRIAD.into()];
    table.cols = vec![
        Col::PerSolve("ms/step", 1e3),
        Col::Bandwidth("GB/s"),
        Col::PctOf("% of triad", TRIAD.into()),
        Col::Extra("RSS growth (MB)", "max_rss_growth", 1e-6, 1),
    ];
    // one "solve" is one step over all d elements
    for row in &mut table.rows {
        for s in &mut row.samples {
            s.solves = s.units / d as f64;
        }
    }
    table.goals.push(Goal {
        text: "≥ 90% of the STREAM triad bandwidth".into(),
        row: crate::downhill_large::ROW.into(),
        against: TRIAD.into(),
        limit: 0.9,
        metric: Metric::Bandwidth,
    });
    notes.push("GB/s: bytes moved per element (24 for the in-place GD step, 32 for the triad counting write-allocate) / time; the ratio column compares time per element with the hand-written rayon step".into());
    table.notes = notes;
    vec![table]
}
