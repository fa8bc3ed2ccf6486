//! W3 in miniature, for quick comparisons while tuning the separable pass:
//! `cargo run --release -p downhill --example w3_timing [-- ROUNDS]`.
//!
//! Alternates a hand-written in-place gradient step (`x -= 2ηa·x`, rayon,
//! the benchmark's reference) with [`run_separable`] on the same
//! `f(x) = Σ aᵢxᵢ²`, `d = 2·10⁷`, 10 steps per sample, and prints per-step
//! medians: the whole run (start probe included, as W3 counts it), the
//! setup before the first record, and the median step between records.
//! A second line puts a 0-step run (the start probe alone, 16 B/element
//! read) beside a hand-written read of `x` and `a`.

use std::hint::black_box;
use std::time::Instant;

use downhill::driver::Options;
use downhill::large::{run_separable, Coef, Separable, Update};
use rayon::prelude::*;

const D: usize = 20_000_000;
const STEPS: usize = 10;
const ETA: f64 = 0.01;
const CHUNK: usize = 1 << 16;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn hand_step(x: &mut [f64], a: &[f64]) {
    let two_eta = 2.0 * ETA;
    x.par_chunks_mut(CHUNK)
        .zip(a.par_chunks(CHUNK))
        .for_each(|(x, a)| {
            for (x, a) in x.iter_mut().zip(a) {
                *x -= two_eta * a * *x;
            }
        });
}

/// `Σ aᵢxᵢ` with rayon: a read-only pass over the probe's 16 B/element.
fn hand_read(x: &[f64], a: &[f64]) -> f64 {
    x.par_chunks(CHUNK)
        .zip(a.par_chunks(CHUNK))
        .map(|(x, a)| {
            let mut acc = [0.0; 8];
            for (x, a) in x.chunks_exact(8).zip(a.chunks_exact(8)) {
                for l in 0..8 {
                    acc[l] += x[l] * a[l];
                }
            }
            acc.iter().sum::<f64>()
        })
        .sum()
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let a: Vec<f64> = (0..D).map(|i| 1.0 + (i % 16) as f64 / 16.0).collect();
    let start = |i: usize| 1.0 + (i % 7) as f64 * 0.25;
    let objective =
        Separable::new(D, [Coef::values(a.clone())], |x, [a]| x * x * a).expect("objective");
    let mut x_hand: Vec<f64> = (0..D).map(start).collect();
    let mut x_run: Vec<f64> = (0..D).map(start).collect();
    let (mut hand, mut run, mut setup, mut step) = (vec![], vec![], vec![], vec![]);
    let (mut read, mut probe) = (vec![], vec![]);
    for _ in 0..rounds {
        let t = Instant::now();
        black_box(hand_read(&x_hand, &a));
        read.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let result = run_separable(
            &objective,
            Update::gradient(ETA),
            std::mem::take(&mut x_run),
            &Options::book(0),
            &mut |_, _| {},
        )
        .expect("run");
        probe.push(t.elapsed().as_secs_f64());
        x_run = result.x;

        let t = Instant::now();
        for _ in 0..STEPS {
            hand_step(&mut x_hand, &a);
        }
        hand.push(t.elapsed().as_secs_f64() / STEPS as f64);
        black_box(&x_hand);

        let mut stamps = Vec::with_capacity(STEPS + 1);
        let t = Instant::now();
        let result = run_separable(
            &objective,
            Update::gradient(ETA),
            std::mem::take(&mut x_run),
            &Options::book(STEPS),
            &mut |_, _| stamps.push(Instant::now()),
        )
        .expect("run");
        run.push(t.elapsed().as_secs_f64() / STEPS as f64);
        setup.push((stamps[0] - t).as_secs_f64());
        let mut steps: Vec<f64> = stamps
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs_f64())
            .collect();
        step.push(median(&mut steps));
        x_run = result.x;
    }
    let ms = |v: &mut Vec<f64>| median(v) * 1e3;
    let (h, r) = (ms(&mut hand), ms(&mut run));
    println!(
        "hand {h:.2} ms/step ({:.1} GB/s) | run_separable {r:.2} ms/step ({:.1} GB/s, {:.3}x hand) | setup {:.2} ms, step {:.2} ms ({:.3}x hand)",
        24.0 * D as f64 / h / 1e6,
        24.0 * D as f64 / r / 1e6,
        r / h,
        ms(&mut setup),
        ms(&mut step),
        ms(&mut step) / h
    );
    let (rd, pr) = (ms(&mut read), ms(&mut probe));
    println!(
        "hand read of x, a {rd:.2} ms ({:.1} GB/s) | 0-step run_separable (the probe) {pr:.2} ms ({:.3}x the read)",
        16.0 * D as f64 / rd / 1e6,
        pr / rd
    );
}
