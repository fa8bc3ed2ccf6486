//! The tour's sections 4 to 8: each lesson the tour prints is checked
//! against the numbers it measures, so the text cannot drift from the runs.

use downhill::tour::{self, Finding, Section};

fn sections() -> Vec<Section> {
    tour::run().expect("the tour runs")
}

fn finding<'a>(sections: &'a [Section], id: &str) -> &'a Finding {
    sections
        .iter()
        .flat_map(|s| &s.findings)
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no finding {id}"))
}

/// The cells of the table row whose first cell starts with `label`.
fn row<'a>(finding: &'a Finding, label: &str) -> Vec<&'a str> {
    let line = finding
        .lines
        .iter()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no row {label} in {}", finding.id));
    line[label.len()..]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

fn iterations(cell: &str) -> Option<u64> {
    cell.parse().ok()
}

#[test]
fn the_tour_covers_every_section_in_order() {
    let s = sections();
    let numbers: Vec<u32> = s.iter().map(|s| s.spec.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7, 8]);
    let ids: Vec<&str> = s.iter().flat_map(|s| &s.findings).map(|f| f.id).collect();
    assert_eq!(
        ids,
        [
            "convergence",
            "preconditioning",
            "line-search",
            "summary",
            "exercise-1",
            "exercise-2",
            "exercise-3",
            "exercise-4",
            "exercise-5-axes",
            "exercise-5-rotated"
        ]
    );
}

#[test]
fn newton_table_shows_quadratic_convergence() {
    let s = sections();
    let f = finding(&s, "convergence");
    assert!(f
        .lines
        .iter()
        .any(|l| l.starts_with("observed order, Newton:           quadratic")));
    assert!(f
        .lines
        .iter()
        .any(|l| l.contains("gradient descent: linear, rate 0.500")));
    // The e_k/e_(k-1)^2 column settles at |f'''(x*)| / (2 f''(x*)): with
    // p = 2/3 the softmax weight at x*, f'' = 9p(1-p) = 2 and
    // f''' = 27p(1-p)(1-2p) = -2, so the limit is 0.5.
    let ratios: Vec<f64> = f
        .lines
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cells| cells.len() == 5 && cells[0].parse::<u32>().is_ok())
        .filter_map(|cells| cells[4].parse::<f64>().ok())
        .collect();
    assert!(ratios.len() >= 3, "{:?}", f.lines);
    let last = ratios[ratios.len() - 1];
    assert!((last - 0.5).abs() < 0.005, "{ratios:?}");
}

#[test]
fn preconditioning_beats_gradient_descent_on_mismatched_scales() {
    let s = sections();
    let f = finding(&s, "preconditioning");
    let gd = iterations(row(f, "gradient descent, eta = 0.00990 (best fixed step)")[0]).unwrap();
    let above = row(
        f,
        "gradient descent, eta = 0.0101 (above 2/lambda_max = 0.01)",
    );
    assert!(above[0].starts_with("diverged"), "{above:?}");
    assert_eq!(
        iterations(row(f, "diagonal preconditioning, eta = 1")[0]),
        Some(1)
    );
    assert!(gd > 100);
}

#[test]
fn line_search_trades_iterations_for_evaluations() {
    let s = sections();
    let f = finding(&s, "line-search");
    let fixed = row(f, "fixed eta = 0.1");
    let exact = row(f, "exact");
    let (fixed_its, exact_its) = (iterations(fixed[0]).unwrap(), iterations(exact[0]).unwrap());
    let (fixed_evals, exact_evals) = (iterations(fixed[1]).unwrap(), iterations(exact[1]).unwrap());
    assert!(exact_its * 3 < fixed_its, "several-fold fewer iterations");
    assert!(exact_evals > fixed_evals, "but more evaluations");
}

#[test]
fn exercise_1_learning_rate_threshold() {
    let s = sections();
    let f = finding(&s, "exercise-1");
    for eta in ["0.05", "0.2", "0.5", "0.9", "0.99"] {
        assert!(
            iterations(row(f, &format!("{eta} "))[1]).is_some(),
            "eta {eta} converges"
        );
    }
    assert!(
        row(f, "1 ")[1].starts_with('>'),
        "eta = 1 oscillates forever"
    );
    assert!(row(f, "1.1 ")[1].starts_with("diverged"));
}

#[test]
fn exercise_2_bisection_halves_and_finds_the_minimizer() {
    let s = sections();
    let f = finding(&s, "exercise-2");
    let bisection = row(f, "bisection (f')");
    let golden = row(f, "golden section (f only)");
    assert_eq!(bisection[0], "-0.768951");
    assert_eq!(golden[0], "-0.768951");
    let (b, g) = (
        iterations(bisection[1]).unwrap(),
        iterations(golden[1]).unwrap(),
    );
    assert!(
        g as f64 > 1.3 * b as f64 && (g as f64) < 1.6 * b as f64,
        "{b} {g}"
    );
    assert!(f
        .lines
        .iter()
        .any(|l| l.contains("f(x*) = x* + ln 1.5 = -0.363486")));
}

#[test]
fn exercise_3_iterations_grow_with_the_condition_number() {
    let s = sections();
    let f = finding(&s, "exercise-3");
    let counts: Vec<u64> = ["1 ", "10 ", "100 ", "1000 ", "10000 "]
        .iter()
        .map(|r| iterations(row(f, r)[1]).unwrap())
        .collect();
    for w in counts.windows(2) {
        assert!(w[1] > w[0], "{counts:?}");
    }
    // Roughly proportional: a 10x larger ratio costs 5x to 20x more iterations.
    for w in counts[1..].windows(2) {
        let growth = w[1] as f64 / w[0] as f64;
        assert!((5.0..20.0).contains(&growth), "{counts:?}");
    }
}

#[test]
fn exercise_4_lightweight_newton() {
    let s = sections();
    let f = finding(&s, "exercise-4");
    for r in ["1 ", "10 ", "100 ", "1000 ", "10000 "] {
        assert_eq!(row(f, r)[0], "1", "one step for r = {r}");
    }
    assert_eq!(row(f, "Newton, signed f''")[0], "26.834133");
    let absolute = row(f, "|diag(H)| (b)");
    assert!(
        absolute[1].parse::<f64>().unwrap() < 0.0,
        "descends below f(x0) = 0"
    );
}

#[test]
fn exercise_5_rotation_hurts_diagonal_methods_only() {
    let s = sections();
    let f = finding(&s, "exercise-5-axes");
    let cost = |cell: &str| iterations(cell).unwrap_or(u64::MAX);
    for diagonal in ["precond |diag H|", "adagrad (0.4)", "rmsprop (0.4, 0.9)"] {
        let cells = row(f, diagonal);
        assert!(cost(cells[1]) > 2 * cost(cells[0]), "{diagonal}: {cells:?}");
    }
    for full in ["newton", "bfgs"] {
        let cells = row(f, full);
        assert!(cost(cells[1]) <= cost(cells[0]) + 5, "{full}: {cells:?}");
        assert!(
            cost(cells[2]) < 100 && cost(cells[3]) < 100,
            "{full} solves Rosenbrock"
        );
    }
}

#[test]
fn every_finding_figure_draws() {
    let s = sections();
    let dir = std::env::temp_dir().join(format!("downhill-tour-findings-{}", std::process::id()));
    let written = tour::write_figures(&s, &dir).unwrap();
    let figures = s
        .iter()
        .flat_map(|s| &s.findings)
        .filter(|f| f.figure.is_some())
        .count();
    let outcomes = s.iter().map(|s| s.outcomes.len()).sum::<usize>();
    assert_eq!(written.len(), 2 * (figures + outcomes) + 1);
    for path in &written {
        assert!(
            std::fs::metadata(path).unwrap().len() > 500,
            "{}",
            path.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
