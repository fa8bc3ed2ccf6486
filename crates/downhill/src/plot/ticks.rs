//! Nice numbers: axis ticks, contour levels and tick labels.
//!
//! Hand-written on purpose. plotters picks key points with its own rule and
//! prints every float with at least one decimal ("10.0"), and the `contour`
//! crate takes thresholds but does not choose them. The book's figures come
//! from matplotlib, whose `MaxNLocator` picks both the axis ticks (as
//! `AutoLocator`: steps 1, 2, 2.5, 5, 10) and the automatic contour levels
//! (`MaxNLocator(nbins = 8)` with steps 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10).
//! Re-implementing that one rule (about 60 lines) makes both match the book:
//! for `x1² + 2 x2²` on the book's grid the levels are 8, 16, …, 48, exactly
//! matplotlib's. Logarithmic axes follow matplotlib's `LogLocator` and
//! label powers of ten as "10⁻⁸" ([`log_ticks`]).

use super::AxisScale;

/// Tick multiples of matplotlib's `AutoLocator` (axis ticks).
pub(crate) const AXIS_STEPS: &[f64] = &[1.0, 2.0, 2.5, 5.0, 10.0];

/// Tick multiples of matplotlib's default `MaxNLocator` (contour levels).
pub(crate) const LEVEL_STEPS: &[f64] = &[1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0];

/// matplotlib's `MaxNLocator.tick_values`: evenly spaced nice values
/// (multiples of `steps[i] × 10^k`) that cover `[vmin, vmax]` with at most
/// `nbins` intervals inside the range; may include one value beyond each end.
///
/// Needs `vmin < vmax`, both finite, and `vmax − vmin` finite; otherwise (or
/// for `nbins == 0`) the result is empty.
pub(crate) fn max_n_locator(
    vmin: f64,
    vmax: f64,
    nbins: usize,
    steps: &[f64],
    min_n_ticks: usize,
) -> Vec<f64> {
    let dv = vmax - vmin;
    if !(vmin.is_finite() && vmax.is_finite() && dv.is_finite() && dv > 0.0) || nbins == 0 {
        return Vec::new();
    }
    let nb = nbins as f64;
    // scale_range: the decade of one bin, and an offset for ranges far from 0.
    let meanv = (vmax + vmin) / 2.0;
    let offset = if meanv.abs() / dv < 100.0 {
        0.0
    } else {
        10f64.powf(meanv.abs().log10().floor()).copysign(meanv)
    };
    let scale = 10f64.powf((dv / nb).log10().floor());
    let (lo, hi) = (vmin - offset, vmax - offset);

    // The staircase 0.1·steps[..last], steps, 10·steps[1], times the scale.
    let mut ladder: Vec<f64> = steps[..steps.len() - 1].iter().map(|s| 0.1 * s).collect();
    ladder.extend_from_slice(steps);
    ladder.push(10.0 * steps[1]);
    for s in &mut ladder {
        *s *= scale;
    }

    let raw_step = (hi - lo) / nb;
    let istep = ladder
        .iter()
        .position(|&s| s >= raw_step)
        .unwrap_or(ladder.len() - 1);
    // _Edge_integer's slack: more when the offset dwarfs the step.
    let tol = |step: f64| {
        if offset != 0.0 {
            10f64
                .powf((offset.abs() / step).log10() - 12.0)
                .clamp(1e-10, 0.4999)
        } else {
            1e-10
        }
    };

    let mut ticks = Vec::new();
    for &step in ladder[..=istep].iter().rev() {
        let best_vmin = (lo / step).floor() * step;
        let t = tol(step);
        let divmod = |x: f64| {
            let m = x.rem_euclid(step);
            (((x - m) / step).round(), m / step)
        };
        // Largest k with k·step <= lo − best_vmin, smallest with k·step >= hi − best_vmin.
        let (d, m) = divmod(lo - best_vmin);
        let low = if (m - 1.0).abs() < t { d + 1.0 } else { d };
        let (d, m) = divmod(hi - best_vmin);
        let high = if m.abs() < t { d } else { d + 1.0 };
        ticks = (low as i64..=high as i64)
            .map(|k| k as f64 * step + best_vmin)
            .collect();
        let inside = ticks.iter().filter(|&&v| v >= lo && v <= hi).count();
        if inside >= min_n_ticks {
            break;
        }
    }
    ticks.into_iter().map(|v| v + offset).collect()
}

/// The ticks shown on an axis with view limits `lim`: matplotlib's
/// `AutoLocator` values that lie inside the limits.
pub(crate) fn axis_ticks(lim: (f64, f64), nbins: usize) -> Vec<f64> {
    let slack = (lim.1 - lim.0) * 1e-9;
    max_n_locator(lim.0, lim.1, nbins, AXIS_STEPS, 2)
        .into_iter()
        .filter(|&v| v >= lim.0 - slack && v <= lim.1 + slack)
        .collect()
}

/// Automatic contour levels, as matplotlib's `contour` picks them: nice
/// values from `MaxNLocator(nbins = 8)` over the range of the finite values,
/// keeping those strictly between the minimum and the maximum (a line at the
/// extreme value itself would be empty or a single point).
///
/// Non-finite values are ignored; fewer than two distinct finite values give
/// no levels.
pub fn auto_levels(values: &[f64]) -> Vec<f64> {
    let (zmin, zmax) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    max_n_locator(zmin, zmax, 8, LEVEL_STEPS, 1)
        .into_iter()
        .filter(|&l| l > zmin && l < zmax)
        .collect()
}

/// Labels for a set of evenly spaced ticks, like matplotlib's
/// `ScalarFormatter`: the fewest decimals that tell the ticks apart, a true
/// minus sign (U+2212), and compact scientific notation ("2.5e6") when the
/// magnitudes are at least 1e6 or below 1e-5.
pub(crate) fn tick_labels(ticks: &[f64]) -> Vec<String> {
    let biggest = ticks.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    let step = if ticks.len() >= 2 {
        (ticks[1] - ticks[0]).abs()
    } else {
        biggest
    };
    // matplotlib's axes.formatter.limits: plain from 1e-5 up to 1e6.
    let scientific = biggest >= 1e6 || (biggest > 0.0 && biggest < 1e-5);
    let exponent = if scientific {
        biggest.log10().floor() as i32
    } else {
        0
    };
    let unit = 10f64.powi(exponent);
    let decimals = decimals_for(step / unit, ticks.first().map_or(0.0, |t| t / unit));
    ticks
        .iter()
        .map(|&t| {
            let m = t / unit;
            // Snap rounding noise ("-0.0", "0.30000000000000004") away.
            let m = if m.abs() < step / unit * 1e-9 { 0.0 } else { m };
            let body = format!("{:.*}", decimals, m);
            let body = body.replace('-', "\u{2212}");
            if scientific && m != 0.0 {
                format!("{body}e{exponent}").replace("e-", "e\u{2212}")
            } else {
                body
            }
        })
        .collect()
}

/// The ticks of one axis, in axis coordinates (log10 of the value on a
/// logarithmic axis): labelled major ticks and unlabelled minor ones.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Ticks {
    pub major: Vec<f64>,
    pub labels: Vec<String>,
    pub minor: Vec<f64>,
}

/// The ticks of an axis with view limits `lim` (axis coordinates) and
/// `nbins` as matplotlib's tick space for it.
pub(crate) fn scale_ticks(scale: AxisScale, lim: (f64, f64), nbins: usize) -> Ticks {
    match scale {
        AxisScale::Linear => {
            let major = axis_ticks(lim, nbins);
            let labels = tick_labels(&major);
            Ticks {
                major,
                labels,
                minor: Vec::new(),
            }
        }
        AxisScale::Log10 => log_ticks(lim, nbins),
    }
}

/// Ticks of a log10 axis whose view is `10^lim.0 ..= 10^lim.1`, positions
/// in decades (log10 of the value), like matplotlib's `LogLocator` with
/// `LogFormatterSciNotation`.
///
/// Major ticks are powers of ten labelled "10⁻⁸", "10⁰", "10²" (Unicode
/// superscripts, which DejaVu Sans has); with `numticks` (clamped to 2..=9)
/// as matplotlib's tick space, every `stride`-th decade is labelled, with
/// `stride = numdec / numticks + 1` and the labelled decades multiples of the
/// stride (so 10⁰ is one when in view). Minor ticks: 2..9 × each decade
/// when every decade is labelled and the view spans at most 10 decades, the
/// skipped decades when the stride is above 1. A view holding fewer than two
/// powers of ten gets matplotlib's linear ticks of the values instead.
pub(crate) fn log_ticks(lim: (f64, f64), numticks: usize) -> Ticks {
    let (lo, hi) = lim;
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Ticks::default();
    }
    let slack = (hi - lo) * 1e-9;
    let first = (lo - slack).ceil();
    let last = (hi + slack).floor();
    let numdec = last - first;
    if numdec > 1e4 {
        // Not a view of f64 values (they span about 630 decades).
        return Ticks::default();
    }
    if numdec < 1.0 {
        // Not even two powers of ten in view: plain ticks of the values.
        let (vlo, vhi) = (10f64.powf(lo), 10f64.powf(hi));
        let values: Vec<f64> = axis_ticks((vlo, vhi), numticks.max(2))
            .into_iter()
            .filter(|&v| v > 0.0)
            .collect();
        let major: Vec<f64> = values.iter().map(|v| v.log10()).collect();
        // Unlabelled minor ticks at the other s·10^k, as on any log axis.
        let minor = if numdec < 1.0 {
            (lo.floor() as i64..=hi.ceil() as i64)
                .flat_map(|d| (1..=9).map(move |s| d as f64 + f64::from(s).log10()))
                .filter(|&t| t >= lo - slack && t <= hi + slack)
                .filter(|t| major.iter().all(|m| (m - t).abs() > 1e-9))
                .collect()
        } else {
            Vec::new()
        };
        return Ticks {
            major,
            labels: tick_labels(&values),
            minor,
        };
    }
    let numticks = numticks.clamp(2, 9) as f64;
    let mut stride = (numdec / numticks).floor() + 1.0;
    if stride >= numdec {
        stride = (numdec - 1.0).max(1.0);
    }
    let (first, last, stride) = (first as i64, last as i64, stride as i64);
    let decades = first..=last;
    let major: Vec<i64> = decades
        .clone()
        .filter(|d| d.rem_euclid(stride) == 0)
        .collect();
    let minor: Vec<f64> = if stride > 1 {
        decades
            .filter(|d| d.rem_euclid(stride) != 0)
            .map(|d| d as f64)
            .collect()
    } else if numdec <= 10.0 {
        (first - 1..=last)
            .flat_map(|d| (2..=9).map(move |s| d as f64 + f64::from(s).log10()))
            .filter(|&t| t >= lo - slack && t <= hi + slack)
            .collect()
    } else {
        Vec::new()
    };
    Ticks {
        labels: major.iter().map(|&d| decade_label(d)).collect(),
        major: major.into_iter().map(|d| d as f64).collect(),
        minor,
    }
}

/// "10" with the exponent in Unicode superscripts: `decade_label(-8)` is
/// "10⁻⁸".
pub(crate) fn decade_label(exponent: i64) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::from("10");
    if exponent < 0 {
        s.push('⁻');
    }
    for c in exponent.unsigned_abs().to_string().chars() {
        s.push(DIGITS[c.to_digit(10).unwrap_or(0) as usize]);
    }
    s
}

/// The fewest decimals (0..=12) that write `step` and `start` exactly, up to
/// rounding noise.
fn decimals_for(step: f64, start: f64) -> usize {
    if step <= 0.0 || !step.is_finite() {
        return 0;
    }
    (0..=12)
        .find(|&d| {
            let p = 10f64.powi(d);
            let exact = |v: f64| ((v * p).round() - v * p).abs() <= 1e-6 * (step * p).max(1.0);
            exact(step) && exact(start)
        })
        .unwrap_or(12) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
    }

    #[test]
    fn levels_match_matplotlib_for_the_book_contour() {
        // matplotlib: contour(x1² + 2 x2²) on the book grid has levels 0, 8, …, 56.
        let all = max_n_locator(0.0, 48.25, 8, LEVEL_STEPS, 1);
        assert!(close(&all, &[0.0, 8.0, 16.0, 24.0, 32.0, 40.0, 48.0, 56.0]));
        let lv = auto_levels(&[0.0, 48.25, f64::NAN, f64::INFINITY, 3.0]);
        assert!(close(&lv, &[8.0, 16.0, 24.0, 32.0, 40.0, 48.0]));
    }

    #[test]
    fn axis_ticks_match_matplotlib() {
        // matplotlib's view of show_trace for x² from 10: x in [-11, 11].
        assert!(close(
            &axis_ticks((-11.0, 11.0), 6),
            &[-10.0, -5.0, 0.0, 5.0, 10.0]
        ));
        assert!(close(
            &axis_ticks((-5.0, 105.0), 6),
            &[0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        ));
        assert!(close(&axis_ticks((-3.0, 0.9), 4), &[-3.0, -2.0, -1.0, 0.0]));
    }

    #[test]
    fn degenerate_ranges_give_nothing() {
        assert!(max_n_locator(1.0, 1.0, 8, LEVEL_STEPS, 1).is_empty());
        assert!(max_n_locator(f64::NAN, 1.0, 8, LEVEL_STEPS, 1).is_empty());
        assert!(max_n_locator(-f64::MAX, f64::MAX, 8, LEVEL_STEPS, 1).is_empty());
        assert!(auto_levels(&[2.0, 2.0, f64::NAN]).is_empty());
        assert!(auto_levels(&[]).is_empty());
    }

    #[test]
    fn log_ticks_label_powers_of_ten() {
        // 1e-8 .. 1e2 with room for 6 ticks: matplotlib's stride is
        // 10 // 6 + 1 = 2; the skipped decades get minor ticks.
        let t = log_ticks((-8.5, 2.5), 6);
        assert_eq!(t.major, [-8.0, -6.0, -4.0, -2.0, 0.0, 2.0]);
        assert_eq!(t.labels, ["10⁻⁸", "10⁻⁶", "10⁻⁴", "10⁻²", "10⁰", "10²"]);
        assert_eq!(t.minor, [-7.0, -5.0, -3.0, -1.0, 1.0]);
        // Few decades: all labelled, minor ticks at 2..9 × 10^k.
        let t = log_ticks((-0.05, 3.05), 6);
        assert_eq!(t.labels, ["10⁰", "10¹", "10²", "10³"]);
        assert_eq!(t.minor.len(), 3 * 8 + 1);
        // Less than two decades: linear ticks of the values.
        let t = log_ticks((2f64.log10(), 9f64.log10()), 6);
        assert_eq!(t.labels, ["2", "4", "6", "8"]);
        assert_eq!(t.minor.len(), 4, "3, 5, 7 and 9");
        assert!(log_ticks((f64::NAN, 1.0), 6).major.is_empty());
        assert_eq!(decade_label(-12), "10⁻¹²");
        assert_eq!(decade_label(300), "10³⁰⁰");
    }

    #[test]
    fn labels_read_like_matplotlib() {
        assert_eq!(
            tick_labels(&[-10.0, -5.0, 0.0, 5.0]),
            ["\u{2212}10", "\u{2212}5", "0", "5"]
        );
        assert_eq!(tick_labels(&[0.0, 2.5, 5.0]), ["0.0", "2.5", "5.0"]);
        assert_eq!(
            tick_labels(&[0.1, 0.2, 0.30000000000000004]),
            ["0.1", "0.2", "0.3"]
        );
        assert_eq!(tick_labels(&[0.0, 1e6, 2e6]), ["0", "1e6", "2e6"]);
        assert_eq!(tick_labels(&[-1e-16, 1.0]), ["0", "1"]);
    }
}
