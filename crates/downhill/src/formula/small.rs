//! Specialised forward-mode evaluators for the commonest small formulas:
//! one or two variables, every declared variable used, and few enough
//! fused steps for all registers to live on the stack.
//!
//! The general evaluators (`eval.rs`) decide at every call how many
//! variables are active, whether the result is a constant, whether the
//! registers fit on the stack and where each variable goes; and, from two
//! variables on, they rebuild an input's unit tangent at every read of it.
//! For a formula of three or four steps that bookkeeping is as much work as
//! the arithmetic. A [`Plan`] makes those decisions once, when the tape is
//! compiled; a call then goes straight into a loop monomorphized for its
//! number of variables, which stores the inputs with their unit tangents
//! and reads every operand the same way.
//!
//! The arithmetic is that of the general evaluators (the same
//! [`tangent_op`], [`jet_op`] and post-operations, applied to the same
//! fused steps in the same order), so results are bit for bit theirs.

use std::mem::MaybeUninit;

use super::eval::{jet_op, post_jet, post_tangent, read, tangent_op, Jet, STACK_REGISTERS};
use super::fused::Fused;
use super::program::{Op, Reg};

/// How a tape's gradient and Hessian evaluations run, chosen once when it
/// is compiled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Plan {
    /// [`gradient`] and [`hessian`] with `N = 1`.
    One,
    /// [`gradient`] and [`hessian`] with `N = 2`; `units` are the inputs'
    /// unit tangents `[[1, 0], [0, 1]]`.
    ///
    /// Data rather than constants in the code, for speed: given constants,
    /// the compiler stores them as `1 | 0, 0 | 1` (seen in the
    /// disassembly), and the first read of a whole tangent then cannot take
    /// its value from a single store (a store-forwarding stall); copied
    /// from memory, each tangent is one store.
    Two { units: [[f64; 2]; 2] },
    /// The general evaluators.
    General,
}

impl Plan {
    /// The plan for fused steps `fused` over `inputs` input registers;
    /// `all_active` is true if input register `i` holds variable `i` for
    /// every declared variable.
    ///
    /// The small plans promise what their evaluators rely on without
    /// checking: there is at least one step, all `inputs + steps` registers
    /// fit in [`STACK_REGISTERS`], the result is the last step's, and (as in
    /// every [`Fused`]) step `k` reads only registers below `inputs + k`.
    /// (The compiler emits the root of a formula last, so only a formula
    /// that is a bare variable or a constant misses the first and third.)
    pub fn new(inputs: usize, all_active: bool, fused: &Fused) -> Plan {
        let steps = fused.steps.len();
        let last = (inputs + steps).checked_sub(1).map(|r| r as Reg);
        let fits = steps > 0 && inputs + steps <= STACK_REGISTERS;
        if !all_active || !fits || fused.output_register() != last {
            return Plan::General;
        }
        match inputs {
            1 => Plan::One,
            2 => Plan::Two {
                units: [[1.0, 0.0], [0.0, 1.0]],
            },
            _ => Plan::General,
        }
    }
}

/// `f(x)`, writing its gradient into `gradient`, for a tape of plan
/// [`Plan::One`] (`N = 1`) or [`Plan::Two`] (`N = 2`) with fused steps
/// `fused`; `units` are the inputs' unit tangents (rows of the identity).
///
/// The point and gradient come as arrays (and the result of the last step
/// is kept in the CPU's registers) so that a call passes no argument on
/// the stack and reloads nothing.
#[inline(never)]
pub(crate) fn gradient<const N: usize>(
    fused: &Fused,
    units: &[[f64; N]; N],
    x: &[f64; N],
    gradient: &mut [f64; N],
) -> f64 {
    let steps = &fused.steps[..];
    debug_assert!(!steps.is_empty() && N + steps.len() <= STACK_REGISTERS);
    let mut values = [MaybeUninit::<f64>::uninit(); STACK_REGISTERS];
    let mut tangents = [MaybeUninit::<[f64; N]>::uninit(); STACK_REGISTERS];
    for i in 0..N {
        values[i].write(x[i]);
        tangents[i].write(units[i]);
    }
    let mut last = (f64::NAN, [f64::NAN; N]);
    // The leading squares of inputs (at most `N`) without dispatch: the
    // `Square` arm of `tangent_op`, selected here by the compiler. Only from
    // two variables on: with one, the extra code costs more than the
    // dispatch it saves (measured).
    let lead = if N > 1 {
        fused.leading_squares.min(N)
    } else {
        0
    };
    for (k, step) in steps[..lead].iter().enumerate() {
        if let Op::Square(a) = step.op {
            // SAFETY: as in the loop below.
            let (v, t) = tangent_op::<N>(
                Op::Square(a),
                |r| unsafe { read(&values, r) },
                |r| unsafe { read(&tangents, r) },
            );
            unsafe {
                values.get_unchecked_mut(N + k).write(v);
                tangents.get_unchecked_mut(N + k).write(t);
            }
        }
    }
    // (A slice rather than `skip`, which tests on every iteration.)
    for (k, step) in (lead..).zip(&steps[lead..]) {
        // SAFETY (every `read` and write): the plan guarantees
        // `N + steps.len() <= STACK_REGISTERS`, and step `k` (its added
        // register too) reads only registers below `N + k`: inputs, stored
        // above, or earlier steps.
        let (mut v, mut t) = tangent_op::<N>(
            step.op,
            |r| unsafe { read(&values, r) },
            |r| unsafe { read(&tangents, r) },
        );
        if let Some(post) = step.post {
            (v, t) = post_tangent(
                post,
                v,
                t,
                |r| unsafe { read(&values, r) },
                |r| unsafe { read(&tangents, r) },
            );
        }
        unsafe {
            values.get_unchecked_mut(N + k).write(v);
            tangents.get_unchecked_mut(N + k).write(t);
        }
        last = (v, t);
    }
    // The plan guarantees at least one step, the last one the result.
    let (value, tangent) = last;
    *gradient = tangent;
    value
}

/// `f(x)`, writing its gradient into `gradient` and its Hessian into the
/// rows `hessian`, for a tape of plan [`Plan::One`] (`N = 1`, `T = 1`) or
/// [`Plan::Two`] (`N = 2`, `T = 3`), as [`gradient`].
#[inline(never)]
pub(crate) fn hessian<const N: usize, const T: usize>(
    fused: &Fused,
    units: &[[f64; N]; N],
    x: &[f64; N],
    gradient: &mut [f64; N],
    hessian: &mut [[f64; N]; N],
) -> f64 {
    let steps = &fused.steps[..];
    debug_assert!(!steps.is_empty() && N + steps.len() <= STACK_REGISTERS);
    debug_assert_eq!(T, N * (N + 1) / 2);
    let mut values = [MaybeUninit::<f64>::uninit(); STACK_REGISTERS];
    let mut gradients = [MaybeUninit::<[f64; N]>::uninit(); STACK_REGISTERS];
    let mut hessians = [MaybeUninit::<[f64; T]>::uninit(); STACK_REGISTERS];
    for i in 0..N {
        values[i].write(x[i]);
        gradients[i].write(units[i]);
        hessians[i].write([0.0; T]);
    }
    // SAFETY (every `read` and write): as in `gradient`.
    let load = |values: &[MaybeUninit<f64>],
                gradients: &[MaybeUninit<[f64; N]>],
                hessians: &[MaybeUninit<[f64; T]>],
                r: Reg| unsafe {
        Jet {
            v: read(values, r),
            g: read(gradients, r),
            h: read(hessians, r),
        }
    };
    let mut last = Jet {
        v: f64::NAN,
        g: [f64::NAN; N],
        h: [f64::NAN; T],
    };
    // The leading squares without dispatch, as in `gradient`.
    let lead = if N > 1 {
        fused.leading_squares.min(N)
    } else {
        0
    };
    for (k, step) in steps[..lead].iter().enumerate() {
        if let Op::Square(a) = step.op {
            let jet = jet_op(Op::Square(a), |r| load(&values, &gradients, &hessians, r));
            unsafe {
                values.get_unchecked_mut(N + k).write(jet.v);
                gradients.get_unchecked_mut(N + k).write(jet.g);
                hessians.get_unchecked_mut(N + k).write(jet.h);
            }
        }
    }
    // (A slice rather than `skip`, which tests on every iteration.)
    for (k, step) in (lead..).zip(&steps[lead..]) {
        let mut jet = jet_op(step.op, |r| load(&values, &gradients, &hessians, r));
        if let Some(post) = step.post {
            jet = post_jet(post, jet, |r| load(&values, &gradients, &hessians, r));
        }
        unsafe {
            values.get_unchecked_mut(N + k).write(jet.v);
            gradients.get_unchecked_mut(N + k).write(jet.g);
            hessians.get_unchecked_mut(N + k).write(jet.h);
        }
        last = jet;
    }
    // The plan guarantees at least one step, the last one the result.
    *gradient = last.g;
    let mut k = 0;
    // The triangle fills both halves: `[i][j]` and `[j][i]` by index.
    #[allow(clippy::needless_range_loop)]
    for i in 0..N {
        for j in i..N {
            hessian[i][j] = last.h[k];
            hessian[j][i] = last.h[k];
            k += 1;
        }
    }
    last.v
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::Plan;
    use crate::formula::eval::{self, reference};
    use crate::formula::fused::agreement::{formula_over, same};
    use crate::formula::parser::parse;
    use crate::formula::program::Tape;

    fn compile(source: &str, variables: &[&str]) -> Tape {
        let parsed = parse(source, Some(variables)).expect("parses");
        Tape::compile(&parsed.expr, &parsed.variables)
    }

    #[test]
    fn small_plans_only_where_their_promises_hold() {
        let plan = |source: &str, variables: &[&str]| *compile(source, variables).plan();
        assert_eq!(plan("x*cos(0.15*pi*x)", &["x"]), Plan::One);
        assert!(matches!(
            plan("100*(y-x^2)^2+(1-x)^2", &["x", "y"]),
            Plan::Two {
                units: [[1.0, 0.0], [0.0, 1.0]]
            }
        ));
        // A declared variable that does not occur, a constant formula,
        // three variables, too many registers for the stack.
        assert_eq!(plan("x^2", &["x", "y"]), Plan::General);
        assert_eq!(plan("2*pi", &["x"]), Plan::General);
        assert_eq!(plan("x", &["x"]), Plan::General);
        assert_eq!(plan("x*y*z", &["x", "y", "z"]), Plan::General);
        let long = (1..40).map(|k| format!("sin({k}*x)")).collect::<Vec<_>>();
        assert_eq!(plan(&long.join("+"), &["x"]), Plan::General);
    }

    /// Value, gradient and Hessian of the small plans against the plain
    /// tape's reference evaluators, bit for bit.
    fn check(source: &str, variables: &[&str], x: &[f64]) -> Result<(), TestCaseError> {
        let tape = compile(source, variables);
        let n = variables.len();
        let (mut g, mut rg) = (vec![0.0; n], vec![0.0; n]);
        let (mut h, mut rh) = (vec![0.0; n * n], vec![0.0; n * n]);
        let x = &x[..n];
        let v = reference::value(&tape, x);
        let vg = eval::value_gradient(&tape, x, &mut g);
        let rvg = reference::value_gradient(&tape, x, &mut rg);
        prop_assert!(same(vg, rvg) && same(vg, v), "value of {source}");
        prop_assert!(
            g.iter().zip(&rg).all(|(a, b)| same(*a, *b)),
            "gradient of {source}: {g:?} vs {rg:?}"
        );
        let vh = eval::value_gradient_hessian(&tape, x, &mut g, &mut h);
        let rvh = reference::value_gradient_hessian(&tape, x, &mut rg, &mut rh);
        prop_assert!(same(vh, rvh) && same(vh, v), "value of {source}");
        prop_assert!(
            g.iter().zip(&rg).all(|(a, b)| same(*a, *b)),
            "gradient of {source}"
        );
        prop_assert!(
            h.iter().zip(&rh).all(|(a, b)| same(*a, *b)),
            "Hessian of {source}: {h:?} vs {rh:?}"
        );
        Ok(())
    }

    #[test]
    fn the_benchmark_formulas_match_the_reference() {
        for x in [[0.3, -1.7], [-1.2, 1.0], [2.5, 0.0]] {
            check("x*cos(0.15*pi*x)", &["x"], &x).unwrap();
            check("log(exp(x)+exp(-2*x-3))", &["x"], &x).unwrap();
            check("x1^2+2*x2^2", &["x1", "x2"], &x).unwrap();
            check("100*(x2-x1^2)^2+(1-x1)^2", &["x1", "x2"], &x).unwrap();
        }
    }

    /// Formulas whose first steps square inputs (run without dispatch by
    /// the small plans) against the reference, at ordinary points and at
    /// ones where `0 * slope` and the square overflow or are NaN.
    #[test]
    fn leading_squares_match_the_reference() {
        let cases: [(&str, &[&str], usize); 4] = [
            ("x^2 * x", &["x"], 1),
            ("x^2*y^2 + y", &["x", "y"], 2),
            ("100*(y-x^2)^2+(1-x)^2", &["x", "y"], 1),
            ("y^2/(1+x^2) - x", &["x", "y"], 1),
        ];
        let points = [
            [0.3, -1.7],
            [-1.2, 1.0],
            [1e200, -0.0],
            [f64::NEG_INFINITY, 2.0],
            [f64::NAN, -3.0],
        ];
        for (source, variables, lead) in cases {
            assert_eq!(
                compile(source, variables).fused().leading_squares,
                lead,
                "{source}"
            );
            for x in points {
                check(source, variables, &x).unwrap();
            }
        }
    }

    /// Every shape of post that ends with an added register, in sums
    /// over one, two and three variables (plans `One`, `Two`, `General`),
    /// against the reference; `{a}` and `{b}` are the term's operands.
    #[test]
    fn fused_sums_match_the_reference_in_every_plan() {
        use crate::formula::fused::Shape;
        let terms = [
            ("{a}*{b}", Shape::Plus),
            ("({a}-{b})^2", Shape::SquarePlus),
            ("3*({a}-{b})", Shape::AffinePlus),
            ("3*({a}-{b})^2-1", Shape::SquareAffinePlus),
            ("sin({a}-{b})", Shape::UnaryPlus),
            ("sin(({a}-{b})^2)", Shape::SquareUnaryPlus),
            ("exp(0.5*({a}-{b})+1)", Shape::AffineUnaryPlus),
            ("atan(0.5*({a}-{b})^2)", Shape::SquareAffineUnaryPlus),
        ];
        // Variables, the term's operands, the other term, the plan
        // (`None` for `Two`, whose units are data).
        type Case = (
            &'static [&'static str],
            &'static str,
            &'static str,
            &'static str,
        );
        let cases: [(Case, Option<Plan>); 3] = [
            ((&["x"], "x", "cos(x)", "x^3"), Some(Plan::One)),
            ((&["x", "y"], "x", "y", "y^3"), None),
            ((&["x", "y", "z"], "x", "y*z", "z^3"), Some(Plan::General)),
        ];
        let points = [[0.3, -1.7, 0.9], [-1.2, 1.0, 2.0], [2.5, 0.0, -0.5]];
        for (term, shape) in terms {
            for ((variables, a, b, other), plan) in cases {
                let term = term.replace("{a}", a).replace("{b}", b);
                // The `+` joins the chain of the term compiled last: the
                // term's on the right, the bare power's on the left.
                for (source, shape) in [
                    (format!("{other} + ({term})"), shape),
                    (format!("({term}) + {other}"), Shape::Plus),
                ] {
                    let tape = compile(&source, variables);
                    let last = tape.fused().steps.last().and_then(|step| step.post);
                    assert_eq!(last.map(|post| post.shape), Some(shape), "{source}");
                    match plan {
                        Some(plan) => assert_eq!(*tape.plan(), plan, "{source}"),
                        None => assert!(matches!(tape.plan(), Plan::Two { .. }), "{source}"),
                    }
                    for x in points {
                        check(&source, variables, &x).unwrap();
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn one_variable_plans_match_the_plain_tape_bit_for_bit(
            source in formula_over(&["x"]),
            x in prop::collection::vec(-3.0..3.0f64, 1),
        ) {
            check(&source, &["x"], &x)?;
        }

        #[test]
        fn two_variable_plans_match_the_plain_tape_bit_for_bit(
            source in formula_over(&["x", "y"]),
            x in prop::collection::vec(-3.0..3.0f64, 2),
        ) {
            check(&source, &["x", "y"], &x)?;
        }
    }
}
