//! Times the sweep engine alone on the perf-anchor workload W2: a
//! 1000 × 1000 grid of (x0 in [−20, 20], η in [0.01, 3]) × 50 fixed
//! gradient-descent steps on `x cos(0.15πx)`.
//!
//! ```text
//! cargo run --release -p downhill --example sweep_speed -- [N] [STEPS] [REPS] [ENGINE]
//! ```
//!
//! Prints the median wall time of `sweep::run` (cells and clustering) over
//! `REPS` runs after one warm-up, and Mcell-steps/s; ENGINE is `lanes`
//! (default) or `driver`. The thread count is rayon's (`RAYON_NUM_THREADS`).

use std::time::Instant;

use downhill::formula::Formula;
use downhill::method::{MethodName, MethodSpec};
use downhill::sweep::{self, Axis, Engine, Grid, SweepSpec};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: usize| {
        args.get(i)
            .and_then(|s| s.parse::<f64>().ok())
            .map_or(default, |v| v as usize)
    };
    let (n, steps, reps) = (arg(0, 1000), arg(1, 50), arg(2, 5));
    let engine = match args.get(3).map(String::as_str) {
        Some("driver") => Engine::Driver,
        _ => Engine::Lanes,
    };
    let formula = Formula::parse("x*cos(0.15*pi*x)").expect("the formula parses");
    let grid = Grid::new(
        vec![Axis::linspace(-20.0, 20.0, n).expect("a range")],
        Some(Axis::linspace(0.01, 3.0, n).expect("a range")),
    )
    .expect("a grid");
    let mut spec = SweepSpec::new(formula, MethodSpec::new(MethodName::Gd), grid);
    spec.steps = steps;
    spec.engine = engine;

    let mut times = Vec::new();
    let mut last = None;
    for rep in 0..=reps {
        let t0 = Instant::now();
        let result = sweep::run(&spec, None).expect("the sweep runs");
        let t = t0.elapsed().as_secs_f64();
        if rep > 0 {
            times.push(t);
        }
        last = Some(result);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let result = last.expect("at least one run");
    let work = (n * n * steps) as f64;
    println!(
        "sweep {n}x{n}, {steps} steps, engine {}, {} threads: median {:.3} s over {reps} runs (min {:.3}, max {:.3}), {:.0} Mcell-steps/s",
        result.engine().name(),
        result.threads(),
        median,
        times[0],
        times[times.len() - 1],
        work / median / 1e6
    );
    let check: f64 = (0..result.len())
        .map(|i| result.x(i)[0])
        .filter(|x| x.abs() < 100.0)
        .sum();
    println!(
        "minima: {}, unsettled: {}, check (sum of final x with |x| < 100): {check:.6}",
        result.minima().len(),
        result.unsettled()
    );
}
