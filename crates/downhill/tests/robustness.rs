//! The classical test set (`downhill::problems`): the formulas are right,
//! and the robust default and BFGS solve every problem from its standard
//! start, except the documented local-minimum cases, which are asserted as
//! such.

use downhill::driver::{run, Options, Status};
use downhill::formula::Formula;
use downhill::method::{MethodName, MethodSpec};
use downhill::problems::{classical, render_markdown, robustness_table, Row, TestProblem};

/// Problems from whose standard start the honest outcome of auto and BFGS
/// is the documented local minimum rather than `f*`.
const LOCAL_MINIMUM_CASES: &[&str] = &["Freudenstein-Roth"];

fn options() -> Options {
    Options {
        max_iterations: 2000,
        ..Options::robust()
    }
}

fn formula(p: &TestProblem) -> Formula {
    p.parse()
        .unwrap_or_else(|e| panic!("{}: {} ({:?})", p.name, e.message, e.span))
}

#[test]
fn the_set_is_large_and_well_formed() {
    let set = classical();
    assert!(set.len() >= 20, "{} problems", set.len());
    let mut names: Vec<&str> = set.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), set.len(), "problem names are unique");
    for p in &set {
        let f = formula(p);
        assert_eq!(f.dim(), p.vars.len(), "{}", p.name);
        assert_eq!(p.x0.len(), p.vars.len(), "{}", p.name);
        assert!(f.value(&p.x0).is_finite(), "{}: f(x0) not finite", p.name);
        assert!(p.f_star.is_finite(), "{}", p.name);
        assert!(!p.source.is_empty(), "{}", p.name);
        if let Some(x) = &p.minimizer {
            assert_eq!(x.len(), p.vars.len(), "{}", p.name);
        }
        if let Some(local) = p.local_minimum {
            assert!(
                local > p.f_star,
                "{}: the local minimum is above f*",
                p.name
            );
        }
    }
}

/// `f(x0)` from a separate 40-digit transcription of each function (which
/// agrees with the values MGH 1981 publish to 4-8 digits): a check that each
/// formula is the published function, independent of `f*`.
#[test]
fn values_at_the_start_match_the_literature() {
    let published: &[(&str, f64, f64)] = &[
        ("Rosenbrock", 24.2, 1e-12),
        ("Freudenstein-Roth", 400.5, 1e-12),
        ("Powell badly scaled", 1.135_261_717_35, 1e-10),
        ("Brown badly scaled", 999_998_000_003.0, 1e-12),
        ("Beale", 14.203_125, 1e-12),
        ("Jennrich-Sampson (m = 10)", 4_171.306_161_96, 1e-10),
        ("Helical valley", 2500.0, 1e-12),
        ("Bard", 41.681_695_861_7, 1e-10),
        ("Meyer", 1_693_607_809.44, 1e-10),
        ("Box three-dimensional (m = 10)", 1_031.153_810_61, 1e-10),
        ("Powell singular", 215.0, 1e-12),
        ("Wood", 19192.0, 1e-12),
        ("Kowalik-Osborne", 5.313_172_272_11e-3, 1e-10),
        ("Extended Rosenbrock (n = 10)", 121.0, 1e-12),
        ("Penalty I (n = 4)", 885.062_64, 1e-12),
        ("Variably dimensioned (n = 10)", 2_198_551.162_5, 1e-12),
        ("Chapter: x^2", 100.0, 0.0),
        ("Chapter: x1^2 + 2 x2^2", 33.0, 0.0),
    ];
    let set = classical();
    for (name, value, rel) in published {
        let p = set
            .iter()
            .find(|p| p.name == *name)
            .unwrap_or_else(|| panic!("{name} is in the set"));
        let f = formula(p).value(&p.x0);
        assert!(
            (f - value).abs() <= rel * value.abs(),
            "{name}: f(x0) = {f}, published {value}"
        );
    }
}

/// At every recorded minimizer the formula gives `f*` within 1e-8 and the
/// gradient vanishes. The gradient test is scaled per coordinate,
/// `|∂f/∂x_i| · s_i ≤ 1e-6 · max(1, |f*|)` with `s_i = |x_i|` (1 where
/// `x_i = 0`): the first-order change of `f` under a relative perturbation
/// of `x_i`. An absolute test cannot work: the minimizers are rounded to
/// doubles, and on Meyer's problem `∂²f/∂x1² ≈ 1e15`, so the rounding of
/// `x1 = 0.0056` alone leaves `∂f/∂x1 ≈ 1e-3`.
#[test]
fn formulas_take_f_star_with_zero_gradient_at_the_minimizer() {
    let mut checked = 0;
    for p in classical() {
        let Some(x) = &p.minimizer else { continue };
        let f = formula(&p);
        let mut grad = vec![0.0; f.dim()];
        let value = f.value_gradient(x, &mut grad);
        assert!(
            (value - p.f_star).abs() <= 1e-8,
            "{}: f(x*) = {value:e}, f* = {:e}",
            p.name,
            p.f_star
        );
        let scale = p.f_star.abs().max(1.0);
        for (i, (g, xi)) in grad.iter().zip(x).enumerate() {
            assert!(
                g.abs() * if *xi == 0.0 { 1.0 } else { xi.abs() } <= 1e-6 * scale,
                "{}: df/dx{} = {g:e} at the minimizer",
                p.name,
                i + 1
            );
        }
        checked += 1;
    }
    assert!(checked >= 18, "{checked} minimizers checked");
}

#[test]
fn local_minima_are_stationary_where_recorded_exactly() {
    // Freudenstein-Roth's local minimum (11.4128, -0.8968), to 20 digits.
    let p = classical()
        .into_iter()
        .find(|p| p.name == "Freudenstein-Roth")
        .unwrap();
    let f = formula(&p);
    let x = [11.412_778_986_902_094, -0.896_805_253_274_476_5];
    let mut grad = [0.0; 2];
    let value = f.value_gradient(&x, &mut grad);
    assert!((value - p.local_minimum.unwrap()).abs() <= 1e-8, "{value}");
    assert!(grad.iter().all(|g| g.abs() <= 1e-6), "{grad:?}");
}

fn table(name: MethodName) -> Vec<Row> {
    robustness_table(&classical(), &[MethodSpec::new(name)], &options())
}

fn assert_solves_the_set(name: MethodName) {
    let rows = table(name);
    let set = classical();
    assert_eq!(rows.len(), set.len());
    let mut failures = Vec::new();
    for row in &rows {
        let documented_local = LOCAL_MINIMUM_CASES.contains(&row.problem.as_str());
        let ok = if documented_local {
            // Asserted as what it is: the run ends at the documented local
            // minimum. If a method now reaches f* here, move the problem
            // out of LOCAL_MINIMUM_CASES (and out of PROBLEMS.md's notes).
            !row.solved && row.local_minimum
        } else {
            row.solved
        };
        if !ok {
            failures.push(row.clone());
        }
    }
    assert!(
        failures.is_empty(),
        "{} does not behave as documented on:\n{}",
        name.name(),
        render_markdown(&failures)
    );
}

#[test]
fn the_robust_default_solves_every_problem() {
    assert_solves_the_set(MethodName::Auto);
}

#[test]
fn bfgs_solves_every_problem() {
    assert_solves_the_set(MethodName::Bfgs);
}

/// Where the minimizer is unique, the solved runs of the default also land
/// on it.
#[test]
fn the_robust_default_finds_the_minimizers() {
    let unique = [
        "Rosenbrock",
        "Brown badly scaled",
        "Beale",
        "Jennrich-Sampson (m = 10)",
        "Helical valley",
        "Bard",
        "Wood",
        "Kowalik-Osborne",
        "Extended Rosenbrock (n = 10)",
        "Penalty I (n = 4)",
        "Variably dimensioned (n = 10)",
        "Chapter: x1^2 + 2 x2^2",
        "Chapter: cosh(0.5 x)",
    ];
    for p in classical()
        .iter()
        .filter(|p| unique.contains(&p.name.as_str()))
    {
        let f = formula(p);
        let (mut method, _) = MethodSpec::new(MethodName::Auto).build(f.dim()).unwrap();
        let result = run(&f, method.as_mut(), &p.x0, &options()).unwrap();
        let target = p.minimizer.as_ref().unwrap();
        for (i, (x, t)) in result.x.iter().zip(target).enumerate() {
            assert!(
                (x - t).abs() <= 1e-4 * t.abs().max(1.0),
                "{}: x{} = {x}, minimizer {t} ({})",
                p.name,
                i + 1,
                result.status
            );
        }
        assert!(
            !matches!(
                result.status,
                Status::Diverged { .. } | Status::IterationLimit
            ),
            "{}: {}",
            p.name,
            result.status
        );
    }
}

#[test]
fn the_table_has_one_row_per_run_and_renders() {
    let set: Vec<TestProblem> = classical().into_iter().take(3).collect();
    let methods = [
        MethodSpec::new(MethodName::Auto),
        MethodSpec::new(MethodName::Lbfgs),
    ];
    let rows = robustness_table(&set, &methods, &options());
    assert_eq!(rows.len(), 6);
    assert_eq!(
        (rows[0].problem.as_str(), rows[1].method.as_str()),
        ("Rosenbrock", "lbfgs")
    );
    let text = render_markdown(&rows);
    assert_eq!(text.lines().count(), 2 + 6);
    assert!(text.starts_with("| problem "), "{text}");
    assert!(text.contains("| Freudenstein-Roth "), "{text}");
}
