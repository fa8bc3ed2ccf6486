//! W1: 10^7 fixed-step gradient-descent steps on f(x) = x cos(0.15 π x)
//! from x0 = 10 with η = 0.01 (x stays bounded near the local minimum at
//! about 7.27): a scalar loop bound by sin/cos latency.

use std::f64::consts::PI;
use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;

use downhill::driver::{run as drive, Options};
use downhill::formula::Formula;
use downhill::method::GradientDescent;
use downhill::objective::Manual;

use crate::harness::{interleave, time, Impl, Measured, Sample};
use crate::report::{Col, Goal, Metric, Table};
use crate::sys::{current_rss, peak_rss, reset_peak_rss, run_child};
use crate::Config;

pub(crate) const C: f64 = 0.15 * PI;
pub(crate) const ETA: f64 = 0.01;
pub(crate) const X0: f64 = 10.0;
pub(crate) const FORMULA: &str = "x*cos(0.15*pi*x)";

const HAND: &str = "hand-written loop (std sin_cos)";
const FORMULA_ROW: &str = "downhill driver::run + Formula";
const INTERPRETED_ROW: &str = "downhill driver::run + Formula, interpreted";
const MANUAL_ROW: &str = "downhill driver::run + Manual (hand derivatives)";
const CLI_ROW: &str = "downhill CLI end-to-end (minus process start)";
const EVALUATION_ROW: &str = "hand-written loop calling Formula::value_gradient";

/// The loop a user would write by hand.
#[inline(never)]
pub(crate) fn hand_loop(steps: usize) -> f64 {
    let mut x = black_box(X0);
    let eta = black_box(ETA);
    for _ in 0..steps {
        let (s, c) = (C * x).sin_cos();
        x -= eta * (c - C * x * s);
    }
    x
}

/// The hand-written loop with the gradient from the compiled formula: what
/// the evaluation costs without the driver (the yardstick for the
/// driver's own overhead).
#[inline(never)]
pub(crate) fn evaluation_loop(formula: &Formula, steps: usize) -> f64 {
    let mut x = [black_box(X0)];
    let mut grad = [0.0];
    let eta = black_box(ETA);
    for _ in 0..steps {
        formula.value_gradient(&x, &mut grad);
        x[0] -= eta * grad[0];
    }
    x[0]
}

/// Runs `once` with the peak RSS reset first; returns its result, seconds and
/// the growth of the peak RSS over the RSS before the run, in bytes.
fn with_rss<T>(once: impl FnOnce() -> T) -> (T, f64, Option<f64>) {
    let reset = reset_peak_rss();
    let before = current_rss();
    let (secs, out) = time(once);
    let growth = match (reset, before, peak_rss()) {
        (true, Some(b), Some(p)) => Some((p - b).max(0.0)),
        _ => None,
    };
    (out, secs, growth)
}

pub fn run(cfg: &Config) -> Vec<Table> {
    let steps: usize = if cfg.quick { 1_000_000 } else { 10_000_000 };
    let expected = hand_loop(steps);
    let mut impls = Vec::new();

    impls.push(Impl::new(HAND, move || {
        let (secs, x) = time(|| hand_loop(steps));
        Ok(vec![
            Measured::new(HAND, Sample::new(secs, steps as f64)).note(format!("x = {x:.6}"))
        ])
    }));

    let formula = Formula::parse(FORMULA).expect("formula parses");
    let evaluated = formula.clone();
    impls.push(Impl::new(EVALUATION_ROW, move || {
        let (secs, x) = time(|| evaluation_loop(&evaluated, steps));
        Ok(vec![Measured::new(EVALUATION_ROW, Sample::new(secs, steps as f64))
            .note(format!("|x - x_hand| = {:.1e}; machine code, x and the gradient in memory as the driver passes them", (x - expected).abs()))])
    }));
    let interpreted = formula.clone().with_native(false);
    for (row, formula) in [(FORMULA_ROW, formula), (INTERPRETED_ROW, interpreted)] {
        impls.push(Impl::new(row, move || {
            let options = Options::book(steps);
            let (result, secs, growth) =
                with_rss(|| drive(&formula, &mut GradientDescent::new(ETA), &[X0], &options));
            let result = result.map_err(|e| e.to_string())?;
            let mut m =
                Measured::new(row, Sample::new(secs, result.iterations as f64)).note(format!(
                    "{} steps, |x - x_hand| = {:.1e}, trace kept {} records",
                    result.iterations,
                    (result.x[0] - expected).abs(),
                    result.trace.len()
                ));
            if let Some(g) = growth {
                m = m.extra("max_rss_growth", g);
            }
            Ok(vec![m])
        }));
    }

    impls.push(Impl::new(MANUAL_ROW, move || {
        let objective = Manual::new(
            1,
            |x: &[f64]| x[0] * (C * x[0]).cos(),
            |x: &[f64], g: &mut [f64]| {
                let (s, c) = (C * x[0]).sin_cos();
                g[0] = c - C * x[0] * s;
            },
            |x: &[f64], h: &mut [f64]| {
                let (s, c) = (C * x[0]).sin_cos();
                h[0] = -2.0 * C * s - C * C * x[0] * c;
            },
        );
        let options = Options::book(steps);
        let (result, secs, growth) =
            with_rss(|| drive(&objective, &mut GradientDescent::new(ETA), &[X0], &options));
        let result = result.map_err(|e| e.to_string())?;
        let mut m = Measured::new(MANUAL_ROW, Sample::new(secs, result.iterations as f64)).note(
            format!(
                "{} steps, |x - x_hand| = {:.1e}; Manual evaluates value and gradient in separate closures",
                result.iterations,
                (result.x[0] - expected).abs()
            ),
        );
        if let Some(g) = growth {
            m = m.extra("max_rss_growth", g);
        }
        Ok(vec![m])
    }));

    let mut notes = Vec::new();
    match &cfg.cli {
        Some(cli) if cli.exists() => impls.push(cli_impl(cli.clone(), steps)),
        Some(cli) => notes.push(format!(
            "CLI row missing: {} does not exist (build it with `cargo build --release -p downhill-cli`)",
            cli.display()
        )),
        None => notes.push("CLI row missing: no downhill binary found".into()),
    }

    let rows = interleave("W1", &mut impls, cfg.rounds);
    let mut table = Table::new(
        "W1",
        format!("{steps} gradient-descent steps on x*cos(0.15*pi*x), eta 0.01, from x0 = 10"),
        rows,
    );
    table.reference = HAND.into();
    table.cols = vec![
        Col::PerUnit("ns/step", 1e9),
        Col::PerSolve("s/run", 1.0),
        Col::Extra("peak RSS (MB)", "max_peak_rss", 1e-6, 1),
        Col::Extra("RSS growth (MB)", "max_rss_growth", 1e-6, 1),
    ];
    for row in [FORMULA_ROW, MANUAL_ROW, CLI_ROW] {
        table.goals.push(Goal {
            text: "≤ 1.1x the hand-written loop (perf-anchors goal)".into(),
            row: row.into(),
            against: HAND.into(),
            limit: 1.1,
            metric: Metric::Time,
        });
    }
    table.goals.push(Goal {
        text: "≤ 1.05x the same evaluation in a hand-written loop (the driver adds no measurable overhead)".into(),
        row: FORMULA_ROW.into(),
        against: EVALUATION_ROW.into(),
        limit: 1.05,
        metric: Metric::Time,
    });
    notes.push("RSS growth: peak resident memory during the in-process run above the resident memory before it (VmHWM reset through /proc/self/clear_refs); peak RSS: the CLI process's whole peak (wait4 rusage). Both stay small and fixed for 10^7 steps: the trace is bounded.".into());
    notes.push("the CLI time is the wall time of `downhill minimize ... --steps N` minus that of the same command with `--steps 1` in the same round (process start, parsing, output)".into());
    table.notes = notes;
    vec![table]
}

fn cli_impl(cli: PathBuf, steps: usize) -> Impl {
    let command = move |n: usize| {
        let mut c = Command::new(&cli);
        c.args([
            "minimize",
            "--formula",
            FORMULA,
            "--x0",
            "10",
            "--method",
            "gd",
            "--eta",
            "0.01",
            "--steps",
            &n.to_string(),
            "--tol",
            "0",
            "--quiet",
        ]);
        c
    };
    Impl::cold(CLI_ROW, move || {
        let start = run_child(&mut command(1))?;
        let full = run_child(&mut command(steps))?;
        if !start.success || !full.success {
            return Err(format!(
                "downhill minimize failed: {}",
                full.stderr.lines().last().unwrap_or("")
            ));
        }
        let secs = (full.secs - start.secs).max(1e-9);
        Ok(vec![Measured::new(
            CLI_ROW,
            Sample::new(secs, steps as f64),
        )
        .note(format!(
            "process start + --steps 1 run: {:.1} ms; output: {}",
            start.secs * 1e3,
            full.stdout.lines().next().unwrap_or("").trim()
        ))
        .extra("max_peak_rss", full.peak_rss)])
    })
}
