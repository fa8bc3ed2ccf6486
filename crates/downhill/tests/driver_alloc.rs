//! What a short run allocates once the thread's working buffers are warm: a
//! counting global allocator around repeated Newton runs on 2-D Rosenbrock
//! (W5 Newton).
//!
//! One test only, so that no other test thread allocates while counting.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use downhill::driver::{run, Options};
use downhill::method::Newton;
use downhill::objective::Manual;

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
fn a_warm_newton_run_allocates_only_what_it_returns() {
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
    for _ in 0..3 {
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let result = solve();
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        // The result's x and x0, the trace's records and iterates, the
        // method's description; the gradients and the Hessian are the
        // previous run's.
        assert_eq!(allocations, 5);
        assert_eq!(result.x, first.x);
        assert_eq!(result.trace.len(), 21);
    }
}
