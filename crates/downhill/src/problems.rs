//! Classical unconstrained test problems and a robustness table: every
//! method of a list run on every problem from its standard start, judged
//! against the known optimal value.
//!
//! Most problems are from J. J. Moré, B. S. Garbow and K. E. Hillstrom,
//! "Testing unconstrained optimization software", *ACM Transactions on
//! Mathematical Software* 7(1), 17–41, 1981 (MGH below, with the problem's
//! number there); the others are the objectives of the "Gradient Descent"
//! chapter of *Dive into Deep Learning*. Each is a [`Formula`] in the
//! formula language, sums expanded term by term, so the derivatives are
//! exact. Optimal values that MGH gives only to six digits were recomputed
//! to 20 digits (Newton's method in 40-digit arithmetic from MGH's
//! minimizer), because the "solved" test below needs `f*` to better than
//! `10⁻⁶ · max(1, |f*|)`.
//!
//! ```
//! use downhill::driver::Options;
//! use downhill::method::{MethodName, MethodSpec};
//! use downhill::problems::{classical, robustness_table};
//! let problems: Vec<_> = classical().into_iter().filter(|p| p.name == "Beale").collect();
//! let rows = robustness_table(&problems, &[MethodSpec::new(MethodName::Bfgs)], &Options::robust());
//! assert!(rows[0].solved);
//! ```

use serde::Serialize;

use crate::driver::{run, Options};
use crate::formula::{Formula, FormulaError};
use crate::method::MethodSpec;
use crate::trace::TracePolicy;

/// One test problem: an objective, its standard start and what is known
/// about its minimum.
#[derive(Clone, Debug)]
pub struct TestProblem {
    /// Short name, e.g. `Rosenbrock` or `Extended Rosenbrock (n = 10)`.
    pub name: String,
    /// The objective in the formula language.
    pub formula: String,
    /// The variables, in the order of `x0` (`x` or `x1, ..., xn`).
    pub vars: Vec<String>,
    /// The standard starting point.
    pub x0: Vec<f64>,
    /// The optimal value the run is judged against (the global minimum,
    /// except where [`note`](Self::note) says otherwise).
    pub f_star: f64,
    /// A point where `f = f_star`, when known (exactly or to ~16 digits).
    pub minimizer: Option<Vec<f64>>,
    /// The value at a known local, non-global minimum into which a method
    /// may honestly converge from `x0` (Freudenstein–Roth: 48.98...).
    pub local_minimum: Option<f64>,
    /// Where the problem comes from.
    pub source: &'static str,
    /// Anything a reader of the table must know (local minima, what `f_star` means).
    pub note: &'static str,
}

impl TestProblem {
    /// Parses the formula in the declared variables.
    pub fn parse(&self) -> Result<Formula, FormulaError> {
        let vars: Vec<&str> = self.vars.iter().map(String::as_str).collect();
        Formula::parse_with_vars(&self.formula, &vars)
    }

    /// Whether `f` counts as solved: `f − f* ≤ 10⁻⁶ · max(1, |f*|)`.
    pub fn is_solved(&self, f: f64) -> bool {
        f.is_finite() && f - self.f_star <= SOLVED_TOLERANCE * self.f_star.abs().max(1.0)
    }

    /// Whether `f` is not solved but at the documented local minimum:
    /// `|f − f_local| ≤ 10⁻⁴ · max(1, |f_local|)` (a label only; some local
    /// minima are known to five digits, or lie at infinity).
    pub fn is_at_local_minimum(&self, f: f64) -> bool {
        !self.is_solved(f)
            && self
                .local_minimum
                .is_some_and(|local| (f - local).abs() <= LOCAL_TOLERANCE * local.abs().max(1.0))
    }
}

/// The relative tolerance of the "solved" test.
pub const SOLVED_TOLERANCE: f64 = 1e-6;

/// The relative tolerance of the "at the documented local minimum" label.
pub const LOCAL_TOLERANCE: f64 = 1e-4;

fn names(n: usize) -> Vec<String> {
    crate::objective::default_variable_names(n)
}

/// `r1^2 + r2^2 + ...`, each residual in parentheses.
fn sum_of_squares<I: IntoIterator<Item = String>>(residuals: I) -> String {
    residuals
        .into_iter()
        .map(|r| format!("({r})^2"))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// A number as formula text (shortest round-trip form, e.g. `0.3`, `1e-5`).
fn num(v: f64) -> String {
    format!("{v:?}")
}

/// The classical set: 18 problems of Moré, Garbow & Hillstrom (1981) and the
/// four objectives of the gradient-descent chapter, each from its standard
/// start. See `PROBLEMS.md` at the repository root for the table.
pub fn classical() -> Vec<TestProblem> {
    let mut set = vec![
        TestProblem {
            name: "Rosenbrock".into(),
            formula: "100*(x2 - x1^2)^2 + (1 - x1)^2".into(),
            vars: names(2),
            x0: vec![-1.2, 1.0],
            f_star: 0.0,
            minimizer: Some(vec![1.0, 1.0]),
            local_minimum: None,
            source: "Moré, Garbow & Hillstrom (1981), problem 1",
            note: "",
        },
        TestProblem {
            name: "Freudenstein-Roth".into(),
            formula: sum_of_squares([
                "-13 + x1 + ((5 - x2)*x2 - 2)*x2".to_string(),
                "-29 + x1 + ((x2 + 1)*x2 - 14)*x2".to_string(),
            ]),
            vars: names(2),
            x0: vec![0.5, -2.0],
            f_star: 0.0,
            minimizer: Some(vec![5.0, 4.0]),
            local_minimum: Some(48.984_253_679_240_02),
            source: "Moré, Garbow & Hillstrom (1981), problem 2",
            note: "from the standard start the descent leads into the local minimum f = 48.98425 at (11.41, -0.8968); f* = 0 at (5, 4)",
        },
        TestProblem {
            name: "Powell badly scaled".into(),
            formula: sum_of_squares([
                "10000*x1*x2 - 1".to_string(),
                "exp(-x1) + exp(-x2) - 1.0001".to_string(),
            ]),
            vars: names(2),
            x0: vec![0.0, 1.0],
            f_star: 0.0,
            minimizer: Some(vec![1.098_159_329_699_817_4e-5, 9.106_146_739_866_524]),
            local_minimum: None,
            source: "Moré, Garbow & Hillstrom (1981), problem 3",
            note: "",
        },
        TestProblem {
            name: "Brown badly scaled".into(),
            formula: sum_of_squares([
                "x1 - 1000000".to_string(),
                "x2 - 0.000002".to_string(),
                "x1*x2 - 2".to_string(),
            ]),
            vars: names(2),
            x0: vec![1.0, 1.0],
            f_star: 0.0,
            minimizer: Some(vec![1e6, 2e-6]),
            local_minimum: None,
            source: "Moré, Garbow & Hillstrom (1981), problem 4",
            note: "",
        },
        TestProblem {
            name: "Beale".into(),
            formula: sum_of_squares([
                "1.5 - x1*(1 - x2)".to_string(),
                "2.25 - x1*(1 - x2^2)".to_string(),
                "2.625 - x1*(1 - x2^3)".to_string(),
            ]),
            vars: names(2),
            x0: vec![1.0, 1.0],
            f_star: 0.0,
            minimizer: Some(vec![3.0, 0.5]),
            local_minimum: None,
            source: "Moré, Garbow & Hillstrom (1981), problem 5",
            note: "",
        },
        TestProblem {
            name: "Jennrich-Sampson (m = 10)".into(),
            formula: sum_of_squares(
                (1..=10).map(|i| format!("{} - exp({i}*x1) - exp({i}*x2)", 2 + 2 * i)),
            ),
            vars: names(2),
            x0: vec![0.3, 0.4],
            f_star: 124.362_182_355_614_85,
            minimizer: Some(vec![0.257_825_213_670_364_1, 0.257_825_213_670_364_1]),
            local_minimum: None,
            source: "Moré, Garbow & Hillstrom (1981), problem 6",
            note: "",
        },
        TestProblem {
            name: "Helical valley".into(),
            // θ = atan(x2/x1)/(2π), plus 1/2 where x1 < 0: the step
            // (1 - x1/|x1|)/4 is 0 for x1 > 0 and 1/2 for x1 < 0.
            formula: sum_of_squares([
                "10*(x3 - 10*(atan(x2/x1)/(2*pi) + 0.25*(1 - x1/abs(x1))))".to_string(),
                "10*(sqrt(x1^2 + x2^2) - 1)".to_string(),
                "x3".to_string(),
            ]),
            vars: names(3),
            x0: vec![-1.0, 0.0, 0.0],
            f_star: 0.0,
            minimizer: Some(vec![1.0, 0.0, 0.0]),
            local_minimum: None,
            source: "Moré, Garbow & Hillstrom (1981), problem 7",
            note: "MGH's two-branch theta written with atan and the step (1 - x1/abs(x1))/4; undefined on x1 = 0",
        },
        TestProblem {
            name: "Bard".into(),
            formula: sum_of_squares((1..=15).map(|i: usize| {
                const Y: [f64; 15] = [
                    0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96,
                    1.34, 2.10, 4.39,
                ];
                let (u, v) = (i, 16 - i);
                let w = u.min(v);
                format!("{} - (x1 + {u}/({v}*x2 + {w}*x3))", num(Y[i - 1]))
            })),
            vars: names(3),
            x0: vec![1.0, 1.0, 1.0],
            f_star: 8.214_877_306_578_975e-3,
            minimizer: Some(vec![
                0.082_410_559_749_788_93,
                1.133_036_092_029_721_6,
                2.343_695_178_642_537,
            ]),
            local_minimum: Some(17.428_6),
            source: "Moré, Garbow & Hillstrom (1981), problem 8",
            note: "MGH also list a local minimum f = 17.4286 at (0.8406, -inf, -inf)",
        },
        TestProblem {
            name: "Meyer".into(),
            formula: sum_of_squares((1..=16).map(|i: usize| {
                const Y: [u32; 16] = [
                    34780, 28610, 23650, 19630, 16370, 13720, 11540, 9744, 8261, 7030, 6005,
                    5147, 4427, 3820, 3307, 2872,
                ];
                format!("x1*exp(x2/({} + x3)) - {}", 45 + 5 * i, Y[i - 1])
            })),
            vars: names(3),
            x0: vec![0.02, 4000.0, 250.0],
            f_star: 87.945_855_170_851_12,
            minimizer: Some(vec![
                5.609_636_471_028_053e-3,
                6_181.346_346_286_372,
                345.223_634_624_136_5,
            ]),
            local_minimum: None,
            source: "Moré, Garbow & Hillstrom (1981), problem 10",
            note: "",
        },
        TestProblem {
            name: "Box three-dimensional (m = 10)".into(),
            formula: sum_of_squares((1..=10).map(|i| {
                let t = num(f64::from(i) / 10.0);
                format!("exp(-{t}*x1) - exp(-{t}*x2) - x3*(exp(-{t}) - exp(-10*{t}))")
            })),
            vars: names(3),
            x0: vec![0.0, 10.0, 20.0],
            f_star: 0.0,
            minimizer: Some(vec![1.0, 10.0, 1.0]),
            local_minimum: None,
            source: "Moré, Garbow & Hillstrom (1981), problem 12",
            note: "f = 0 also at (10, 1, -1) and on the line x1 = x2, x3 = 0",
        },
        TestProblem {
            name: "Powell singular".into(),
            formula: "(x1 + 10*x2)^2 + 5*(x3 - x4)^2 + (x2 - 2*x3)^4 + 10*(x1 - x4)^4".into(),
            vars: names(4),
            x0: vec![3.0, -1.0, 0.0, 1.0],
            f_star: 0.0,
            minimizer: Some(vec![0.0; 4]),
            local_minimum: None,
            source: "Moré, Garbow & Hillstrom (1981), problem 13",
            note: "the Hessian is singular at the minimizer",
        },
        TestProblem {
            name: "Wood".into(),
            formula: "100*(x2 - x1^2)^2 + (1 - x1)^2 + 90*(x4 - x3^2)^2 + (1 - x3)^2 \
                      + 10*(x2 + x4 - 2)^2 + 0.1*(x2 - x4)^2"
                .into(),
            vars: names(4),
            x0: vec![-3.0, -1.0, -3.0, -1.0],
            f_star: 0.0,
            minimizer: Some(vec![1.0; 4]),
            local_minimum: None,
            source: "Moré, Garbow & Hillstrom (1981), problem 14",
            note: "",
        },
        TestProblem {
            name: "Kowalik-Osborne".into(),
            formula: sum_of_squares(
                [
                    (0.1957, 4.0),
                    (0.1947, 2.0),
                    (0.1735, 1.0),
                    (0.1600, 0.5),
                    (0.0844, 0.25),
                    (0.0627, 0.167),
                    (0.0456, 0.125),
                    (0.0342, 0.1),
                    (0.0323, 0.0833),
                    (0.0235, 0.0714),
                    (0.0246, 0.0625),
                ]
                .into_iter()
                .map(|(y, u)| {
                    let (y, u) = (num(y), num(u));
                    format!("{y} - x1*({u}^2 + {u}*x2)/({u}^2 + {u}*x3 + x4)")
                }),
            ),
            vars: names(4),
            x0: vec![0.25, 0.39, 0.415, 0.39],
            f_star: 3.075_056_038_492_374e-4,
            minimizer: Some(vec![
                0.192_806_934_579_037_85,
                0.191_282_328_734_366_96,
                0.123_056_506_926_320_65,
                0.136_062_330_683_794_84,
            ]),
            local_minimum: Some(1.027_34e-3),
            source: "Moré, Garbow & Hillstrom (1981), problem 15",
            note: "MGH also list a local minimum f = 1.02734e-3 at infinity",
        },
        extended_rosenbrock(10),
        penalty_one(4),
        variably_dimensioned(10),
        trigonometric(5),
        brown_almost_linear(5),
    ];
    set.extend(chapter());
    set
}

/// MGH #21 for even `n`: `Σ 100 (x_{2i} − x_{2i−1}²)² + (1 − x_{2i−1})²`.
pub fn extended_rosenbrock(n: usize) -> TestProblem {
    assert!(
        n >= 2 && n.is_multiple_of(2),
        "extended Rosenbrock needs an even n"
    );
    let formula = (1..=n / 2)
        .map(|i| {
            let (a, b) = (2 * i - 1, 2 * i);
            format!("100*(x{b} - x{a}^2)^2 + (1 - x{a})^2")
        })
        .collect::<Vec<_>>()
        .join(" + ");
    TestProblem {
        name: format!("Extended Rosenbrock (n = {n})"),
        formula,
        vars: names(n),
        x0: (0..n)
            .map(|j| if j % 2 == 0 { -1.2 } else { 1.0 })
            .collect(),
        f_star: 0.0,
        minimizer: Some(vec![1.0; n]),
        local_minimum: None,
        source: "Moré, Garbow & Hillstrom (1981), problem 21",
        note: "",
    }
}

/// MGH #23, `n = 4` only (the optimal value depends on `n`):
/// `10⁻⁵ Σ (x_i − 1)² + (Σ x_j² − 1/4)²`.
fn penalty_one(n: usize) -> TestProblem {
    assert_eq!(n, 4, "the optimal value is recorded for n = 4 only");
    let squares = (1..=n)
        .map(|j| format!("x{j}^2"))
        .collect::<Vec<_>>()
        .join(" + ");
    let penalties = (1..=n)
        .map(|j| format!("(x{j} - 1)^2"))
        .collect::<Vec<_>>()
        .join(" + ");
    // Every stationary point has equal coordinates; the minimizer's are t
    // with 2a(t − 1) + 4(4t² − 1/4)t = 0, a = 1e-5.
    let t = 0.250_007_499_587_537_9;
    TestProblem {
        name: format!("Penalty I (n = {n})"),
        formula: format!("0.00001*({penalties}) + ({squares} - 0.25)^2"),
        vars: names(n),
        x0: (1..=n).map(|j| j as f64).collect(),
        f_star: 2.249_977_500_899_937e-5,
        minimizer: Some(vec![t; n]),
        local_minimum: None,
        source: "Moré, Garbow & Hillstrom (1981), problem 23",
        note: "",
    }
}

/// MGH #25: `Σ (x_j − 1)² + s² + s⁴` with `s = Σ j (x_j − 1)`, from `x_j = 1 − j/n`.
pub fn variably_dimensioned(n: usize) -> TestProblem {
    let s = (1..=n)
        .map(|j| format!("{j}*(x{j} - 1)"))
        .collect::<Vec<_>>()
        .join(" + ");
    let squares = (1..=n)
        .map(|j| format!("(x{j} - 1)^2"))
        .collect::<Vec<_>>()
        .join(" + ");
    TestProblem {
        name: format!("Variably dimensioned (n = {n})"),
        formula: format!("{squares} + ({s})^2 + ({s})^4"),
        vars: names(n),
        x0: (1..=n).map(|j| 1.0 - j as f64 / n as f64).collect(),
        f_star: 0.0,
        minimizer: Some(vec![1.0; n]),
        local_minimum: None,
        source: "Moré, Garbow & Hillstrom (1981), problem 25",
        note: "",
    }
}

/// MGH #26: residuals `n − Σ cos x_j + i (1 − cos x_i) − sin x_i`, from `x_j = 1/n`.
///
/// `f_star` is 0; that the standard start leads to a zero was checked for
/// `n = 5` only (the set's size, whose minimizer is recorded). For other `n`
/// a run may end in a local minimum with `f > 0`.
pub fn trigonometric(n: usize) -> TestProblem {
    let cosines = (1..=n)
        .map(|j| format!("cos(x{j})"))
        .collect::<Vec<_>>()
        .join(" - ");
    TestProblem {
        name: format!("Trigonometric (n = {n})"),
        formula: sum_of_squares(
            (1..=n).map(|i| format!("{n} - {cosines} + {i}*(1 - cos(x{i})) - sin(x{i})")),
        ),
        vars: names(n),
        x0: vec![1.0 / n as f64; n],
        f_star: 0.0,
        // One of many zeros (the residuals are periodic), the one reached
        // from x0, refined in 40-digit arithmetic.
        minimizer: (n == 5).then(|| {
            vec![
                0.099_132_398_360_373_03,
                0.105_341_895_593_818_6,
                0.113_663_249_228_121_72,
                0.363_745_321_613_145_7,
                0.153_288_946_736_826_4,
            ]
        }),
        local_minimum: None,
        source: "Moré, Garbow & Hillstrom (1981), problem 26",
        note: "",
    }
}

/// MGH #27: residuals `x_i + Σ x_j − (n + 1)` for `i < n` and `Π x_j − 1`, from `x_j = 1/2`.
pub fn brown_almost_linear(n: usize) -> TestProblem {
    let sum = (1..=n)
        .map(|j| format!("x{j}"))
        .collect::<Vec<_>>()
        .join(" + ");
    let product = (1..=n)
        .map(|j| format!("x{j}"))
        .collect::<Vec<_>>()
        .join("*");
    let mut residuals: Vec<String> = (1..n)
        .map(|i| format!("x{i} + {sum} - {}", n + 1))
        .collect();
    residuals.push(format!("{product} - 1"));
    TestProblem {
        name: format!("Brown almost-linear (n = {n})"),
        formula: sum_of_squares(residuals),
        vars: names(n),
        x0: vec![0.5; n],
        f_star: 0.0,
        minimizer: Some(vec![1.0; n]),
        local_minimum: Some(1.0),
        source: "Moré, Garbow & Hillstrom (1981), problem 27",
        note: "f = 0 at (a, ..., a, a^(1-n)) for every root a of n a^n - (n+1) a^(n-1) + 1, e.g. all ones; local minimum f = 1 at (0, ..., 0, n+1)",
    }
}

/// The objectives of the gradient-descent chapter (*Dive into Deep
/// Learning*, section "Gradient Descent"), from the chapter's starts.
pub fn chapter() -> Vec<TestProblem> {
    const D2L: &str = "Dive into Deep Learning, Gradient Descent";
    vec![
        TestProblem {
            name: "Chapter: x^2".into(),
            formula: "x^2".into(),
            vars: names(1),
            x0: vec![10.0],
            f_star: 0.0,
            minimizer: Some(vec![0.0]),
            local_minimum: None,
            source: D2L,
            note: "",
        },
        TestProblem {
            name: "Chapter: x1^2 + 2 x2^2".into(),
            formula: "x1^2 + 2*x2^2".into(),
            vars: names(2),
            x0: vec![-5.0, -2.0],
            f_star: 0.0,
            minimizer: Some(vec![0.0, 0.0]),
            local_minimum: None,
            source: D2L,
            note: "",
        },
        TestProblem {
            name: "Chapter: cosh(0.5 x)".into(),
            formula: "cosh(0.5*x)".into(),
            vars: names(1),
            x0: vec![10.0],
            f_star: 1.0,
            minimizer: Some(vec![0.0]),
            local_minimum: None,
            source: D2L,
            note: "",
        },
        TestProblem {
            name: "Chapter: x cos(0.15 pi x)".into(),
            formula: "x*cos(0.15*pi*x)".into(),
            vars: names(1),
            x0: vec![10.0],
            f_star: -6.978_140_831_070_474,
            minimizer: Some(vec![7.269_388_146_311_475]),
            local_minimum: None,
            source: D2L,
            note: "unbounded below (x cos(0.15 pi x) -> -inf along a sequence of valleys): f* here is the local minimum of the valley of x0, at x = 7.2694; a lower f is counted as solved",
        },
    ]
}

/// One run of one method on one problem.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The problem's name.
    pub problem: String,
    /// The method, e.g. `bfgs` or `gd (line search wolfe)`.
    pub method: String,
    /// How the run ended (`converged`, `stalled`, `iteration_limit`,
    /// `diverged`, `method_failed`), or `error: ...` when it could not start.
    pub status: String,
    /// Iterations taken.
    pub iterations: usize,
    /// Function values evaluated.
    pub f_evals: usize,
    /// Gradients evaluated.
    pub g_evals: usize,
    /// Hessians evaluated.
    pub h_evals: usize,
    /// The final `f` (NaN when the run could not start).
    #[serde(serialize_with = "finite_or_string")]
    pub f: f64,
    /// The problem's `f*`.
    #[serde(serialize_with = "finite_or_string")]
    pub f_star: f64,
    /// `f − f* ≤ 10⁻⁶ · max(1, |f*|)`.
    pub solved: bool,
    /// Not solved, but at the problem's documented local minimum.
    pub local_minimum: bool,
}

fn finite_or_string<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    crate::trace::json_number(*v).serialize(s)
}

/// The method's name with the parameters given in `spec`, e.g. `bfgs`,
/// `gd (eta 0.001)`, `newton (line search wolfe)`.
pub fn method_label(spec: &MethodSpec) -> String {
    let mut parts = Vec::new();
    if let Some(eta) = spec.eta {
        parts.push(format!("eta {eta}"));
    }
    if let Some(repair) = spec.hessian {
        parts.push(format!("hessian {}", repair.name()));
    }
    if let Some(search) = spec.line_search {
        parts.push(format!("line search {}", search.name()));
    }
    if let Some(memory) = spec.memory {
        parts.push(format!("memory {memory}"));
    }
    let name = spec.name.name();
    if parts.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({})", parts.join(", "))
    }
}

/// Runs every method on every problem from its start under `options` (one
/// run each, problems outer, methods inner). Never panics: a formula that
/// does not parse, a method that cannot be built or a run that cannot start
/// gives a row with status `error: ...`, not solved.
pub fn robustness_table(
    problems: &[TestProblem],
    methods: &[MethodSpec],
    options: &Options,
) -> Vec<Row> {
    // The table needs no iterates: keep only the ends of each trace.
    let options = Options {
        trace: TracePolicy::Ends,
        ..options.clone()
    };
    let mut rows = Vec::with_capacity(problems.len() * methods.len());
    for problem in problems {
        let formula = problem.parse();
        for spec in methods {
            let mut row = Row {
                problem: problem.name.clone(),
                method: method_label(spec),
                status: String::new(),
                iterations: 0,
                f_evals: 0,
                g_evals: 0,
                h_evals: 0,
                f: f64::NAN,
                f_star: problem.f_star,
                solved: false,
                local_minimum: false,
            };
            let outcome = formula
                .as_ref()
                .map_err(|e| format!("invalid formula: {}", e.message))
                .and_then(|f| {
                    let (mut method, _) = spec.build(f.dim())?;
                    run(f, method.as_mut(), &problem.x0, &options).map_err(|e| e.to_string())
                });
            match outcome {
                Ok(result) => {
                    row.status = result.status.code().to_string();
                    row.iterations = result.iterations;
                    row.f_evals = result.evaluations.f;
                    row.g_evals = result.evaluations.grad;
                    row.h_evals = result.evaluations.hess;
                    row.f = result.f;
                    row.solved = problem.is_solved(result.f);
                    row.local_minimum = problem.is_at_local_minimum(result.f);
                }
                Err(message) => row.status = format!("error: {message}"),
            }
            rows.push(row);
        }
    }
    rows
}

/// The rows as a markdown table with aligned columns: problem, method,
/// status, iterations, f / ∇f / ∇²f evaluations, final f, solved.
pub fn render_markdown(rows: &[Row]) -> String {
    let header = [
        "problem", "method", "status", "iter", "f evals", "g evals", "H evals", "f", "solved",
    ];
    // Numbers are right-aligned.
    let right = [false, false, false, true, true, true, true, true, false];
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            [
                r.problem.clone(),
                r.method.clone(),
                r.status.replace('|', "/"),
                r.iterations.to_string(),
                r.f_evals.to_string(),
                r.g_evals.to_string(),
                r.h_evals.to_string(),
                format!("{:.6e}", r.f),
                if r.solved {
                    "yes".to_string()
                } else if r.local_minimum {
                    "no (local min)".to_string()
                } else {
                    "no".to_string()
                },
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |values: &[String]| -> String {
        let padded: Vec<String> = values
            .iter()
            .zip(widths)
            .zip(right)
            .map(|((v, w), r)| {
                let pad = " ".repeat(w - v.chars().count());
                if r {
                    format!("{pad}{v}")
                } else {
                    format!("{v}{pad}")
                }
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(&header.map(String::from));
    let rule: Vec<String> = widths
        .iter()
        .zip(right)
        .map(|(w, r)| {
            if r {
                format!("{}:", "-".repeat(w + 1))
            } else {
                "-".repeat(w + 2)
            }
        })
        .collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in &cells {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_aligns_columns() {
        let row = Row {
            problem: "p".into(),
            method: "bfgs".into(),
            status: "converged".into(),
            iterations: 12,
            f_evals: 30,
            g_evals: 30,
            h_evals: 0,
            f: 1.5e-20,
            f_star: 0.0,
            solved: true,
            local_minimum: false,
        };
        let table = render_markdown(&[row]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        let width = lines[0].chars().count();
        assert!(lines.iter().all(|l| l.chars().count() == width), "{table}");
        assert!(lines[2].contains("| 1.500000e-20 | yes"), "{table}");
    }

    #[test]
    fn run_errors_become_rows() {
        let bad = TestProblem {
            name: "bad".into(),
            formula: "x1 +".into(),
            vars: names(1),
            x0: vec![1.0],
            f_star: 0.0,
            minimizer: None,
            local_minimum: None,
            source: "",
            note: "",
        };
        let log = TestProblem {
            name: "log".into(),
            formula: "log(x1)".into(),
            vars: vec!["x1".into()],
            x0: vec![-1.0],
            ..bad.clone()
        };
        let rows = robustness_table(
            &[bad, log],
            &[MethodSpec::new(crate::method::MethodName::Bfgs)],
            &Options::robust(),
        );
        assert!(rows[0].status.starts_with("error: invalid formula"));
        assert!(rows[1].status.starts_with("error: "), "{}", rows[1].status);
        assert!(!rows[0].solved && !rows[1].solved);
    }
}
