//! `cargo bench -p downhill --bench formula`: evaluating a parsed formula
//! (value, value+gradient, value+gradient+Hessian) on the chapter's
//! functions. The side-by-side comparison with hand-written code is
//! `downhill-bench --only E` (see BENCHMARKS.md).

use divan::{black_box, Bencher};
use downhill::formula::Formula;

fn main() {
    divan::main();
}

const FORMULAS: [&str; 4] = [
    "x*cos(0.15*pi*x)",
    "log(exp(x)+exp(-2*x-3))",
    "x1^2+2*x2^2",
    "100*(x2-x1^2)^2+(1-x1)^2",
];

fn point(f: &Formula) -> Vec<f64> {
    [-1.2, 1.0][..f.dim()].to_vec()
}

#[divan::bench(args = FORMULAS)]
fn parse(bencher: Bencher, src: &str) {
    bencher.bench(|| Formula::parse(black_box(src)).unwrap());
}

#[divan::bench(args = FORMULAS)]
fn value(bencher: Bencher, src: &str) {
    let f = Formula::parse(src).unwrap();
    let x = point(&f);
    bencher.bench_local(|| f.value(black_box(&x)));
}

#[divan::bench(args = FORMULAS)]
fn value_gradient(bencher: Bencher, src: &str) {
    let f = Formula::parse(src).unwrap();
    let x = point(&f);
    let mut g = vec![0.0; f.dim()];
    bencher.bench_local(|| f.value_gradient(black_box(&x), &mut g));
}

#[divan::bench(args = FORMULAS)]
fn value_gradient_hessian(bencher: Bencher, src: &str) {
    let f = Formula::parse(src).unwrap();
    let x = point(&f);
    let mut g = vec![0.0; f.dim()];
    let mut h = vec![0.0; f.dim() * f.dim()];
    bencher.bench_local(|| f.value_gradient_hessian(black_box(&x), &mut g, &mut h));
}
