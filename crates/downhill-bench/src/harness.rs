//! Interleaved measurement: every implementation of a workload runs once per
//! round, rounds repeat, and the statistics pool all rounds, so every
//! implementation is sampled in every time window of a shared machine.

use std::time::Instant;

/// One timed run of one implementation.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Wall-clock seconds of the timed part.
    pub secs: f64,
    /// Units of work done in `secs` (evaluations, steps, cell-steps, ...).
    pub units: f64,
    /// Complete solves in `secs` (W5), if the unit is an iteration.
    pub solves: f64,
}

impl Sample {
    /// `secs` for `units` of work, one solve.
    pub fn new(secs: f64, units: f64) -> Sample {
        Sample {
            secs,
            units,
            solves: 1.0,
        }
    }

    /// Seconds per unit of work.
    pub fn per_unit(&self) -> f64 {
        self.secs / self.units
    }
}

/// What one run of an implementation produced: one or more rows' samples
/// (a Python peer script reports several rows at once).
#[derive(Clone, Debug)]
pub struct Measured {
    /// Row name.
    pub row: String,
    /// The sample.
    pub sample: Sample,
    /// A note for the row (the last one reported wins).
    pub note: Option<String>,
    /// Extra numbers for the row (peak RSS, iterations, ...), last one wins.
    pub extra: Vec<(String, f64)>,
}

impl Measured {
    /// A sample for `row` without note.
    pub fn new(row: impl Into<String>, sample: Sample) -> Measured {
        Measured {
            row: row.into(),
            sample,
            note: None,
            extra: Vec::new(),
        }
    }

    /// With a note.
    pub fn note(mut self, note: impl Into<String>) -> Measured {
        self.note = Some(note.into());
        self
    }

    /// With an extra number.
    pub fn extra(mut self, key: &str, value: f64) -> Measured {
        self.extra.push((key.to_string(), value));
        self
    }
}

/// A runnable implementation: each call does one timed run.
pub struct Impl {
    /// Name for progress messages.
    pub name: String,
    /// Whether to run it once untimed before round 1 (off for subprocesses,
    /// which warm up inside, and for long peers).
    pub warmup: bool,
    /// One run.
    pub run: Box<dyn FnMut() -> Result<Vec<Measured>, String>>,
}

impl Impl {
    /// An in-process implementation with a warm-up run.
    pub fn new(
        name: impl Into<String>,
        run: impl FnMut() -> Result<Vec<Measured>, String> + 'static,
    ) -> Impl {
        Impl {
            name: name.into(),
            warmup: true,
            run: Box::new(run),
        }
    }

    /// An implementation that needs no warm-up run.
    pub fn cold(
        name: impl Into<String>,
        run: impl FnMut() -> Result<Vec<Measured>, String> + 'static,
    ) -> Impl {
        Impl {
            name: name.into(),
            warmup: false,
            run: Box::new(run),
        }
    }
}

/// The pooled samples of one row.
#[derive(Clone, Debug, Default)]
pub struct RowData {
    /// Row name.
    pub name: String,
    /// All samples, in the order taken.
    pub samples: Vec<Sample>,
    /// Note.
    pub note: String,
    /// Extra numbers (last value reported, and the maximum over samples).
    pub extra: Vec<(String, f64)>,
    /// Errors (a failed run is reported, not hidden).
    pub errors: Vec<String>,
}

impl RowData {
    /// Median seconds per unit.
    pub fn median(&self) -> f64 {
        median(self.samples.iter().map(Sample::per_unit).collect())
    }

    /// (max − min) / median of seconds per unit.
    pub fn spread(&self) -> f64 {
        let v: Vec<f64> = self.samples.iter().map(Sample::per_unit).collect();
        if v.is_empty() {
            return f64::NAN;
        }
        let max = v.iter().cloned().fold(f64::MIN, f64::max);
        let min = v.iter().cloned().fold(f64::MAX, f64::min);
        (max - min) / median(v)
    }

    /// Median units per solve (iterations of a W5 solve).
    pub fn units_per_solve(&self) -> f64 {
        median(self.samples.iter().map(|s| s.units / s.solves).collect())
    }

    /// The extra value `key`, if reported.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.extra.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

/// Median of `v` (NaN if empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Runs `impls` in `rounds` rounds (the order rotates every round, so no
/// implementation always runs right after the same other one) and pools the
/// samples by row, rows in order of first appearance.
pub fn interleave(workload: &str, impls: &mut [Impl], rounds: usize) -> Vec<RowData> {
    let mut rows: Vec<RowData> = Vec::new();
    for imp in impls.iter_mut().filter(|i| i.warmup) {
        if let Err(e) = (imp.run)() {
            eprintln!("  {workload} warm-up of {}: {e}", imp.name);
        }
    }
    let n = impls.len();
    for round in 0..rounds {
        let started = Instant::now();
        for k in 0..n {
            let imp = &mut impls[(k + round) % n];
            let result = (imp.run)();
            match result {
                Ok(measured) => {
                    for m in measured {
                        let row = row_mut(&mut rows, &m.row);
                        row.samples.push(m.sample);
                        if let Some(note) = m.note {
                            row.note = note;
                        }
                        for (key, value) in m.extra {
                            match row.extra.iter_mut().find(|(k, _)| *k == key) {
                                Some(slot) => {
                                    if key.starts_with("max_") {
                                        slot.1 = slot.1.max(value);
                                    } else {
                                        slot.1 = value;
                                    }
                                }
                                None => row.extra.push((key, value)),
                            }
                        }
                    }
                }
                Err(e) => {
                    eprintln!("  {workload}: {} failed: {e}", imp.name);
                    row_mut(&mut rows, &imp.name).errors.push(e);
                }
            }
        }
        eprintln!(
            "  {workload} round {}/{rounds}: {:.1} s",
            round + 1,
            started.elapsed().as_secs_f64()
        );
    }
    rows
}

fn row_mut<'a>(rows: &'a mut Vec<RowData>, name: &str) -> &'a mut RowData {
    if let Some(i) = rows.iter().position(|r| r.name == name) {
        return &mut rows[i];
    }
    rows.push(RowData {
        name: name.to_string(),
        ..RowData::default()
    });
    rows.last_mut().unwrap()
}

/// Repeats `once` until at least `min_secs` have passed (and at least once),
/// returning (seconds, repetitions).
pub fn repeat_for<T>(min_secs: f64, mut once: impl FnMut() -> T) -> (f64, usize) {
    let start = Instant::now();
    let mut reps = 0;
    loop {
        std::hint::black_box(once());
        reps += 1;
        let secs = start.elapsed().as_secs_f64();
        if secs >= min_secs {
            return (secs, reps);
        }
    }
}

/// Times one call.
pub fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed().as_secs_f64(), out)
}
