//! Large runs allocate nothing per step: a counting global allocator (so
//! this file is its own test binary, with one test: the count is global).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use downhill::driver::{Options, Status};
use downhill::large::{
    run_separable, run_vector, Coef, Csr, LeastSquares, Matrix, Quadratic, Separable, Update,
};
use downhill::method::{Method, Newton, State};
use downhill::objective::{Objective, Problem};
use downhill::trace::TracePolicy;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let result = f();
    (ALLOCATIONS.load(Ordering::SeqCst) - before, result)
}

const N: usize = 1_000_000;

fn options(max_iterations: usize) -> Options {
    Options {
        max_iterations,
        trace: TracePolicy::Ends,
        ..Options::default()
    }
}

/// Allocations of a converging run and of a 1-step run of the same setup:
/// equal means nothing is allocated per step.
fn per_step(name: &str, run: impl Fn(usize) -> (Status, usize)) {
    let (few, (_, one)) = allocations(|| run(1));
    assert_eq!(one, 1, "{name}: the short run makes one step");
    let (many, (status, iterations)) = allocations(|| run(10_000));
    assert_eq!(status, Status::Converged, "{name}");
    assert!(iterations > 5, "{name}: {iterations} iterations");
    assert_eq!(
        many, few,
        "{name}: {iterations} steps allocated {many} times, 1 step {few} times"
    );
}

#[test]
fn large_runs_allocate_nothing_per_step() {
    // Warm-up: the thread pool, CPU feature detection.
    let warm = Separable::new(N, [Coef::Constant(1.0)], |x, [a]| x * x * a).unwrap();
    let _ = run_separable(
        &warm,
        Update::gradient(0.1),
        vec![1.0; N],
        &options(2),
        &mut |_, _| {},
    );

    // Gradient descent in place on Σ aᵢxᵢ², aᵢ stored.
    let a: Vec<f64> = (0..N).map(|i| 1.0 + (i % 7) as f64 / 7.0).collect();
    let quadratic = Separable::new(N, [Coef::values(a)], |x, [a]| x * x * a).unwrap();
    per_step("gd, separable", |steps| {
        let r = run_separable(
            &quadratic,
            Update::gradient(0.2),
            vec![1.0; N],
            &options(steps),
            &mut |_, _| {},
        )
        .unwrap();
        (r.status, r.iterations)
    });

    // Diagonal preconditioning in place on Σ xᵢ⁴/4 + aᵢxᵢ²/2, aᵢ generated.
    let quartic = Separable::new(N, [Coef::linspace(1.0, 2.0)], |x, [a]| {
        x * x * x * x * 0.25 + x * x * a * 0.5
    })
    .unwrap();
    per_step("precond, separable", |steps| {
        let r = run_separable(
            &quartic,
            Update::diagonal(1.0, true),
            vec![2.0; N],
            &options(steps),
            &mut |_, _| {},
        )
        .unwrap();
        (r.status, r.iterations)
    });

    // The vector runner on a sparse quadratic (gd and precond).
    let mut triplets = Vec::with_capacity(3 * N);
    for i in 0..N {
        triplets.push((i, i, 4.0 + 2.0 * i as f64 / N as f64));
        if i + 1 < N {
            triplets.push((i, i + 1, -1.0));
            triplets.push((i + 1, i, -1.0));
        }
    }
    let sparse = Quadratic::sparse(Csr::from_triplets(N, N, triplets), Some(vec![1.0; N])).unwrap();
    for update in [Update::gradient(0.12), Update::diagonal(0.9, false)] {
        per_step(&format!("{update:?}, sparse quadratic"), |steps| {
            let r = run_vector(
                &sparse,
                update,
                vec![0.0; N],
                &options(steps),
                &mut |_, _| {},
            )
            .unwrap();
            (r.status, r.iterations)
        });
    }

    // Objective evaluations allocate nothing (the generic driver's path).
    let x = vec![0.5; N];
    let mut g = vec![0.0; N];
    let ls = LeastSquares::new(
        Matrix::Diagonal((0..N).map(|i| 1.0 + (i % 3) as f64).collect()),
        vec![1.0; N],
    )
    .unwrap();
    let objectives: [(&str, &dyn Objective); 3] = [
        ("separable", &quadratic),
        ("quadratic", &sparse),
        ("least squares", &ls),
    ];
    for (name, f) in objectives {
        f.value_gradient(&x, &mut g);
        let (count, _) = allocations(|| {
            for _ in 0..5 {
                f.value(&x);
                f.value_gradient(&x, &mut g);
                f.hessian_diagonal(&x, &mut g);
            }
        });
        assert_eq!(count, 0, "{name}: evaluations allocated");
    }

    // Newton keeps its factorization buffers: no allocation after the first step.
    let n = 200;
    let mut hess = vec![0.0; n * n];
    for i in 0..n {
        hess[i * n + i] = 4.0;
        if i + 1 < n {
            hess[i * n + i + 1] = -1.0;
            hess[(i + 1) * n + i] = -1.0;
        }
    }
    let q = Quadratic::dense(n, hess.clone(), None).unwrap();
    let problem = Problem::new(&q);
    let state = State {
        iteration: 0,
        x: vec![1.0; n],
        f: 0.0,
        grad: vec![1.0; n],
        hess,
    };
    let mut newton = Newton::new(1.0);
    let mut x_next = vec![0.0; n];
    newton.step(&problem, &state, &mut x_next).unwrap();
    let (count, _) = allocations(|| {
        for _ in 0..5 {
            newton.step(&problem, &state, &mut x_next).unwrap();
        }
    });
    assert_eq!(count, 0, "Newton::step allocated after the first step");
}
