//! Formulas run as machine code (the default) against the same formulas
//! interpreted: the same values bit for bit, equal derivatives, shared by
//! threads, and no memory kept after a formula is dropped.

use downhill::formula::Formula;

const CHAPTER: [&str; 8] = [
    "x^2",
    "x*cos(0.15*pi*x)",
    "cosh(0.5*x)",
    "log(exp(x)+exp(-2*x-3))",
    "x1^2+2*x2^2",
    "0.1*x1^2+2*x2^2",
    "100*(x2-x1^2)^2+(1-x1)^2",
    "x*y*z + sin(x)*exp(-y^2) + z^3/3",
];

/// Deterministic points in [-4, 4]^n.
fn points(n: usize, count: usize) -> Vec<Vec<f64>> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    (0..count)
        .map(|_| {
            (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    -4.0 + 8.0 * (state >> 11) as f64 / (1u64 << 53) as f64
                })
                .collect()
        })
        .collect()
}

#[test]
fn machine_code_agrees_with_the_interpreter() {
    for source in CHAPTER {
        let native = Formula::parse(source).unwrap();
        let interpreted = native.clone().with_native(false);
        if cfg!(all(feature = "native", target_arch = "x86_64")) {
            assert!(native.is_native(), "{source}");
        }
        assert!(!interpreted.is_native());
        let n = native.dim();
        for x in points(n, 200) {
            let (mut g, mut gi) = (vec![0.0; n], vec![0.0; n]);
            let (mut h, mut hi) = (vec![0.0; n * n], vec![0.0; n * n]);
            assert_eq!(native.value(&x).to_bits(), interpreted.value(&x).to_bits());
            let v = native.value_gradient(&x, &mut g);
            let vi = interpreted.value_gradient(&x, &mut gi);
            assert_eq!((v.to_bits(), &g), (vi.to_bits(), &gi), "{source} at {x:?}");
            let v = native.value_gradient_hessian(&x, &mut g, &mut h);
            let vi = interpreted.value_gradient_hessian(&x, &mut gi, &mut hi);
            assert_eq!(
                (v.to_bits(), &g, &h),
                (vi.to_bits(), &gi, &hi),
                "{source} at {x:?}"
            );
        }
    }
}

/// Clones share one compiled function; threads racing to the first
/// evaluation all get the same results.
#[test]
fn threads_share_the_compiled_code() {
    let formula = Formula::parse("100*(x2-x1^2)^2+(1-x1)^2").unwrap();
    let expected = {
        let mut g = [0.0; 2];
        let v = formula
            .clone()
            .with_native(false)
            .value_gradient(&[-1.2, 1.0], &mut g);
        (v, g)
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let formula = formula.clone();
                scope.spawn(move || {
                    let mut g = [0.0; 2];
                    let v = formula.value_gradient(&[-1.2, 1.0], &mut g);
                    (v, g)
                })
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap(), expected);
        }
    });
}

/// Resident memory of this process in kB (Linux).
fn resident_kb() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Each formula's code is freed with the formula: compiling and dropping
/// thousands of formulas leaves the resident memory where it was after the
/// first few hundred.
#[test]
fn dropped_formulas_free_their_code() {
    let cycle = |count: usize| {
        for k in 0..count {
            let f = Formula::parse(&format!("x1^2 + {k}*x2^2 + sin(x1*x2)")).unwrap();
            let (mut g, mut h) = ([0.0; 2], [0.0; 4]);
            f.value(&[1.0, 2.0]);
            f.value_gradient(&[1.0, 2.0], &mut g);
            f.value_gradient_hessian(&[1.0, 2.0], &mut g, &mut h);
            assert_eq!(g[1], 4.0 * k as f64 + 2.0_f64.cos());
        }
    };
    cycle(300);
    let Some(before) = resident_kb() else {
        return; // not Linux: nothing to read
    };
    cycle(3000);
    let after = resident_kb().unwrap();
    // 3000 formulas of three functions each kept alive would hold at
    // least 9000 pages (36 MB).
    assert!(
        after < before + 8 * 1024,
        "resident memory grew from {before} kB to {after} kB"
    );
}

/// The machine code the driver's `Problem` calls directly gives
/// `value_gradient`'s numbers bit for bit, refuses wrong lengths, and does
/// not exist for an interpreted formula; runs through it count and end as
/// runs through the interpreter.
#[test]
fn compiled_gradient_is_value_gradient() {
    use downhill::driver::{run, Options};
    use downhill::method::Bfgs;
    use downhill::objective::Objective;
    for source in CHAPTER {
        let formula = Formula::parse(source).unwrap();
        let interpreted = formula.clone().with_native(false);
        assert!(interpreted.compiled_gradient().is_none());
        assert!(Objective::compiled_gradient(&interpreted).is_none());
        let compiled = Objective::compiled_gradient(&formula);
        let expect_code = cfg!(all(feature = "native", target_arch = "x86_64"));
        assert_eq!(compiled.is_some(), expect_code, "{source}");
        let Some(code) = compiled else {
            continue;
        };
        let n = formula.dim();
        assert_eq!(code.dim(), n);
        for x in points(n, 16) {
            let (mut expected, mut grad) = (vec![0.0; n], vec![0.0; n]);
            let value = formula.value_gradient(&x, &mut expected);
            assert_eq!(
                code.value_gradient(&x, &mut grad).map(f64::to_bits),
                Some(value.to_bits())
            );
            assert_eq!(
                grad.iter().map(|g| g.to_bits()).collect::<Vec<_>>(),
                expected.iter().map(|g| g.to_bits()).collect::<Vec<_>>(),
                "{source} at {x:?}"
            );
        }
        let mut short = vec![0.0; n + 1];
        assert_eq!(code.value_gradient(&vec![1.0; n + 1], &mut short), None);
        assert!(short.iter().all(|g| *g == 0.0));

        let x0 = vec![0.5; n];
        let options = Options::default();
        let (a, b) = (
            run(&formula, &mut Bfgs::new(), &x0, &options).unwrap(),
            run(&interpreted, &mut Bfgs::new(), &x0, &options).unwrap(),
        );
        assert_eq!(
            (a.iterations, a.evaluations, &a.status),
            (b.iterations, b.evaluations, &b.status),
            "{source}"
        );
        assert_eq!(a.x, b.x, "{source}");
    }
}
