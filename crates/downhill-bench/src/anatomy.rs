//! Where W1's time goes between the hand loop and `driver::run`.
//!
//! `cargo run --release -p downhill-bench -- --w1-anatomy REPS`
//!
//! W1's step is bound by the latency of `sin`/`cos` and of what depends on
//! its result, so what costs is what lies on that dependency chain, not the
//! instruction count. This mode times, in `REPS` alternating repetitions of
//! 2·10⁶ steps each, loops that add one such difference at a time:
//!
//! - the derivative's order: the hand's `cos − (c·x)·sin` (the product `c·x`
//!   is ready before `sincos` returns) against the compiled formula's
//!   `cos + (c·(−sin))·x` (both multiplications after it); the formula's
//!   order is fixed by its interpreter, whose bits the machine code matches;
//! - `x` and `∇f` passed through memory, as the driver and an objective
//!   pass them (two store-to-load forwardings on the chain);
//! - the driver with hand-written objectives computing value and gradient
//!   in one call, in either order: what the driver and its slice interface
//!   cost with the best objective one could write.
//!
//! It prints each loop's median and fastest time per step and the ratio of
//! the medians to the hand loop's.

use std::hint::black_box;
use std::time::Instant;

use downhill::driver::{run, Options};
use downhill::formula::Formula;
use downhill::method::GradientDescent;
use downhill::objective::Objective;

use crate::work_w1::{evaluation_loop, hand_loop, C, ETA, FORMULA, X0};

const STEPS: usize = 2_000_000;

/// A loop's name and one run of it, returning its final `x`.
type Loop<'a> = (&'static str, Box<dyn Fn() -> f64 + 'a>);

/// The hand loop with the gradient in the compiled formula's order.
#[inline(never)]
fn formula_order_loop(steps: usize) -> f64 {
    let mut x = black_box(X0);
    let eta = black_box(ETA);
    for _ in 0..steps {
        let (s, c) = (C * x).sin_cos();
        x -= eta * (c + (C * -s) * x);
    }
    x
}

/// The hand loop with `x` and `∇f` stored and reloaded every step.
#[inline(never)]
fn memory_loop(steps: usize) -> f64 {
    let mut x = [black_box(X0)];
    let mut grad = [0.0];
    let eta = black_box(ETA);
    for _ in 0..steps {
        let x = black_box(&mut x);
        let (s, c) = (C * x[0]).sin_cos();
        let grad = black_box(&mut grad);
        grad[0] = c - C * x[0] * s;
        let grad = black_box(grad);
        x[0] -= eta * grad[0];
    }
    x[0]
}

/// `x cos(c x)` written by hand: value and gradient from one `sin_cos`, the
/// gradient in the hand's order (`HAND`) or in the formula's.
struct HandWritten<const HAND: bool>;

impl<const HAND: bool> Objective for HandWritten<HAND> {
    fn dim(&self) -> usize {
        1
    }
    fn value(&self, x: &[f64]) -> f64 {
        x[0] * (C * x[0]).cos()
    }
    fn value_gradient(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let (s, c) = (C * x[0]).sin_cos();
        grad[0] = if HAND {
            c - C * x[0] * s
        } else {
            c + (C * -s) * x[0]
        };
        x[0] * c
    }
    fn value_gradient_hessian(&self, x: &[f64], grad: &mut [f64], hess: &mut [f64]) -> f64 {
        let (s, c) = (C * x[0]).sin_cos();
        hess[0] = -2.0 * C * s - C * C * x[0] * c;
        self.value_gradient(x, grad)
    }
}

fn driver_loop(objective: &dyn Objective, steps: usize) -> f64 {
    let options = Options::book(steps);
    match run(objective, &mut GradientDescent::new(ETA), &[X0], &options) {
        Ok(result) => result.x[0],
        Err(_) => f64::NAN,
    }
}

pub fn run_anatomy(reps: usize) {
    let formula = Formula::parse(FORMULA).expect("the W1 formula parses");
    let loops: [Loop; 7] = [
        (
            "hand loop: x in a register, cos − (c·x)·sin",
            Box::new(|| hand_loop(STEPS)),
        ),
        (
            "the same, the formula's order cos + (c·(−sin))·x",
            Box::new(|| formula_order_loop(STEPS)),
        ),
        (
            "the hand loop, x and ∇f through memory",
            Box::new(|| memory_loop(STEPS)),
        ),
        (
            "bare loop calling Formula::value_gradient",
            Box::new(|| evaluation_loop(&formula, STEPS)),
        ),
        (
            "driver::run + Formula",
            Box::new(|| driver_loop(&formula, STEPS)),
        ),
        (
            "driver::run + hand-written objective, formula's order",
            Box::new(|| driver_loop(&HandWritten::<false>, STEPS)),
        ),
        (
            "driver::run + hand-written objective, hand's order",
            Box::new(|| driver_loop(&HandWritten::<true>, STEPS)),
        ),
    ];
    let mut times = vec![Vec::with_capacity(reps); loops.len()];
    for _ in 0..reps {
        for (k, (_, once)) in loops.iter().enumerate() {
            let start = Instant::now();
            black_box(once());
            times[k].push(start.elapsed().as_secs_f64() / STEPS as f64 * 1e9);
        }
    }
    for t in &mut times {
        t.sort_by(f64::total_cmp);
    }
    let reference = times[0][reps / 2];
    println!("{reps} alternating repetitions of {STEPS} steps each; ns per step");
    println!(
        "{:<56} {:>7} {:>7} {:>7}",
        "loop", "median", "fastest", "ratio"
    );
    for ((name, _), t) in loops.iter().zip(&times) {
        let median = t[reps / 2];
        println!(
            "{name:<56} {median:>7.2} {:>7.2} {:>6.3}x",
            t[0],
            median / reference
        );
    }
}
