//! `downhill::sweep`: grids, per-cell agreement with the driver, divergence
//! per lane, minima on the chapter's x·cos(0.15πx), outputs and the map.

use downhill::driver::{self, Options, Status};
use downhill::formula::Formula;
use downhill::method::{GradientDescent, Method, MethodName, MethodSpec, Momentum};
use downhill::sweep::{self, Axis, Engine, Grid, MapColor, Outcome, StationaryKind, SweepSpec};

const BOOK: &str = "x*cos(0.15*pi*x)";

fn axis(text: &str) -> Axis {
    Axis::parse(text).unwrap()
}

fn spec(formula: &str, x0: &[&str], eta: Option<&str>, method: MethodName) -> SweepSpec {
    let grid = Grid::new(x0.iter().map(|t| axis(t)).collect(), eta.map(axis)).unwrap();
    SweepSpec::new(
        Formula::parse(formula).unwrap(),
        MethodSpec::new(method),
        grid,
    )
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("downhill-sweep-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The outcome of a driver run in the sweep's terms.
fn outcome_of(status: &Status) -> Outcome {
    match status {
        Status::Converged => Outcome::Converged,
        Status::IterationLimit => Outcome::Limit,
        Status::Stalled(_) => Outcome::Stalled,
        Status::Diverged { .. } => Outcome::Diverged,
        Status::MethodFailed { .. } => Outcome::Failed,
    }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

// ---------------------------------------------------------------- grids

#[test]
fn ranges_parse_like_linspace() {
    let a = axis("-20:20:5");
    assert_eq!(a.values(), [-20.0, -10.0, 0.0, 10.0, 20.0]);
    assert_eq!(axis(" 0.5 ").values(), [0.5]);
    assert_eq!(axis("3:3:1").values(), [3.0]);
    assert_eq!(axis("1:0:3").values(), [1.0, 0.5, 0.0]);
    assert_eq!(axis("-1e-2:1e-2:3").values(), [-0.01, 0.0, 0.01]);
    assert_eq!(a.to_string(), "-20:20:5");
}

#[test]
fn bad_ranges_quote_the_offending_text() {
    for (text, needle) in [
        ("-20:20", "'-20:20'"),
        ("1:2:3:4", "'1:2:3:4'"),
        ("a:2:3", "'a'"),
        ("0:1:0", "at least 1"),
        ("0:1:-3", "'-3'"),
        ("0:1:2.5", "'2.5'"),
        ("0:inf:3", "not finite"),
        ("nan", "not finite"),
        ("", "empty"),
        ("0:1:1", "start = stop"),
    ] {
        let e = Axis::parse(text).unwrap_err();
        assert!(e.contains(needle), "{text:?}: {e}");
    }
}

#[test]
fn grids_allow_two_ranges_over_x() {
    let three = Grid::new(vec![axis("0:1:2"), axis("0:1:2"), axis("0:1:2")], None);
    assert!(three.unwrap_err().contains("at most 2"));
    let g = Grid::new(
        vec![axis("0:1:2"), axis("5"), axis("0:1:3")],
        Some(axis("0.1:0.2:2")),
    )
    .unwrap();
    assert_eq!(g.len(), 12);
    assert_eq!(g.varying().len(), 3);
    assert_eq!(g.cell(5), (vec![0.0, 5.0, 1.0], Some(0.2)));
    assert!(Grid::new(vec![], None).is_err());
}

#[test]
fn wrong_dimension_and_bad_parameters_are_errors() {
    let mut s = spec("x1^2 + x2^2", &["-1:1:3"], None, MethodName::Gd);
    assert!(sweep::run(&s, None)
        .unwrap_err()
        .message
        .contains("2 variables"));
    s = spec(BOOK, &["-1:1:3"], Some("0.1:1:3"), MethodName::Adadelta);
    assert!(sweep::run(&s, None)
        .unwrap_err()
        .message
        .contains("--eta does not apply"));
    s = spec(BOOK, &["-1:1:3"], None, MethodName::Gd);
    s.method.beta = Some(0.5);
    assert!(sweep::run(&s, None).unwrap_err().message.contains("--beta"));
    s = spec(BOOK, &["-1:1:3"], Some("-1:1:3"), MethodName::Gd);
    assert!(sweep::run(&s, None).unwrap_err().message.contains("> 0"));
    s = spec(BOOK, &["-1:1:3"], None, MethodName::Newton);
    s.engine = Engine::Lanes;
    assert!(sweep::run(&s, None)
        .unwrap_err()
        .message
        .contains("lanes engine"));
}

// ------------------------------------------------- agreement with driver::run

/// Every `stride`-th cell of `result`, run alone through the driver with
/// `method(eta)`, agrees with the sweep: to 1e-12 where the cell settled or
/// converged with `eta <= calm` (below it the iteration is not chaotic on
/// the grid), and in outcome for 95% of all sampled cells. (The SIMD lanes
/// differ from the scalar code in the last bits of sin and cos; chaotic
/// large-eta cells amplify that, up to another minimum.)
fn check_against_driver(
    spec: &SweepSpec,
    result: &sweep::SweepResult,
    stride: usize,
    calm: f64,
    method: &dyn Fn(f64) -> Box<dyn Method>,
) {
    let options = Options {
        max_iterations: spec.steps,
        grad_tol: spec.tol,
        ..Options::default()
    };
    let (mut sampled, mut same_outcome) = (0, 0);
    for i in (0..result.len()).step_by(stride) {
        let cell = result.cell(i);
        let eta = cell.eta.unwrap();
        let mut m = method(eta);
        let r = driver::run(&spec.formula, m.as_mut(), &cell.x0, &options).unwrap();
        sampled += 1;
        if outcome_of(&r.status) == cell.outcome {
            same_outcome += 1;
        }
        let settled = cell.minimum.is_some() || cell.outcome == Outcome::Converged;
        if settled && eta <= calm {
            assert_eq!(outcome_of(&r.status), cell.outcome, "cell {i}: {cell:?}");
            assert!(
                close(r.x[0], cell.x[0], 1e-12),
                "cell {i}: {:?} vs {cell:?}",
                r.x
            );
            assert!(close(r.f, cell.f, 1e-12), "cell {i}");
            assert!(
                r.iterations.abs_diff(cell.iterations) <= 1,
                "cell {i}: {} vs {}",
                r.iterations,
                cell.iterations
            );
        }
        if let Status::Diverged { iteration, .. } = r.status {
            if cell.outcome == Outcome::Diverged {
                assert_eq!(iteration, cell.iterations + 1, "cell {i}");
            }
        }
    }
    // Chaotic cells (large eta) may end elsewhere with a different but
    // equally accurate evaluation; they are a small share.
    assert!(
        same_outcome as f64 >= 0.95 * sampled as f64,
        "{same_outcome} of {sampled} outcomes agree"
    );
}

#[test]
fn gradient_descent_cells_equal_driver_runs() {
    let mut s = spec(BOOK, &["-20:20:81"], Some("0.01:3:47"), MethodName::Gd);
    s.steps = 50;
    let result = sweep::run(&s, None).unwrap();
    assert_eq!(result.engine(), Engine::Lanes);
    check_against_driver(&s, &result, 7, 1.0, &|eta| {
        Box::new(GradientDescent::new(eta))
    });
}

#[test]
fn exact_lanes_are_bit_identical_to_the_driver_even_where_chaotic() {
    let mut s = spec(BOOK, &["-20:20:81"], Some("0.01:3:47"), MethodName::Gd);
    s.steps = 50;
    s.exact_lanes = true;
    let result = sweep::run(&s, None).unwrap();
    let options = Options::book(50);
    for i in (0..result.len()).step_by(3) {
        let cell = result.cell(i);
        let mut gd = GradientDescent::new(cell.eta.unwrap());
        let r = driver::run(&s.formula, &mut gd, &cell.x0, &options).unwrap();
        assert_eq!(outcome_of(&r.status), cell.outcome, "cell {i}");
        assert_eq!(r.iterations, cell.iterations, "cell {i}");
        assert_eq!(r.x[0].to_bits(), cell.x[0].to_bits(), "cell {i}");
        assert_eq!(r.f.to_bits(), cell.f.to_bits(), "cell {i}");
        assert_eq!(r.grad_norm.to_bits(), cell.grad_norm.to_bits(), "cell {i}");
        let fs: Vec<f64> = r.trace.records().map(|rec| rec.f).collect();
        assert_eq!(fs.windows(2).any(|w| w[1] >= w[0]), cell.rose, "cell {i}");
    }
    // SIMD lanes: the settled cells are the same to rounding.
    s.exact_lanes = false;
    let simd = sweep::run(&s, None).unwrap();
    for i in 0..result.len() {
        if result.minimum(i).is_some() && simd.minimum(i).is_some() {
            assert!(close(result.x(i)[0], simd.x(i)[0], 1e-12), "cell {i}");
        }
    }
    let settled = |r: &sweep::SweepResult| (0..r.len()).filter(|&i| r.minimum(i).is_some()).count();
    assert!(settled(&simd).abs_diff(settled(&result)) <= result.len() / 100);
}

#[test]
fn converging_cells_equal_driver_runs_with_a_tolerance() {
    let mut s = spec(BOOK, &["-20:20:61"], Some("0.01:1.2:33"), MethodName::Gd);
    s.steps = 400;
    s.tol = 1e-9;
    let result = sweep::run(&s, None).unwrap();
    assert!(result.count(Outcome::Converged) > result.len() / 2);
    check_against_driver(&s, &result, 5, 1.0, &|eta| {
        Box::new(GradientDescent::new(eta))
    });
    // Converged cells stop at different iterations: the lanes really are independent.
    let iterations: std::collections::BTreeSet<usize> = (0..result.len())
        .filter(|&i| result.outcome(i) == Outcome::Converged)
        .map(|i| result.iterations(i))
        .collect();
    assert!(iterations.len() > 20);
}

#[test]
fn momentum_cells_equal_driver_runs() {
    let mut s = spec(
        BOOK,
        &["-20:20:41"],
        Some("0.01:0.5:27"),
        MethodName::Momentum,
    );
    s.method.beta = Some(0.5);
    s.steps = 80;
    let result = sweep::run(&s, None).unwrap();
    assert_eq!(result.engine(), Engine::Lanes);
    check_against_driver(&s, &result, 3, 0.5, &|eta| {
        Box::new(Momentum::new(eta, 0.5))
    });
    // With a gradient tolerance the lanes stop one by one.
    s.steps = 400;
    s.tol = 1e-8;
    let result = sweep::run(&s, None).unwrap();
    assert!(result.count(Outcome::Converged) > result.len() / 2);
    check_against_driver(&s, &result, 3, 0.5, &|eta| {
        Box::new(Momentum::new(eta, 0.5))
    });
}

#[test]
fn lanes_and_driver_engines_agree_cell_by_cell() {
    let mut s = spec(BOOK, &["-20:20:53"], Some("0.01:3:29"), MethodName::Gd);
    s.steps = 50;
    let lanes = sweep::run(&s, None).unwrap();
    s.engine = Engine::Driver;
    let slow = sweep::run(&s, None).unwrap();
    assert_eq!(slow.engine(), Engine::Driver);
    let mut same = 0;
    for i in 0..lanes.len() {
        let equal =
            lanes.outcome(i) == slow.outcome(i) && close(lanes.x(i)[0], slow.x(i)[0], 1e-12);
        if equal {
            same += 1;
        }
        // Below eta = 1 the iteration settles without chaos here: those cells
        // agree. (Oscillating cells amplify the last bits of sin and cos.)
        if lanes.cell(i).eta.unwrap() <= 1.0 && lanes.minimum(i).is_some() {
            assert!(equal, "cell {i}: {:?} vs {:?}", lanes.cell(i), slow.cell(i));
        }
    }
    assert!(
        same as f64 >= 0.8 * lanes.len() as f64,
        "{same} of {}",
        lanes.len()
    );
    assert_eq!(lanes.minima().len(), slow.minima().len());
    for (a, b) in lanes.minima().iter().zip(slow.minima()) {
        assert!(close(a.x[0], b.x[0], 1e-9), "{a:?} vs {b:?}");
    }
}

#[test]
fn every_method_runs_through_the_driver() {
    let mut s = spec(BOOK, &["-20:20:21"], Some("0.1:1:4"), MethodName::Newton);
    s.steps = 30;
    s.tol = 1e-10;
    let result = sweep::run(&s, None).unwrap();
    assert_eq!(result.engine(), Engine::Driver);
    for i in (0..result.len()).step_by(5) {
        let cell = result.cell(i);
        let spec_i = s.method_for(cell.eta);
        let (mut m, _) = spec_i.build(1).unwrap();
        let r = driver::run(&s.formula, m.as_mut(), &cell.x0, &s.options()).unwrap();
        assert_eq!(outcome_of(&r.status), cell.outcome);
        assert_eq!(r.x[0].to_bits(), cell.x[0].to_bits());
        assert_eq!(r.iterations, cell.iterations);
    }
    // Newton also stops at maxima: they are reported as such.
    assert!(result
        .minima()
        .iter()
        .any(|m| m.kind == StationaryKind::Maximum));

    let mut adam = spec(
        "x1^2 + 2*x2^2",
        &["-5:5:5", "-2:2:4"],
        None,
        MethodName::Adam,
    );
    adam.steps = 50;
    let r = sweep::run(&adam, None).unwrap();
    assert_eq!((r.len(), r.engine()), (20, Engine::Driver));
}

// ---------------------------------------------------------- divergence

#[test]
fn lanes_diverge_one_by_one() {
    // On x², x_{k+1} = (1 − 2η) x_k: for η > 1 the iterates grow by |1 − 2η|
    // per step and leave the bound 1e10·|x0| after their own number of steps.
    let mut s = spec("x^2", &["10"], Some("0.2:1.8:17"), MethodName::Gd);
    s.steps = 200;
    let result = sweep::run(&s, None).unwrap();
    for i in 0..result.len() {
        let cell = result.cell(i);
        let eta = cell.eta.unwrap();
        let factor = (1.0 - 2.0 * eta).abs();
        if factor > 1.0 + 1e-12 {
            assert_eq!(cell.outcome, Outcome::Diverged, "eta {eta}");
            // First k with 10·factor^k > 1e11.
            let expected = (10f64.ln() * 10.0 / factor.ln()).floor() as usize + 1;
            assert!(
                cell.iterations + 1 >= expected - 1 && cell.iterations < expected + 1,
                "eta {eta}: diverged at {} (expected about {expected})",
                cell.iterations + 1
            );
            // The last good iterate is kept.
            assert!(cell.x[0].abs() <= 1e11 && cell.x[0].is_finite());
        } else {
            assert_eq!(cell.outcome, Outcome::Limit, "eta {eta}");
        }
        let mut gd = GradientDescent::new(eta);
        let r = driver::run(&s.formula, &mut gd, &cell.x0, &Options::book(200)).unwrap();
        assert_eq!(outcome_of(&r.status), cell.outcome);
        assert_eq!(r.iterations, cell.iterations);
        assert_eq!(r.x[0].to_bits(), cell.x[0].to_bits());
    }
    // eta = 1 jumps between ±10 for ever: not settled, and f does not
    // decrease (oscillating); small steps descend all the way.
    let one = (0..result.len())
        .find(|&i| result.cell(i).eta == Some(1.0))
        .unwrap();
    assert_eq!(result.minimum(one), None);
    assert_eq!(result.x(one)[0].abs(), 10.0);
    assert!(result.rose(one));
    assert!(!result.rose(0) && result.cell(0).eta == Some(0.2));
    assert_eq!(result.oscillating(), 1);
}

#[test]
fn non_finite_values_diverge_and_bad_starts_fail() {
    // f = x − log(x): a large step jumps to x < 0 where log is NaN.
    let mut s = spec("x - log(x)", &["-1:3:9"], Some("0.5:8:6"), MethodName::Gd);
    s.steps = 100;
    s.exact_lanes = true;
    let result = sweep::run(&s, None).unwrap();
    let options = Options::book(100);
    for i in 0..result.len() {
        let cell = result.cell(i);
        if cell.x0[0] <= 0.0 {
            assert_eq!(cell.outcome, Outcome::Failed, "{cell:?}");
            assert_eq!(cell.iterations, 0);
            continue;
        }
        let mut gd = GradientDescent::new(cell.eta.unwrap());
        let r = driver::run(&s.formula, &mut gd, &cell.x0, &options).unwrap();
        assert_eq!(outcome_of(&r.status), cell.outcome, "{cell:?}");
        assert_eq!(r.x[0].to_bits(), cell.x[0].to_bits());
        assert_eq!(r.iterations, cell.iterations);
    }
    assert!(result.count(Outcome::Diverged) > 0);
    assert!(result.count(Outcome::Failed) > 0);
    assert!(result.count(Outcome::Limit) > 0);
}

#[test]
fn a_given_bound_is_the_divergence_test() {
    let mut s = spec(BOOK, &["-20:20:41"], Some("2.5:3:3"), MethodName::Gd);
    s.steps = 50;
    s.bound = Some(5.0);
    let result = sweep::run(&s, None).unwrap();
    for i in 0..result.len() {
        if result.outcome(i) == Outcome::Diverged {
            assert!(result.x(i)[0].abs() <= 5.0 || result.iterations(i) == 0);
        }
    }
    assert!(result.count(Outcome::Diverged) > 0);
}

// ---------------------------------------------------------- minima

/// The local minima of x·cos(0.15πx) in [lo, hi]: f' = 0 by Newton from
/// every sign change of f' on a fine grid, kept where f'' > 0.
fn book_minima(lo: f64, hi: f64) -> Vec<f64> {
    let f = Formula::parse(BOOK).unwrap();
    let d1 = |x: f64| {
        let mut g = [0.0];
        f.value_gradient(&[x], &mut g);
        g[0]
    };
    let d2 = |x: f64| {
        let (mut g, mut h) = ([0.0], [0.0]);
        f.value_gradient_hessian(&[x], &mut g, &mut h);
        (g[0], h[0])
    };
    let mut out = Vec::new();
    let n = 20_000;
    for k in 0..n {
        let (a, b) = (
            lo + (hi - lo) * k as f64 / n as f64,
            lo + (hi - lo) * (k + 1) as f64 / n as f64,
        );
        if d1(a).signum() != d1(b).signum() {
            let mut x = 0.5 * (a + b);
            for _ in 0..50 {
                let (g, h) = d2(x);
                x -= g / h;
            }
            if d2(x).1 > 0.0 && d1(x).abs() < 1e-12 {
                out.push(x);
            }
        }
    }
    out
}

#[test]
fn minima_on_the_book_function_are_its_local_minima() {
    let expected = book_minima(-25.0, 25.0);
    assert!(expected.len() >= 4, "{expected:?}");
    let mut s = spec(BOOK, &["-20:20:201"], Some("0.01:1:40"), MethodName::Gd);
    s.steps = 300;
    let result = sweep::run(&s, None).unwrap();
    let minima = result.minima();
    assert!(minima.len() >= 4, "{minima:?}");
    for m in minima {
        assert_eq!(m.kind, StationaryKind::Minimum, "{m:?}");
        let nearest = expected
            .iter()
            .map(|e| (e - m.x[0]).abs())
            .fold(f64::INFINITY, f64::min);
        assert!(nearest < 1e-6, "{m:?} is not a minimum of f: {expected:?}");
        assert!(m.grad_norm <= s.settle);
    }
    // Every local minimum inside the start range is reached by some cell.
    for e in expected.iter().filter(|e| e.abs() < 20.0) {
        assert!(
            minima.iter().any(|m| (m.x[0] - e).abs() < 1e-6),
            "minimum {e} not reached: {minima:?}"
        );
    }
    // Ids increase with x, and every cell is counted once.
    assert!(minima.windows(2).all(|w| w[0].x[0] < w[1].x[0]));
    assert!(minima.iter().enumerate().all(|(k, m)| m.id == k + 1));
    let settled: usize = minima.iter().map(|m| m.cells).sum();
    assert_eq!(
        settled
            + result.unsettled()
            + result.count(Outcome::Diverged)
            + result.count(Outcome::Failed),
        result.len()
    );
    for i in 0..result.len() {
        if let Some(id) = result.minimum(i) {
            let m = &minima[id - 1];
            assert!((result.x(i)[0] - m.x[0]).abs() <= 2.0 * s.cluster_tol);
            assert!(result.grad_norm(i) <= s.settle);
        }
    }
    // Small steps from near 0 reach the minimum next to it, not another.
    let near_zero = result.grid().x0()[0]
        .values()
        .iter()
        .position(|&v| v == 0.0)
        .unwrap();
    let cell = near_zero * 40 + 10;
    let id = result.minimum(cell).unwrap();
    assert!(
        (minima[id - 1].x[0] - (-1.8)).abs() < 0.1,
        "{:?}",
        minima[id - 1]
    );
}

#[test]
fn two_dimensional_grids_find_both_minima_and_the_saddle() {
    // (x1² − 1)² + x2²: minima at (±1, 0), a saddle at (0, 0) that the
    // cells starting on x1 = 0 reach.
    let mut s = spec(
        "(x1^2 - 1)^2 + x2^2",
        &["-2:2:21", "-1:1:11"],
        None,
        MethodName::Gd,
    );
    s.steps = 500;
    s.method.eta = Some(0.05);
    let result = sweep::run(&s, None).unwrap();
    let kinds: Vec<(StationaryKind, [i64; 2])> = result
        .minima()
        .iter()
        .map(|m| (m.kind, [m.x[0].round() as i64, m.x[1].round() as i64]))
        .collect();
    assert_eq!(
        kinds,
        [
            (StationaryKind::Minimum, [-1, 0]),
            (StationaryKind::Saddle, [0, 0]),
            (StationaryKind::Minimum, [1, 0]),
        ]
    );
    assert_eq!(result.minima()[1].cells, 11);
    assert_eq!(result.minima()[0].cells, 110);
}

// ---------------------------------------------------------- outputs

#[test]
fn csv_rows_read_back_to_the_cells() {
    let mut s = spec(BOOK, &["-20:20:11"], Some("0.1:2:7"), MethodName::Gd);
    s.steps = 40;
    let result = sweep::run(&s, None).unwrap();
    let mut bytes = Vec::new();
    result.write_csv(&mut bytes).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "x0,eta,outcome,iterations,x,f,grad_norm,f_rose,minimum"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), result.len());
    for (i, row) in rows.iter().enumerate() {
        let cell = result.cell(i);
        assert_eq!(row[0].parse::<f64>().unwrap(), cell.x0[0]);
        assert_eq!(row[1].parse::<f64>().unwrap(), cell.eta.unwrap());
        assert_eq!(row[2], cell.outcome.code());
        assert_eq!(row[3].parse::<usize>().unwrap(), cell.iterations);
        assert_eq!(row[4].parse::<f64>().unwrap(), cell.x[0]);
        assert_eq!(row[5].parse::<f64>().unwrap(), cell.f);
        assert_eq!(row[6].parse::<f64>().unwrap(), cell.grad_norm);
        assert_eq!(row[7], if cell.rose { "1" } else { "0" });
        assert_eq!(
            row[8],
            cell.minimum.map_or(String::new(), |m| m.to_string())
        );
    }
}

#[test]
fn csv_of_a_two_dimensional_start_names_the_coordinates() {
    let s = spec("x1^2 + x2^2", &["-1:1:2", "3"], None, MethodName::Gd);
    let result = sweep::run(&s, None).unwrap();
    let mut bytes = Vec::new();
    result.write_csv(&mut bytes).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with("x1_0,x2_0,eta,outcome,iterations,x1,x2,f,grad_norm,f_rose,minimum\n"));
    assert!(text
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("-1.0,3.0,,limit,100,"));
}

#[test]
fn json_and_summary_report_outcomes_and_minima() {
    let mut s = spec(BOOK, &["-20:20:41"], Some("0.05:2:20"), MethodName::Gd);
    s.steps = 100;
    let result = sweep::run(&s, None).unwrap();
    let json = result.to_json();
    assert_eq!(json["cells"], 820);
    let total: u64 = ["converged", "limit", "stalled", "diverged", "failed"]
        .iter()
        .map(|k| json["outcomes"][k].as_u64().unwrap())
        .sum();
    assert_eq!(total, 820);
    assert_eq!(
        json["minima"].as_array().unwrap().len(),
        result.minima().len()
    );
    assert_eq!(json["minima"][0]["kind"], "minimum");
    assert_eq!(json["axes"][1]["name"], "eta");
    assert_eq!(json["engine"], "lanes");

    let text = result.summary();
    assert!(text
        .contains("grid: x0 in [-20, 20] (41 values) x eta in [0.05, 2] (20 values) = 820 cells"));
    // The minima table lines up: every row as long as its header.
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("id "))
        .take_while(|l| !l.starts_with("not settled"))
        .collect();
    assert_eq!(table.len(), result.minima().len() + 1);
    assert!(
        table.iter().all(|l| l.len() == table[0].len()),
        "{table:#?}"
    );
}

#[test]
fn maps_are_written_as_png_and_svg() {
    let dir = scratch("maps");
    let mut s = spec(BOOK, &["-20:20:120"], Some("0.01:3:90"), MethodName::Gd);
    s.steps = 50;
    let result = sweep::run(&s, None).unwrap();
    for (name, color) in [
        ("minimum.png", MapColor::Minimum),
        ("minimum.svg", MapColor::Minimum),
        ("outcome.png", MapColor::Outcome),
        ("x.svg", MapColor::X(0)),
        ("f.png", MapColor::F),
        ("iterations.png", MapColor::Iterations),
    ] {
        let path = dir.join(name);
        result.plot(color, Some("a map"), &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        if name.ends_with(".png") {
            assert_eq!(&bytes[1..4], b"PNG");
        } else {
            let svg = String::from_utf8(bytes).unwrap();
            assert!(svg.contains("<image") && svg.contains("data:image/png;base64,"));
            assert!(svg.len() < 2_000_000, "{} bytes", svg.len());
        }
    }
    let svg = std::fs::read_to_string(dir.join("minimum.svg")).unwrap();
    assert!(svg.contains("f rose (oscillating)") && svg.contains("1: x = "));

    // A map needs two varying axes.
    let one = sweep::run(
        &spec(BOOK, &["-20:20:5"], Some("0.1"), MethodName::Gd),
        None,
    )
    .unwrap();
    let e = one
        .plot(MapColor::Minimum, None, &dir.join("one.png"))
        .unwrap_err();
    assert!(e.to_string().contains("exactly two axes"), "{e}");
}

#[test]
fn progress_adds_up_to_the_cells() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let s = spec(BOOK, &["-20:20:333"], Some("0.1:1:7"), MethodName::Gd);
    let done = AtomicUsize::new(0);
    let report = |n: usize| {
        done.fetch_add(n, Ordering::Relaxed);
    };
    let result = sweep::run(&s, Some(&report)).unwrap();
    assert_eq!(done.load(Ordering::Relaxed), result.len());
}

/// A grid whose results cannot be allocated is an error that says so,
/// before any cell runs (10^15 cells: beyond any address space).
#[test]
fn grids_beyond_memory_are_errors() {
    let s = spec(
        "x^2",
        &["-1:1:100000000"],
        Some("0.01:1:10000000"),
        MethodName::Gd,
    );
    let error = sweep::run(&s, None).unwrap_err().to_string();
    assert!(
        error.contains("1000000000000000 cells need 30000000.0 GB for their results, more than can be allocated"),
        "{error}"
    );
}
