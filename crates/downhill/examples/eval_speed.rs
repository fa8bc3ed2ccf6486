//! Formula evaluation speed against hand-written Rust, side by side in one
//! run: `cargo run --release -p downhill --example eval_speed [-- --quick]`.
//!
//! For each function: value+gradient and value+gradient+Hessian through
//! `Formula` and through a hand-written closure of the same function (and,
//! for reference, through `num-dual` via `objective::AutoDiff`), as ns per
//! call over 1024 cycled points; then the lane API against the scalar one
//! on the W2 workload (a grid of independent gradient-descent runs on
//! `x*cos(0.15*pi*x)`), in Mcell-steps/s.

use std::hint::black_box;
use std::time::Instant;

use downhill::formula::{Formula, Simd, LANES};
use downhill::objective::{AutoDiff, DualFunction, Objective};
use num_dual::DualNumCopy;

const C: f64 = 0.15 * std::f64::consts::PI;

/// ns per call of each of `fs`: the fastest of `rounds` timings of
/// `calls` calls, the variants interleaved round by round so that all see
/// the same machine load (the minimum filters out other jobs' bursts).
fn time_ns<const K: usize>(
    rounds: usize,
    calls: usize,
    mut fs: [&mut dyn FnMut(usize) -> f64; K],
) -> [f64; K] {
    let mut sink = 0.0;
    let mut best = [f64::INFINITY; K];
    for round in 0..=rounds {
        for (f, best) in fs.iter_mut().zip(&mut best) {
            let start = Instant::now();
            for i in 0..calls {
                sink += f(i);
            }
            let ns = start.elapsed().as_secs_f64() * 1e9 / calls as f64;
            // Round 0 warms up.
            if round > 0 {
                *best = best.min(ns);
            }
        }
    }
    black_box(sink);
    best
}

/// Deterministic points in `[low, high]^dim`.
fn points(dim: usize, low: f64, high: f64) -> Vec<Vec<f64>> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    (0..1024)
        .map(|_| {
            (0..dim)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    low + (high - low) * ((state >> 11) as f64 / (1u64 << 53) as f64)
                })
                .collect()
        })
        .collect()
}

type Grad = fn(&[f64], &mut [f64]) -> f64;
type Hess = fn(&[f64], &mut [f64], &mut [f64]) -> f64;

fn cosine_grad(x: &[f64], g: &mut [f64]) -> f64 {
    let (s, c) = (C * x[0]).sin_cos();
    g[0] = c - C * x[0] * s;
    x[0] * c
}
fn cosine_hess(x: &[f64], g: &mut [f64], h: &mut [f64]) -> f64 {
    let (s, c) = (C * x[0]).sin_cos();
    g[0] = c - C * x[0] * s;
    h[0] = -2.0 * C * s - x[0] * C * C * c;
    x[0] * c
}
fn lse_grad(x: &[f64], g: &mut [f64]) -> f64 {
    let (u, v) = (x[0].exp(), (-2.0 * x[0] - 3.0).exp());
    let s = u + v;
    g[0] = (u - 2.0 * v) / s;
    s.ln()
}
fn lse_hess(x: &[f64], g: &mut [f64], h: &mut [f64]) -> f64 {
    let (u, v) = (x[0].exp(), (-2.0 * x[0] - 3.0).exp());
    let s = u + v;
    let slope = (u - 2.0 * v) / s;
    g[0] = slope;
    h[0] = (u + 4.0 * v) / s - slope * slope;
    s.ln()
}
fn quadratic_grad(x: &[f64], g: &mut [f64]) -> f64 {
    g[0] = 2.0 * x[0];
    g[1] = 4.0 * x[1];
    x[0] * x[0] + 2.0 * (x[1] * x[1])
}
fn quadratic_hess(x: &[f64], g: &mut [f64], h: &mut [f64]) -> f64 {
    g[0] = 2.0 * x[0];
    g[1] = 4.0 * x[1];
    h.copy_from_slice(&[2.0, 0.0, 0.0, 4.0]);
    x[0] * x[0] + 2.0 * (x[1] * x[1])
}
fn rosenbrock_grad(x: &[f64], g: &mut [f64]) -> f64 {
    let (a, b) = (x[0], x[1]);
    let d = b - a * a;
    g[0] = -400.0 * a * d - 2.0 * (1.0 - a);
    g[1] = 200.0 * d;
    100.0 * d * d + (1.0 - a) * (1.0 - a)
}
fn rosenbrock_hess(x: &[f64], g: &mut [f64], h: &mut [f64]) -> f64 {
    let (a, b) = (x[0], x[1]);
    let d = b - a * a;
    g[0] = -400.0 * a * d - 2.0 * (1.0 - a);
    g[1] = 200.0 * d;
    h[0] = 1200.0 * a * a - 400.0 * b + 2.0;
    h[1] = -400.0 * a;
    h[2] = -400.0 * a;
    h[3] = 200.0;
    100.0 * d * d + (1.0 - a) * (1.0 - a)
}

struct CosineDual;
impl DualFunction<1> for CosineDual {
    fn eval<D: DualNumCopy<Primitive = f64>>(&self, x: [D; 1]) -> D {
        x[0] * (x[0] * C).cos()
    }
}
struct LseDual;
impl DualFunction<1> for LseDual {
    fn eval<D: DualNumCopy<Primitive = f64>>(&self, x: [D; 1]) -> D {
        (x[0].exp() + (x[0] * -2.0 - 3.0).exp()).ln()
    }
}
struct QuadraticDual;
impl DualFunction<2> for QuadraticDual {
    fn eval<D: DualNumCopy<Primitive = f64>>(&self, x: [D; 2]) -> D {
        x[0] * x[0] + x[1] * x[1] * 2.0
    }
}
struct RosenbrockDual;
impl DualFunction<2> for RosenbrockDual {
    fn eval<D: DualNumCopy<Primitive = f64>>(&self, x: [D; 2]) -> D {
        let d = x[1] - x[0] * x[0];
        let e = -x[0] + 1.0;
        d * d * 100.0 + e * e
    }
}

struct Case {
    name: &'static str,
    source: &'static str,
    dim: usize,
    range: (f64, f64),
    grad: Grad,
    hess: Hess,
    dual: Box<dyn Objective>,
}

fn scalar_cases(rounds: usize, calls: usize) {
    let cases = [
        Case {
            name: "x*cos(0.15*pi*x)",
            source: "x*cos(0.15*pi*x)",
            dim: 1,
            range: (-10.0, 10.0),
            grad: cosine_grad,
            hess: cosine_hess,
            dual: Box::new(AutoDiff::new(CosineDual)),
        },
        Case {
            name: "log(exp(x)+exp(-2*x-3))",
            source: "log(exp(x)+exp(-2*x-3))",
            dim: 1,
            range: (-5.0, 5.0),
            grad: lse_grad,
            hess: lse_hess,
            dual: Box::new(AutoDiff::new(LseDual)),
        },
        Case {
            name: "x1^2+2*x2^2",
            source: "x1^2+2*x2^2",
            dim: 2,
            range: (-5.0, 5.0),
            grad: quadratic_grad,
            hess: quadratic_hess,
            dual: Box::new(AutoDiff::new(QuadraticDual)),
        },
        Case {
            name: "rosenbrock",
            source: "100*(x2-x1^2)^2+(1-x1)^2",
            dim: 2,
            range: (-2.0, 2.0),
            grad: rosenbrock_grad,
            hess: rosenbrock_hess,
            dual: Box::new(AutoDiff::new(RosenbrockDual)),
        },
    ];
    println!("## Scalar: ns per call (fastest of {rounds} interleaved rounds of {calls} calls)\n");
    println!("| function | mode | hand-written | formula | ratio | num-dual | ratio |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    let only = std::env::args()
        .skip_while(|a| a != "--only")
        .nth(1)
        .unwrap_or_default();
    for case in cases
        .iter()
        .filter(|case| case.name.contains(only.as_str()))
    {
        let f = Formula::parse(case.source).expect("parses");
        let xs = points(case.dim, case.range.0, case.range.1);
        let n = case.dim;
        let (mut g, mut h) = (vec![0.0; n], vec![0.0; n * n]);
        let (mut g2, mut h2, mut g3, mut h3) = (g.clone(), h.clone(), g.clone(), h.clone());
        let at = |i: usize| black_box(&xs[i & 1023][..]);
        let [hand, formula, dual] = time_ns(
            rounds,
            calls,
            [
                &mut |i| (case.grad)(at(i), &mut g) + g[0],
                &mut |i| f.value_gradient(at(i), &mut g2) + g2[0],
                &mut |i| case.dual.value_gradient(at(i), &mut g3) + g3[0],
            ],
        );
        println!(
            "| {} | value+grad | {hand:.1} | {formula:.1} | {:.2} | {dual:.1} | {:.2} |",
            case.name,
            formula / hand,
            dual / hand
        );
        let [hand, formula, dual] = time_ns(
            rounds,
            calls,
            [
                &mut |i| (case.hess)(at(i), &mut g, &mut h) + g[0] + h[0],
                &mut |i| f.value_gradient_hessian(at(i), &mut g2, &mut h2) + g2[0] + h2[0],
                &mut |i| case.dual.value_gradient_hessian(at(i), &mut g3, &mut h3) + g3[0] + h3[0],
            ],
        );
        println!(
            "| {} | +Hessian | {hand:.1} | {formula:.1} | {:.2} | {dual:.1} | {:.2} |",
            case.name,
            formula / hand,
            dual / hand
        );
    }
    println!();
}

/// The W2 grid: starting points and step sizes.
fn grid_x0(i: usize, n: usize) -> f64 {
    -20.0 + 40.0 * i as f64 / (n - 1) as f64
}
fn grid_eta(j: usize, n: usize) -> f64 {
    0.01 + 2.99 * j as f64 / (n - 1) as f64
}

/// One grid row (fixed `x0`, all step sizes): `steps` gradient-descent
/// steps per cell with `how`, final `x` into `out`.
fn row(how: &How, f: &Formula, i: usize, n: usize, steps: usize, out: &mut [f64]) {
    let x0 = grid_x0(i, n);
    match how {
        How::Hand => {
            for (j, o) in out.iter_mut().enumerate() {
                let eta = grid_eta(j, n);
                let mut x = x0;
                for _ in 0..steps {
                    let (s, c) = (C * x).sin_cos();
                    x -= eta * (c - C * x * s);
                }
                *o = x;
            }
        }
        How::Scalar => {
            let mut g = [0.0];
            for (j, o) in out.iter_mut().enumerate() {
                let eta = grid_eta(j, n);
                let mut x = [x0];
                for _ in 0..steps {
                    f.value_gradient(&x, &mut g);
                    x[0] -= eta * g[0];
                }
                *o = x[0];
            }
        }
        How::Lanes(simd) => {
            let (mut value, mut grad) = ([0.0; LANES], [[0.0; LANES]]);
            for (c, chunk) in out.chunks_mut(LANES).enumerate() {
                let eta: [f64; LANES] =
                    std::array::from_fn(|l| grid_eta((c * LANES + l).min(n - 1), n));
                let mut x = [[x0; LANES]];
                for _ in 0..steps {
                    f.value_gradient_lanes_with(*simd, &x, &mut value, &mut grad);
                    for l in 0..LANES {
                        x[0][l] -= eta[l] * grad[0][l];
                    }
                }
                chunk.copy_from_slice(&x[0][..chunk.len()]);
            }
        }
    }
}

enum How {
    Hand,
    Scalar,
    Lanes(Simd),
}

/// Runs the whole grid on `threads` threads (rows split in contiguous
/// blocks); returns seconds.
fn grid(how: &How, f: &Formula, n: usize, steps: usize, threads: usize, out: &mut [f64]) -> f64 {
    let start = Instant::now();
    let rows_per = n.div_ceil(threads);
    std::thread::scope(|scope| {
        for (t, block) in out.chunks_mut(rows_per * n).enumerate() {
            scope.spawn(move || {
                for (r, cells) in block.chunks_mut(n).enumerate() {
                    row(how, f, t * rows_per + r, n, steps, cells);
                }
            });
        }
    });
    start.elapsed().as_secs_f64()
}

fn lanes_throughput(n: usize, steps: usize, rounds: usize) {
    let f = Formula::parse("x*cos(0.15*pi*x)").expect("parses");
    let detected = Simd::detected();
    println!(
        "## W2 grid {n}x{n}, {steps} gradient-descent steps on x*cos(0.15*pi*x): Mcell-steps/s (best of {rounds}); detected SIMD: {}\n",
        detected.name()
    );
    println!("| implementation | threads | Mcell-steps/s | s per grid | agree with hand-written |");
    println!("|---|---:|---:|---:|---:|");
    let mut reference = vec![0.0; n * n];
    grid(&How::Hand, &f, n, steps, 2, &mut reference);
    let mut out = vec![0.0; n * n];
    let mut variants = vec![
        ("hand-written scalar (std sin_cos)", How::Hand),
        ("Formula::value_gradient (scalar)", How::Scalar),
        (
            "Formula::value_gradient_lanes, portable",
            How::Lanes(Simd::Portable),
        ),
    ];
    if detected >= Simd::Avx2 {
        variants.push((
            "Formula::value_gradient_lanes, avx2",
            How::Lanes(Simd::Avx2),
        ));
    }
    if detected >= Simd::Avx512 {
        variants.push((
            "Formula::value_gradient_lanes, avx512",
            How::Lanes(Simd::Avx512),
        ));
    }
    for threads in [1, 2] {
        for (name, how) in &variants {
            let seconds = (0..rounds)
                .map(|_| grid(how, &f, n, steps, threads, &mut out))
                .fold(f64::INFINITY, f64::min);
            let agree = out
                .iter()
                .zip(&reference)
                .filter(|(a, b)| (*a - *b).abs() <= 1e-6 * (1.0 + b.abs()))
                .count() as f64
                / (n * n) as f64;
            println!(
                "| {name} | {threads} | {:.1} | {seconds:.3} | {agree:.4} |",
                (n * n * steps) as f64 / seconds / 1e6
            );
        }
    }
    println!();
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (rounds, calls) = if quick { (3, 200_000) } else { (7, 2_000_000) };
    scalar_cases(rounds, calls);
    if quick {
        lanes_throughput(300, 50, 3);
    } else {
        lanes_throughput(1000, 50, 5);
    }
}
