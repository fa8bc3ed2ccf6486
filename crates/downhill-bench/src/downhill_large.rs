//! W3's downhill rows: the library's large-dimension runs on the same
//! separable quadratic f(x) = Σ aᵢ xᵢ² (`downhill::large`).

use downhill::driver::{run as drive, Options};
use downhill::large::{run_separable, run_vector, Coef, FormulaTerm, Separable, Term, Update};
use downhill::method::GradientDescent;
use std::sync::Arc;

use crate::harness::{time, Impl, Measured, Sample};
use crate::sys::{current_rss, peak_rss, reset_peak_rss};
use crate::work_w3::{coefficient, start, ETA};

/// Row name of downhill's in-place separable run (the goal's row).
pub const ROW: &str = "downhill large::run_separable, closure term, stored a_i";
const FORMULA: &str = "downhill large::run_separable, FormulaTerm a*x^2, stored a_i";
const GENERATED: &str = "downhill large::run_separable, a_i generated (16 B/elem)";
const VECTOR: &str = "downhill large::run_vector (any Objective, 3 vectors)";
const DRIVER: &str = "downhill driver::run (generic path)";

/// Runs `once` with the peak RSS reset first: (result, seconds, growth of
/// the peak over the RSS before, in bytes).
fn measured<T>(once: impl FnOnce() -> T) -> (T, f64, Option<f64>) {
    let reset = reset_peak_rss();
    let before = current_rss();
    let (secs, out) = time(once);
    let growth = match (reset, before, peak_rss()) {
        (true, Some(b), Some(p)) => Some((p - b).max(0.0)),
        _ => None,
    };
    (out, secs, growth)
}

fn sample(
    name: &str,
    secs: f64,
    d: usize,
    steps: usize,
    bytes: f64,
    growth: Option<f64>,
    note: String,
) -> Measured {
    let mut m = Measured::new(name, Sample::new(secs, (d * steps) as f64))
        .extra("bytes_per_unit", bytes)
        .note(note);
    if let Some(g) = growth {
        m = m.extra("max_rss_growth", g);
    }
    m
}

/// `run_separable` on `objective`, `x` kept between samples.
fn separable_impl<T: Term + 'static>(
    name: &'static str,
    objective: Arc<Separable<T>>,
    bytes: f64,
    d: usize,
    options: Options,
) -> Impl {
    let mut x: Vec<f64> = (0..d).map(start).collect();
    Impl::new(name, move || {
        let x0 = std::mem::take(&mut x);
        let (run, secs, growth) = measured(|| {
            run_separable(
                objective.as_ref(),
                Update::gradient(ETA),
                x0,
                &options,
                &mut |_, _| {},
            )
        });
        let run = run.map_err(|e| e.to_string())?;
        let note = format!(
            "{} steps per sample ({}), the start evaluation included",
            run.iterations, run.status
        );
        let iterations = run.iterations;
        x = run.x;
        Ok(vec![sample(
            name,
            secs,
            d,
            iterations.max(1),
            bytes,
            growth,
            note,
        )])
    })
}

/// The downhill implementations at dimension `d`, `steps` steps per sample.
pub fn implementations(d: usize, steps: usize) -> Result<Vec<Impl>, String> {
    let a: Vec<f64> = (0..d).map(coefficient).collect();
    let stored = Arc::new(Separable::new(d, [Coef::values(a.clone())], |x, [a]| {
        x * x * a
    })?);
    let generated = Arc::new(Separable::new(
        d,
        [Coef::from_fn(coefficient)],
        |x, [a]| x * x * a,
    )?);
    let formula = Arc::new(Separable::with_term(
        d,
        vec![Coef::values(a)],
        vec!["a".into()],
        FormulaTerm::parse("a*x^2", &["a"]).map_err(|e| e.to_string())?,
    )?);
    let options = Options::book(steps);
    let mut impls = vec![
        separable_impl(ROW, stored.clone(), 24.0, d, options.clone()),
        separable_impl(GENERATED, generated, 16.0, d, options.clone()),
        separable_impl(FORMULA, formula, 24.0, d, options.clone()),
    ];
    {
        let objective = stored.clone();
        let options = options.clone();
        let mut x: Vec<f64> = (0..d).map(start).collect();
        impls.push(Impl::new(VECTOR, move || {
            let x0 = std::mem::take(&mut x);
            let (run, secs, growth) = measured(|| {
                run_vector(
                    objective.as_ref(),
                    Update::gradient(ETA),
                    x0,
                    &options,
                    &mut |_, _| {},
                )
            });
            let run = run.map_err(|e| e.to_string())?;
            let note = format!(
                "{} steps per sample ({}); nominal 24 B/elem",
                run.iterations, run.status
            );
            let iterations = run.iterations;
            x = run.x;
            Ok(vec![sample(
                VECTOR,
                secs,
                d,
                iterations.max(1),
                24.0,
                growth,
                note,
            )])
        }));
    }
    {
        let objective = stored;
        let x0: Vec<f64> = (0..d).map(start).collect();
        impls.push(Impl::new(DRIVER, move || {
            let (run, secs, growth) =
                measured(|| drive(objective.as_ref(), &mut GradientDescent::new(ETA), &x0, &options));
            let run = run.map_err(|e| e.to_string())?;
            let note = format!(
                "{} steps per sample ({}); the generic driver keeps several vectors per iterate; nominal 24 B/elem",
                run.iterations, run.status
            );
            Ok(vec![sample(DRIVER, secs, d, run.iterations.max(1), 24.0, growth, note)])
        }));
    }
    Ok(impls)
}
