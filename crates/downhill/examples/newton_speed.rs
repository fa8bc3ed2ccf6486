//! Newton's method on 2-D Rosenbrock (W5 Newton) through `driver::run`, for
//! profiling: `cargo run --release -p downhill --example newton_speed -- [solves]`
//! prints µs per solve and heap allocations per solve.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

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

fn rosen_fg(x: [f64; 2]) -> (f64, [f64; 2]) {
    let t = x[1] - x[0] * x[0];
    let u = 1.0 - x[0];
    (
        100.0 * t * t + u * u,
        [-400.0 * x[0] * t - 2.0 * u, 200.0 * t],
    )
}

fn rosen_h(x: [f64; 2]) -> [f64; 4] {
    let off = -400.0 * x[0];
    [1200.0 * x[0] * x[0] - 400.0 * x[1] + 2.0, off, off, 200.0]
}

fn main() {
    let solves: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let objective = Manual::new(
        2,
        |x: &[f64]| rosen_fg([x[0], x[1]]).0,
        |x: &[f64], g: &mut [f64]| g.copy_from_slice(&rosen_fg([x[0], x[1]]).1),
        |x: &[f64], h: &mut [f64]| h.copy_from_slice(&rosen_h([x[0], x[1]])),
    );
    let options = Options::book(20);
    let solve = || {
        let mut method = Newton::new(1.0);
        run(&objective, &mut method, black_box(&[-1.2, 1.0]), &options).unwrap()
    };
    let warm = solve();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let start = Instant::now();
    let mut sink = 0.0;
    for _ in 0..solves {
        sink += black_box(solve()).x[0];
    }
    let secs = start.elapsed().as_secs_f64();
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    println!(
        "{:.3} µs/solve, {:.1} allocations/solve, x = {:?}, sink {sink}",
        secs / solves as f64 * 1e6,
        allocations as f64 / solves as f64,
        warm.x
    );
}
