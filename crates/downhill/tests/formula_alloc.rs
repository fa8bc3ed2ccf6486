//! Formula evaluation allocates nothing once warmed up: a counting global
//! allocator around repeated calls of every evaluation path.
//!
//! One test only, so that no other test thread allocates while counting.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use downhill::formula::{Formula, LANES};

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

/// Every evaluation path of `formula` at a point near `at`.
fn evaluate_all(formula: &Formula, at: f64, sink: &mut f64) {
    let n = formula.dim();
    let mut x = [0.0; 8];
    let mut grad = [0.0; 8];
    let mut hess = [0.0; 64];
    for (i, xi) in x[..n].iter_mut().enumerate() {
        *xi = at + 0.1 * i as f64;
    }
    *sink += formula.value(&x[..n]);
    *sink += formula.value_gradient(&x[..n], &mut grad[..n]);
    *sink += formula.value_gradient_hessian(&x[..n], &mut grad[..n], &mut hess[..n * n]);
    let lanes = [[at; LANES]; 8];
    let mut value = [0.0; LANES];
    let mut lane_grad = [[0.0; LANES]; 8];
    formula.value_gradient_lanes(&lanes[..n], &mut value, &mut lane_grad[..n]);
    *sink += value[0] + grad[0] + hess[0] + lane_grad[0][0];
}

#[test]
fn evaluation_does_not_allocate_after_warm_up() {
    let formulas: Vec<Formula> = [
        "x*cos(0.15*pi*x)",
        "log(exp(x)+exp(-2*x-3))",
        "x1^2+2*x2^2",
        "100*(x2-x1^2)^2+(1-x1)^2",
        "x*y*z + sin(x)*exp(-y^2) + z^3/3",
        "x1^2 + x2*x3 - sin(x4*x5) + exp(0.1*x1*x5) + x2^3/(1 + x4^2)",
        "x1*x2*x3*x4*x5*x6 + tanh(x1 - x6) + min(x1, x2)^2",
    ]
    .iter()
    .map(|source| Formula::parse(source).expect("parses"))
    .collect();
    let mut sink = 0.0;
    // Warm-up grows the thread's scratch buffers to the largest tape.
    for formula in &formulas {
        evaluate_all(formula, 0.7, &mut sink);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for round in 0..100 {
        for formula in &formulas {
            evaluate_all(formula, 0.3 + 0.01 * f64::from(round), &mut sink);
        }
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert!(sink.is_finite());
    assert_eq!(after - before, 0, "allocations during evaluation");
}
