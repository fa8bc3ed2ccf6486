//! What a run allocates once the thread's working buffers are warm: a
//! counting global allocator around repeated Newton runs on 2-D Rosenbrock
//! (W5 Newton), and L-BFGS and the default method's runs of two lengths
//! on 6-D Rosenbrock.
//!
//! One test only, so that no other test thread allocates while counting.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use downhill::driver::{run, Options};
use downhill::method::{Lbfgs, Method, Newton, RobustNewton};
use downhill::objective::Manual;
use downhill::trace::TracePolicy;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn warm_runs_allocate_what_they_return_and_nothing_per_step() {
    let rosenbrock = Manual::new(
        2,
        |x: &[f64]| 100.0 * (x[1] - x[0] * x[0]).powi(2) + (1.0 - x[0]).powi(2),
        |x: &[f64], g: &mut [f64]| {
            let t = x[1] - x[0] * x[0];
            g[0] = -400.0 * x[0] * t - 2.0 * (1.0 - x[0]);
            g[1] = 200.0 * t;
        },
        |x: &[f64], h: &mut [f64]| {
            h[0] = 1200.0 * x[0] * x[0] - 400.0 * x[1] + 2.0;
            h[1] = -400.0 * x[0];
            h[2] = -400.0 * x[0];
            h[3] = 200.0;
        },
    );
    let options = Options::book(20);
    let solve = || run(&rosenbrock, &mut Newton::new(1.0), &[-1.2, 1.0], &options).unwrap();
    let first = solve();
    // A dropped result leaves its trace's storage to the next run.
    drop(solve());
    for _ in 0..3 {
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let result = solve();
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        // The result's x and x0 and the method's description; the
        // gradients and the Hessian are the previous run's, and so are the
        // trace's records and iterates, that run's result being dropped.
        assert_eq!(allocations, 3, "a run after a dropped result");
        assert_eq!(result.x, first.x);
        assert_eq!(result.trace.len(), 21);
    }
    // While earlier results are alive, a run's trace has storage of its own.
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let (second, third) = (solve(), solve());
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(allocations, 3 + 5, "two runs with their results alive");
    assert_eq!((&second.x, &third.x), (&first.x, &first.x));
    // Reused or not, a trace holds its own run's records only.
    assert!(second.trace.records().eq(first.trace.records()));
    assert!(third.trace.records().eq(first.trace.records()));

    // L-BFGS on 6-D Rosenbrock (the line search on kept buffers, n > 4):
    // once its pairs are full, a step allocates nothing, so a run of 30
    // steps allocates what one of 10 does.
    let n = 6;
    let extended = Manual::new(
        n,
        |x: &[f64]| {
            (0..x.len() - 1)
                .map(|i| 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2))
                .sum()
        },
        |x: &[f64], g: &mut [f64]| {
            g.fill(0.0);
            for i in 0..x.len() - 1 {
                let t = x[i + 1] - x[i] * x[i];
                g[i] += -400.0 * x[i] * t - 2.0 * (1.0 - x[i]);
                g[i + 1] += 200.0 * t;
            }
        },
        |x: &[f64], h: &mut [f64]| {
            let n = x.len();
            h.fill(0.0);
            for i in 0..n - 1 {
                h[i * n + i] += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0;
                h[i * n + i + 1] = -400.0 * x[i];
                h[(i + 1) * n + i] = -400.0 * x[i];
                h[(i + 1) * n + i + 1] += 200.0;
            }
        },
    );
    let x0: Vec<f64> = (0..n)
        .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
        .collect();
    let mut lbfgs = Lbfgs::new(5);
    let mut robust = RobustNewton::new();
    let count = |method: &mut dyn Method, steps: usize| {
        let options = Options {
            max_iterations: steps,
            grad_tol: 0.0,
            x_tol: 0.0,
            f_tol: 0.0,
            trace: TracePolicy::Ends,
            ..Options::default()
        };
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let result = run(&extended, method, &x0, &options).unwrap();
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        assert_eq!(result.iterations, steps);
        allocations
    };
    count(&mut lbfgs, 30);
    let short = count(&mut lbfgs, 10);
    let long = count(&mut lbfgs, 30);
    assert_eq!(
        long, short,
        "L-BFGS: {short} allocations in 10 steps, {long} in 30"
    );

    // The default method (Newton with a shift and a Wolfe search) keeps its
    // factorization, direction and search buffers: the same.
    count(&mut robust, 12);
    let short = count(&mut robust, 4);
    let long = count(&mut robust, 12);
    assert_eq!(
        long, short,
        "RobustNewton: {short} allocations in 4 steps, {long} in 12"
    );
}
