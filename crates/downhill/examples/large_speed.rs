//! Large-dimension speed, measured in one run:
//! `cargo run --release -p downhill --example large_speed [-- --quick]`.
//!
//! 1. Gradient descent on the separable quadratic `f(x) = Σ aᵢ xᵢ²` at
//!    `d = 2·10⁷` (`aᵢ` uniform in [1, 10), stored: the perf anchors' W3)
//!    through [`run_separable`], with the peak RSS of that phase.
//! 2. Per-step time against a STREAM triad (`a = b + s·c`, counted as 32
//!    bytes per element since its stores also read the line), rounds
//!    interleaved so both see the same machine load: % of triad bandwidth
//!    with the step counted as 24 bytes per element (x read and written,
//!    a read), as W3 counts it. Also with generated coefficients (16 B).
//! 3. The generic driver on the same objective at `d = 2·10⁶`, for scale.
//! 4. Dense Newton at d = 500 and 2000: one `Newton::step` (faer Cholesky
//!    in buffers kept by the method) against faer's `llt` + `solve` called
//!    directly on the same matrix, one thread below d = 1000, rayon above.

use std::hint::black_box;
use std::time::Instant;

use downhill::driver::{run, Options};
use downhill::large::{run_separable, Coef, Quadratic, Separable, Update};
use downhill::method::{GradientDescent, Method, Newton, State};
use downhill::objective::Problem;
use downhill::trace::TracePolicy;
use faer::linalg::solvers::Solve;
use faer::{Col, Mat, Par, Side};
use num_dual::Dual2_64;
use rayon::prelude::*;

/// downhill's Newton factorizes on one thread below this dimension.
const PARALLEL_MIN_DIM: usize = 1000;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Peak resident memory so far (VmHWM), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Resets the peak so the next phase reports its own (Linux ≥ 4.0).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn splitmix(mut z: u64) -> f64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn triad(a: &mut [f64], b: &[f64], c: &[f64], s: f64) {
    const CH: usize = 1 << 16;
    a.par_chunks_mut(CH)
        .zip(b.par_chunks(CH))
        .zip(c.par_chunks(CH))
        .for_each(|((a, b), c)| {
            for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                *a = *b + s * *c;
            }
        });
}

fn gd_section(d: usize, rounds: usize) {
    println!("## Gradient descent, f(x) = sum a_i x_i^2, d = {d}, eta = 0.04");
    println!("threads: {}", rayon::current_num_threads());
    let eta = 0.04;
    let a: Vec<f64> = (0..d)
        .into_par_iter()
        .map(|i| 1.0 + 9.0 * splitmix(2 * i as u64 + 1))
        .collect();
    let start = |d: usize| -> Vec<f64> {
        (0..d)
            .into_par_iter()
            .map(|i| 1.0 + splitmix(2 * i as u64))
            .collect()
    };
    let term = |x: Dual2_64, [a]: [f64; 1]| x * x * a;
    let stored = Separable::new(d, [Coef::values(a)], term).unwrap();
    let generated = Separable::new(d, [Coef::linspace(1.0, 10.0)], term).unwrap();

    // Phase 1: one 50-step run, its peak memory and per-step times.
    let reset = reset_peak_rss();
    let x = start(d);
    let base_rss = peak_rss_mib();
    let mut stamps = Vec::with_capacity(64);
    let t0 = Instant::now();
    let result = run_separable(
        &stored,
        Update::gradient(eta),
        x,
        &Options::book(50),
        &mut |_, _| stamps.push(Instant::now()),
    )
    .unwrap();
    let total = t0.elapsed().as_secs_f64();
    let mut steps: Vec<f64> = stamps
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    let step = median(&mut steps);
    let rss = peak_rss_mib();
    println!(
        "run_separable, 50 steps: {:.3} s total (incl. the start probe), median step {:.2} ms, f = {:.6e}, status: {}",
        total,
        step * 1e3,
        result.f,
        result.status
    );
    let mib = (d * 8) as f64 / (1 << 20) as f64;
    match (rss, reset) {
        (Some(rss), true) => println!(
            "peak RSS of this phase: {rss:.0} MiB (x and a: 2 x {mib:.0} MiB = {:.0} MiB; before the run: {:.0} MiB)",
            2.0 * mib,
            base_rss.unwrap_or(f64::NAN)
        ),
        (Some(rss), false) => println!("peak RSS (process so far): {rss:.0} MiB"),
        _ => println!("peak RSS: not available"),
    }
    drop(result);

    // Phase 2: interleaved rounds of triad / stored-coefficient step /
    // generated-coefficient step.
    let mut ta = vec![1.0; d];
    let tb: Vec<f64> = (0..d).into_par_iter().map(|i| splitmix(i as u64)).collect();
    let tc: Vec<f64> = (0..d)
        .into_par_iter()
        .map(|i| splitmix(i as u64 + 7))
        .collect();
    ta.par_iter_mut().for_each(|v| *v = 0.0);
    let passes = 5;
    let (mut triads, mut steps_stored, mut steps_generated) = (vec![], vec![], vec![]);
    let mut references = vec![];
    let coefficients: Vec<f64> = (0..d)
        .into_par_iter()
        .map(|i| 1.0 + 9.0 * splitmix(2 * i as u64 + 1))
        .collect();
    let mut x = start(d);
    for round in 0..=rounds {
        let t = Instant::now();
        for _ in 0..passes {
            triad(&mut ta, &tb, &tc, 3.0);
        }
        let triad_s = t.elapsed().as_secs_f64() / passes as f64;
        black_box(ta[d / 3]);
        for (objective, out) in [
            (&stored, &mut steps_stored),
            (&generated, &mut steps_generated),
        ] {
            x.par_iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = 1.0 + splitmix(2 * i as u64));
            let mut stamps = Vec::with_capacity(passes + 2);
            run_separable(
                objective,
                Update::gradient(eta),
                std::mem::take(&mut x),
                &Options::book(passes),
                &mut |_, _| stamps.push(Instant::now()),
            )
            .map(|r| x = r.x)
            .unwrap();
            if round > 0 {
                out.extend(stamps.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()));
            }
        }
        // The W3 reference: the bare in-place update, no checks, no sums.
        let t = Instant::now();
        for _ in 0..passes {
            x.par_chunks_mut(1 << 16)
                .zip(coefficients.par_chunks(1 << 16))
                .for_each(|(x, a)| {
                    for (x, a) in x.iter_mut().zip(a) {
                        *x -= 2.0 * eta * *a * *x;
                    }
                });
        }
        let reference_s = t.elapsed().as_secs_f64() / passes as f64;
        black_box(x[d / 2]);
        if round > 0 {
            triads.push(triad_s);
            references.push(reference_s);
        }
    }
    let triad_s = median(&mut triads);
    let bw32 = 32.0 * d as f64 / triad_s / 1e9;
    let s_stored = median(&mut steps_stored);
    let s_generated = median(&mut steps_generated);
    let s_reference = median(&mut references);
    let gd_bw = 24.0 * d as f64 / s_stored / 1e9;
    let gen_bw = 16.0 * d as f64 / s_generated / 1e9;
    println!(
        "STREAM triad: {:.2} ms/pass, {bw32:.1} GB/s at 32 B/elem ({:.1} GB/s at STREAM's 24 B)",
        triad_s * 1e3,
        24.0 * d as f64 / triad_s / 1e9
    );
    println!(
        "GD step, stored a_i (24 B/elem): {:.2} ms, {gd_bw:.1} GB/s = {:.0}% of triad",
        s_stored * 1e3,
        100.0 * gd_bw / bw32
    );
    println!(
        "bare in-place update (W3 reference kernel): {:.2} ms, {:.0}% of triad; run_separable's step / bare = {:.2}",
        s_reference * 1e3,
        100.0 * 24.0 * d as f64 / s_reference / 1e9 / bw32,
        s_stored / s_reference
    );
    println!(
        "GD step, generated a_i (16 B/elem): {:.2} ms, {gen_bw:.1} GB/s = {:.0}% of triad ({:.2}x the stored-coefficient step)",
        s_generated * 1e3,
        100.0 * gen_bw / bw32,
        s_stored / s_generated
    );
}

fn generic_section(d: usize) {
    println!("## The generic driver on the same objective, d = {d}");
    let a: Vec<f64> = (0..d)
        .map(|i| 1.0 + 9.0 * splitmix(2 * i as u64 + 1))
        .collect();
    let f = Separable::new(d, [Coef::values(a)], |x, [a]| x * x * a).unwrap();
    let x0: Vec<f64> = (0..d).map(|i| 1.0 + splitmix(2 * i as u64)).collect();
    let steps = 20;
    let options = Options {
        trace: TracePolicy::Ends,
        ..Options::book(steps)
    };
    let mut best_generic = f64::INFINITY;
    let mut best_large = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        let r = run(&f, &mut GradientDescent::new(0.04), &x0, &options).unwrap();
        best_generic = best_generic.min(t.elapsed().as_secs_f64() / steps as f64);
        let t = Instant::now();
        let l = run_separable(
            &f,
            Update::gradient(0.04),
            x0.clone(),
            &options,
            &mut |_, _| {},
        )
        .unwrap();
        best_large = best_large.min(t.elapsed().as_secs_f64() / steps as f64);
        assert_eq!(r.x, l.x, "the two paths agree bit for bit");
        assert_eq!(r.f, l.f);
    }
    println!(
        "driver::run: {:.2} ms/step; run_separable: {:.2} ms/step ({:.1}x); same iterates bit for bit",
        best_generic * 1e3,
        best_large * 1e3,
        best_generic / best_large
    );
}

/// The W4 matrix: `M Mᵀ · 12/d + I`, entries of `M` uniform in [-0.5, 0.5).
fn spd(d: usize) -> Mat<f64> {
    let m = Mat::<f64>::from_fn(d, d, |i, j| splitmix((i * d + j) as u64) - 0.5);
    let mut a = &m * m.transpose();
    for i in 0..d {
        for j in 0..d {
            a[(i, j)] *= 12.0 / d as f64;
        }
        a[(i, i)] += 1.0;
    }
    a
}

fn newton_section(reps: usize) {
    println!("## Dense Newton step: downhill's Newton::step vs faer called directly");
    for d in [500, 2000] {
        let a = spd(d);
        let g = Col::<f64>::from_fn(d, |i| splitmix(10_000_000 + i as u64) - 0.5);
        let x = Col::<f64>::from_fn(d, |i| 2.0 * (splitmix(20_000_000 + i as u64) - 0.5));
        let par = if d >= PARALLEL_MIN_DIM {
            Par::rayon(0)
        } else {
            Par::Seq
        };
        faer::set_global_parallelism(par);
        // Row-major copy for downhill's State (symmetric: the same numbers).
        let hess: Vec<f64> = (0..d * d).map(|k| a[(k / d, k % d)]).collect();
        let quadratic = Quadratic::dense(d, hess.clone(), None).unwrap();
        let problem = Problem::new(&quadratic);
        let state = State {
            iteration: 0,
            x: (0..d).map(|i| x[i]).collect(),
            f: 0.0,
            grad: (0..d).map(|i| g[i]).collect(),
            hess,
        };
        let mut newton = Newton::new(1.0);
        let mut x_next = vec![0.0; d];
        let (mut ours, mut direct) = (vec![], vec![]);
        let mut diff = 0.0_f64;
        for rep in 0..=reps {
            let t = Instant::now();
            newton.step(&problem, &state, &mut x_next).unwrap();
            let ours_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let llt = a.llt(Side::Lower).expect("SPD");
            let p = llt.solve(&g);
            let xn = &x - &p;
            let direct_s = t.elapsed().as_secs_f64();
            if rep > 0 {
                ours.push(ours_s);
                direct.push(direct_s);
            }
            diff = (0..d).fold(0.0, |m, i| m.max((xn[i] - x_next[i]).abs()));
        }
        let (o, f) = (median(&mut ours), median(&mut direct));
        println!(
            "d = {d} ({}): Newton::step {:.2} ms, faer llt+solve {:.2} ms, ratio {:.2}; max |x_ours - x_faer| = {diff:.1e}",
            if par == Par::Seq { "1 thread" } else { "rayon" },
            o * 1e3,
            f * 1e3,
            o / f
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let d = if quick { 2_000_000 } else { 20_000_000 };
    gd_section(d, if quick { 2 } else { 5 });
    generic_section(if quick { 200_000 } else { 2_000_000 });
    newton_section(if quick { 3 } else { 9 });
}
