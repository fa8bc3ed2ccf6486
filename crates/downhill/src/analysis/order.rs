//! The observed order of convergence: with errors `e_k = ‖x_k − x*‖`,
//! `e_{k+1} ≈ C e_k^q`. From three consecutive errors,
//! `q ≈ log(e_{k+1}/e_k) / log(e_k/e_{k−1})`; the estimate is the median
//! over the last few usable triples, and `C = e_{k+1} / e_k^q` likewise.
//! When `x*` is not known, the step lengths `‖x_{k+1} − x_k‖` stand in for
//! the errors: they converge with the same order and rate, and need no
//! guess of `x*` (taking the last iterate as `x*` would bias the rate).
//!
//! The chapter's section 4: Newton's error shrinks quadratically
//! (`|e_{k+1}| ≤ c e_k²`), fixed-step gradient descent linearly
//! (`e_{k+1} ≈ |1 − η f''| e_k`).

use crate::trace::Trace;

/// The kind of convergence observed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Order {
    /// `q ≈ 1` with rate `C < 1`: `e_{k+1} ≈ C e_k`.
    Linear {
        /// The rate `C`.
        rate: f64,
    },
    /// `1.2 ≤ q < 1.8`.
    Superlinear,
    /// `q ≥ 1.8`.
    Quadratic,
    /// `q ≈ 1` with `C ≥ 1`: not converging.
    NotConverging,
}

/// An estimate of `q` and `C` in `e_{k+1} ≈ C e_k^q`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrderEstimate {
    /// The order `q` (median of the three-point estimates).
    pub q: f64,
    /// The constant `C` for that `q` (median).
    pub c: f64,
    /// The classification.
    pub order: Order,
    /// How many three-point estimates went into the median.
    pub samples: usize,
}

impl std::fmt::Display for OrderEstimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.order {
            Order::Linear { rate } => write!(f, "linear, rate {rate:.3}"),
            Order::Superlinear => write!(f, "superlinear (order {:.2})", self.q),
            Order::Quadratic if self.q >= 2.5 => {
                write!(f, "faster than quadratic (order {:.2})", self.q)
            }
            Order::Quadratic => write!(f, "quadratic (order {:.2}, C = {:.3})", self.q, self.c),
            Order::NotConverging => write!(f, "not converging (rate {:.3})", self.c),
        }
    }
}

/// One row of the error table of a run (the tour's Newton table).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorRow {
    /// Iteration `k`.
    pub iteration: usize,
    /// `e_k = ‖x_k − x*‖`.
    pub error: f64,
    /// `e_k / e_{k−1}`.
    pub ratio: Option<f64>,
    /// `e_k / e_{k−1}²`.
    pub quadratic_ratio: Option<f64>,
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q) * (p - q))
        .sum::<f64>()
        .sqrt()
}

/// `e_k`, `e_k/e_{k−1}` and `e_k/e_{k−1}²` for every stored iterate.
pub fn error_table(trace: &Trace, minimizer: &[f64]) -> Vec<ErrorRow> {
    let mut rows: Vec<ErrorRow> = Vec::with_capacity(trace.len());
    for record in trace.records() {
        let error = distance(record.x, minimizer);
        let previous = rows.last().map(|r| r.error).filter(|e| *e > 0.0);
        rows.push(ErrorRow {
            iteration: record.iteration,
            error,
            ratio: previous.map(|p| error / p),
            quadratic_ratio: previous.map(|p| error / (p * p)),
        });
    }
    rows
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

/// Estimates the order of convergence of a run's iterates towards
/// `minimizer` (default: the last iterate). `None` when the trace has too
/// few usable errors (fewer than three consecutive errors above rounding).
pub fn convergence_order(trace: &Trace, minimizer: Option<&[f64]>) -> Option<OrderEstimate> {
    let last = trace.get(trace.len().checked_sub(1)?).x;
    let scale = minimizer
        .unwrap_or(last)
        .iter()
        .fold(1.0_f64, |m, v| m.max(v.abs()));
    // Errors at the level of rounding say nothing about the order.
    let floor = 1e3 * f64::EPSILON * scale;
    let errors: Vec<f64> = match minimizer {
        Some(target) => trace.records().map(|r| distance(r.x, target)).collect(),
        None => trace.records().skip(1).map(|r| r.step_norm).collect(),
    };
    let mut qs = Vec::new();
    for k in 1..errors.len().saturating_sub(1) {
        let (a, b, c) = (errors[k - 1], errors[k], errors[k + 1]);
        // Ratios within rounding of 1 (steps of one length, as on `f = x`)
        // say nothing about an order either.
        let resolved = |r: f64| r.ln().abs() > 1e-6;
        if a > floor && b > floor && c > floor && resolved(b / a) && resolved(c / b) {
            let q = (c / b).ln() / (b / a).ln();
            if q.is_finite() {
                qs.push((k, q));
            }
        }
    }
    if qs.is_empty() {
        return None;
    }
    // The asymptotic order shows in the last estimates, after the start-up phase.
    let window: Vec<(usize, f64)> = qs.iter().rev().take(3).copied().collect();
    let mut q_values: Vec<f64> = window.iter().map(|(_, q)| *q).collect();
    let q = median(&mut q_values);
    let classify_q = if (q - 1.0).abs() < 0.2 { 1.0 } else { q };
    let mut cs: Vec<f64> = window
        .iter()
        .map(|&(k, _)| errors[k + 1] / errors[k].powf(classify_q))
        .collect();
    let c = median(&mut cs);
    let order = if classify_q == 1.0 {
        if c < 1.0 {
            Order::Linear { rate: c }
        } else {
            Order::NotConverging
        }
    } else if q >= 1.8 {
        Order::Quadratic
    } else if q >= 1.2 {
        Order::Superlinear
    } else if c < 1.0 {
        Order::Linear { rate: c }
    } else {
        Order::NotConverging
    };
    Some(OrderEstimate {
        q,
        c,
        order,
        samples: window.len(),
    })
}
