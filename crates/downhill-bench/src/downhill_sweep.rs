//! W2's downhill row: `downhill::sweep::run` on the same grid (fixed-step
//! gradient descent: the library's lanes engine).

use std::hint::black_box;

use downhill::formula::Formula;
use downhill::method::{MethodName, MethodSpec};
use downhill::sweep::{self, Axis, Grid, SweepSpec};

use crate::harness::{time, Impl, Measured, Sample};
use crate::work_w2::{agreement, ETA_RANGE, STEPS, X0_RANGE};

/// Row name of downhill's sweep.
pub const ROW: &str = "downhill::sweep";
/// Row name of downhill's sweep on one thread.
pub const ROW_SINGLE: &str = "downhill::sweep, 1 thread";

/// The downhill sweep implementation on the n × n grid; `reference` is the
/// scalar libm result for the agreement note.
pub fn implementations(
    n: usize,
    _x0s: &[f64],
    _etas: &[f64],
    reference: &[f64],
    units: f64,
) -> Result<Vec<Impl>, String> {
    let formula = Formula::parse("x*cos(0.15*pi*x)").map_err(|e| e.to_string())?;
    let grid = Grid::new(
        vec![Axis::linspace(X0_RANGE.0, X0_RANGE.1, n)?],
        Some(Axis::linspace(ETA_RANGE.0, ETA_RANGE.1, n)?),
    )?;
    let mut spec = SweepSpec::new(formula, MethodSpec::new(MethodName::Gd), grid);
    spec.steps = STEPS;
    let first = sweep::run(&spec, None).map_err(|e| e.to_string())?;
    let finals: Vec<f64> = (0..first.len()).map(|i| first.x(i)[0]).collect();
    let note = format!(
        "engine {:?}; agrees with scalar libm in {:.1}% of cells; {} minima",
        first.engine(),
        100.0 * agreement(&finals, reference),
        first.minima().len()
    );
    // The same sweep in a pool of one thread: against the hand-written
    // kernel's one-thread row, the per-cell cost apart from how the work
    // spreads over the threads.
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| e.to_string())?;
    let spec_single = spec.clone();
    let note_single = note.clone();
    Ok(vec![
        Impl::new(ROW, move || {
            let (secs, result) = time(|| sweep::run(&spec, None));
            let result = result.map_err(|e| e.to_string())?;
            black_box(&result);
            Ok(vec![
                Measured::new(ROW, Sample::new(secs, units)).note(note.clone())
            ])
        }),
        Impl::new(ROW_SINGLE, move || {
            let (secs, result) = time(|| single.install(|| sweep::run(&spec_single, None)));
            let result = result.map_err(|e| e.to_string())?;
            black_box(&result);
            Ok(vec![
                Measured::new(ROW_SINGLE, Sample::new(secs, units)).note(note_single.clone())
            ])
        }),
    ])
}
