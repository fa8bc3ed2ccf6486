//! The scalar evaluators' form of a tape (`Tape`): the same instructions, with
//! chains of one-operand instructions fused into the instruction whose
//! result they consume.
//!
//! An interpreter pays a fixed price per instruction (dispatch, storing the
//! result, loading the operands), which for small formulas outweighs the
//! arithmetic. Most one-operand instructions consume a result used nowhere
//! else, computed just before: `(x2 - x1^2)^2` squares the difference,
//! `100*...` scales the square, `cos(c*x)` takes the cosine of a product.
//! A [`Step`] is one instruction followed by such a chain, applied in
//! registers of the CPU without storing the intermediate results:
//!
//! ```text
//! op → [square] → [× scale + shift] → [unary function] → [+ register]
//! ```
//!
//! The last part is an absorbed `Add` of the chain's result and another,
//! earlier register: sums of terms, as `100*(y-x^2)^2 + (1-x)^2`, then cost
//! one step per term instead of an extra step per `+`.
//!
//! Every fused operation performs exactly the `f64` operations of the
//! instructions it replaces (the identities `v * 1` and `v + (-0)` are exact,
//! NaN payloads included, and `a + b` is `b + a` bit for bit but for which
//! NaN comes out), so values and derivatives stay bit for bit those
//! of the plain tape; only `Square`, `MulC`, `AddC`, `Unary` and `Add` are
//! fused, since a fused negation (`v * -1`) would not keep a NaN's sign.
//!
//! The lane evaluator and the reverse and wide second-order modes keep
//! using the plain tape.

use super::ast::UnaryFunction;
use super::program::{Op, Output, Reg};

/// One-operand operations applied to a [`Step`]'s result, in this order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Post {
    /// `v * v` (an absorbed `Square`).
    pub square: bool,
    /// `v * scale + shift` (an absorbed `MulC` and/or `AddC`; `1` and `-0`
    /// where one is absent, both exact identities).
    pub scale: f64,
    pub shift: f64,
    /// An absorbed `Unary`.
    pub unary: Option<UnaryFunction>,
    /// `v + r(plus)` (an absorbed `Add` of the result and register `plus`,
    /// an input or an earlier step; `0` and unused where there is none).
    pub plus: Reg,
    /// Which of the four are present (never none), so that an evaluator
    /// branches once, to exactly the arithmetic of the absorbed
    /// instructions, instead of testing each part and applying the exact
    /// identities `* 1` and `+ (-0)` for an absent affine part.
    pub shape: Shape,
}

/// The parts of a [`Post`] that are present: a square, an affine map
/// (a `MulC` and/or an `AddC`), a unary function, an added register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Square,
    Affine,
    SquareAffine,
    Unary,
    SquareUnary,
    AffineUnary,
    SquareAffineUnary,
    Plus,
    SquarePlus,
    AffinePlus,
    SquareAffinePlus,
    UnaryPlus,
    SquareUnaryPlus,
    AffineUnaryPlus,
    SquareAffineUnaryPlus,
}

impl Shape {
    /// The shape with these parts; `None` for no part at all.
    fn of(square: bool, affine: bool, unary: bool, plus: bool) -> Option<Shape> {
        Some(match (square, affine, unary, plus) {
            (false, false, false, false) => return None,
            (true, false, false, false) => Shape::Square,
            (false, true, false, false) => Shape::Affine,
            (true, true, false, false) => Shape::SquareAffine,
            (false, false, true, false) => Shape::Unary,
            (true, false, true, false) => Shape::SquareUnary,
            (false, true, true, false) => Shape::AffineUnary,
            (true, true, true, false) => Shape::SquareAffineUnary,
            (false, false, false, true) => Shape::Plus,
            (true, false, false, true) => Shape::SquarePlus,
            (false, true, false, true) => Shape::AffinePlus,
            (true, true, false, true) => Shape::SquareAffinePlus,
            (false, false, true, true) => Shape::UnaryPlus,
            (true, false, true, true) => Shape::SquareUnaryPlus,
            (false, true, true, true) => Shape::AffineUnaryPlus,
            (true, true, true, true) => Shape::SquareAffineUnaryPlus,
        })
    }
}

/// A [`Post`] while it is built.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Chain {
    square: bool,
    affine: Option<(f64, f64)>,
    unary: Option<UnaryFunction>,
    /// The added register, already renamed to the fused registers.
    plus: Option<Reg>,
}

impl Chain {
    const NONE: Chain = Chain {
        square: false,
        affine: None,
        unary: None,
        plus: None,
    };

    /// The post-operations, `None` if there are none.
    fn post(self) -> Option<Post> {
        let (scale, shift) = self.affine.unwrap_or((1.0, -0.0));
        let shape = Shape::of(
            self.square,
            self.affine.is_some(),
            self.unary.is_some(),
            self.plus.is_some(),
        )?;
        Some(Post {
            square: self.square,
            scale,
            shift,
            unary: self.unary,
            plus: self.plus.unwrap_or(0),
            shape,
        })
    }

    /// Appends the one-operand instruction `op` (reading the current
    /// result) if it fits the fixed order; false if not.
    /// (Nothing follows an added register: the caller stops there.)
    fn absorb(&mut self, op: Op) -> bool {
        let unscaled = self.affine.is_none() && self.unary.is_none();
        match op {
            Op::Square(_) if !self.square && unscaled => self.square = true,
            Op::MulC(_, c) if unscaled => self.affine = Some((c, -0.0)),
            Op::AddC(_, c) if self.unary.is_none() => match self.affine {
                None => self.affine = Some((1.0, c)),
                Some((scale, shift)) if shift.to_bits() == (-0.0f64).to_bits() => {
                    self.affine = Some((scale, c))
                }
                Some(_) => return false,
            },
            Op::Unary(function, _) if self.unary.is_none() => self.unary = Some(function),
            _ => return false,
        }
        true
    }
}

/// An instruction with the chain fused into it; writes the next register.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Step {
    pub op: Op,
    /// `None` when nothing is fused (one test in the evaluators' loop).
    pub post: Option<Post>,
}

/// The fused instructions of a tape, over their own registers: inputs
/// first, then step `k` in register `inputs + k`, reading only lower ones.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Fused {
    pub steps: Vec<Step>,
    pub output: Output,
    /// How many steps at the start square an input and do nothing else
    /// (`x^2` in `100*(y-x^2)^2`), at most one per input and never the
    /// last step: the small evaluators run them without dispatch.
    pub leading_squares: usize,
}

impl Fused {
    /// Fuses the instructions `ops` of a tape with `inputs` input registers
    /// and result `output`.
    pub fn new(inputs: usize, ops: &[Op], output: Output) -> Fused {
        let registers = inputs + ops.len();
        let mut uses = vec![0u32; registers];
        for op in ops {
            let (a, b) = op.operands();
            for r in [a, b].into_iter().flatten() {
                uses[r as usize] += 1;
            }
        }
        if let Output::Register(r) = output {
            uses[r as usize] += 1;
        }
        // `renamed[r]`: the fused register holding old register `r`.
        let mut renamed: Vec<Reg> = (0..registers as Reg).collect();
        let mut steps = Vec::with_capacity(ops.len());
        let mut k = 0;
        while k < ops.len() {
            let op = ops[k].map_operands(|r| renamed[r as usize]);
            let mut post = Chain::NONE;
            // Absorb the next instruction while it is the only reader of
            // the current result and reads nothing else; or, last, an `Add`
            // of the current result and another register.
            while k + 1 < ops.len() && uses[inputs + k] == 1 {
                let (current, next) = ((inputs + k) as Reg, ops[k + 1]);
                if next.operands() == (Some(current), None) && post.absorb(next) {
                    k += 1;
                    continue;
                }
                if let Some(other) = added_to(next, current) {
                    // Unless the sum starts a chain of its own (`log(a + b)`):
                    // absorbing the `Add` would only move the step to the
                    // chain's instruction.
                    if !starts_chain(ops, inputs, k + 1, &uses) {
                        post.plus = Some(renamed[other as usize]);
                        k += 1;
                    }
                }
                break;
            }
            renamed[inputs + k] = (inputs + steps.len()) as Reg;
            steps.push(Step {
                op,
                post: post.post(),
            });
            k += 1;
        }
        let output = match output {
            Output::Register(r) => Output::Register(renamed[r as usize]),
            constant => constant,
        };
        // The evaluators' unchecked register reads rely on this, as on the
        // same invariant of the tape (`Tape::is_well_formed`): a renamed
        // operand is an input or an earlier step, never an absorbed result.
        debug_assert!(steps.iter().enumerate().all(|(k, step)| {
            let (a, b) = step.op.operands();
            let plus = step
                .post
                .filter(|post| post.has_plus())
                .map(|post| post.plus);
            [a, b, plus]
                .into_iter()
                .flatten()
                .all(|r| (r as usize) < inputs + k)
        }));
        let leading_squares = steps[..steps.len().saturating_sub(1)]
            .iter()
            .take(inputs)
            .take_while(|step| {
                matches!(step.op, Op::Square(a) if (a as usize) < inputs) && step.post.is_none()
            })
            .count();
        Fused {
            steps,
            output,
            leading_squares,
        }
    }

    /// The register holding the result, `None` for a constant formula.
    pub fn output_register(&self) -> Option<Reg> {
        match self.output {
            Output::Register(r) => Some(r),
            Output::Constant(_) => None,
        }
    }
}

impl Post {
    /// True if the post ends with an added register.
    pub fn has_plus(&self) -> bool {
        matches!(
            self.shape,
            Shape::Plus
                | Shape::SquarePlus
                | Shape::AffinePlus
                | Shape::SquareAffinePlus
                | Shape::UnaryPlus
                | Shape::SquareUnaryPlus
                | Shape::AffineUnaryPlus
                | Shape::SquareAffineUnaryPlus
        )
    }
}

/// The other operand if `op` adds register `current` to a different one.
fn added_to(op: Op, current: Reg) -> Option<Reg> {
    match op {
        Op::Add(a, b) if a == current && b != current => Some(b),
        Op::Add(a, b) if b == current && a != current => Some(a),
        _ => None,
    }
}

/// True if instruction `k` of `ops` would absorb its successor.
fn starts_chain(ops: &[Op], inputs: usize, k: usize, uses: &[u32]) -> bool {
    let current = (inputs + k) as Reg;
    k + 1 < ops.len()
        && uses[inputs + k] == 1
        && ops[k + 1].operands() == (Some(current), None)
        && {
            let mut chain = Chain::NONE;
            chain.absorb(ops[k + 1])
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::parser::parse;
    use crate::formula::program::Tape;

    fn fused(source: &str) -> Fused {
        let parsed = parse(source, None).expect("parses");
        let tape = Tape::compile(&parsed.expr, &parsed.variables);
        Fused::new(tape.inputs(), tape.ops(), tape.output())
    }

    fn post(
        square: bool,
        affine: Option<(f64, f64)>,
        unary: Option<UnaryFunction>,
        plus: Option<Reg>,
    ) -> Option<Post> {
        Chain {
            square,
            affine,
            unary,
            plus,
        }
        .post()
    }

    #[test]
    fn single_use_chains_fuse_in_order() {
        let f = fused("100*(x2-x1^2)^2+(1-x1)^2");
        let ops: Vec<Op> = f.steps.iter().map(|s| s.op).collect();
        assert_eq!(ops, [Op::Square(0), Op::Sub(1, 2), Op::CSub(1.0, 0)]);
        assert_eq!(f.steps[0].post, None);
        assert_eq!(f.steps[1].post, post(true, Some((100.0, -0.0)), None, None));
        // The final `+` joins the second term's chain, adding the first.
        let last = f.steps[2].post.expect("a post");
        assert_eq!(last.shape, Shape::SquarePlus);
        assert_eq!(last.plus, 3);
        assert_eq!(f.output, Output::Register(4));
        assert_eq!(f.leading_squares, 1);

        // A sum that starts a chain of its own (`log(...)`) keeps its step.
        let f = fused("log(exp(x)+exp(-2*x-3))");
        assert_eq!(f.steps.len(), 3);
        assert_eq!(f.steps[1].op, Op::MulC(0, -2.0));
        assert_eq!(
            f.steps[1].post,
            post(false, Some((1.0, -3.0)), Some(UnaryFunction::Exp), None)
        );
        assert_eq!(f.steps[2].op, Op::Add(1, 2));
        assert_eq!(
            f.steps[2].post,
            post(false, None, Some(UnaryFunction::Ln), None)
        );
    }

    #[test]
    fn sums_fuse_into_the_chain_of_their_last_term() {
        // Either operand order; the other operand may be an input.
        let f = fused("x1^2+2*x2^2");
        assert_eq!(f.steps.len(), 2);
        assert_eq!(f.steps[1].op, Op::Square(1));
        assert_eq!(
            f.steps[1].post.map(|p| (p.shape, p.plus)),
            Some((Shape::AffinePlus, 2))
        );
        let f = fused("y + sin(x)");
        assert_eq!(f.steps.len(), 1);
        assert_eq!(
            f.steps[0].post.map(|p| (p.shape, p.plus)),
            Some((Shape::Plus, 1))
        );
        let f = fused("y + sin(2*x)");
        assert_eq!(f.steps.len(), 1);
        assert_eq!(
            f.steps[0].post.map(|p| (p.shape, p.plus)),
            Some((Shape::UnaryPlus, 1))
        );
        // A step with nothing else fused gets a bare `Plus`; `x + x` and a
        // difference do not fuse.
        let f = fused("x*y + x");
        assert_eq!(f.steps.len(), 1);
        assert_eq!(
            f.steps[0].post.map(|p| (p.shape, p.plus)),
            Some((Shape::Plus, 0))
        );
        assert_eq!(fused("sin(x) + sin(x)").steps.len(), 2);
        assert_eq!(fused("x - sin(x)").steps.len(), 2);
        // An operand is renamed to the fused registers.
        let f = fused("exp(2*x+1) + (x-y)^2*3");
        assert_eq!(f.steps.len(), 2);
        assert_eq!(
            f.steps[1].post.map(|p| (p.shape, p.plus)),
            Some((Shape::SquareAffinePlus, 2))
        );
    }

    #[test]
    fn leading_squares_are_bare_squares_of_inputs_before_the_last_step() {
        assert_eq!(fused("x^2*y^2 + z").leading_squares, 2);
        // A square with a post, of a result, after another step, or last.
        assert_eq!(fused("2*x^2 + y").leading_squares, 0);
        assert_eq!(fused("(x+y)^2 + x").leading_squares, 0);
        assert_eq!(fused("sin(x)*y^2").leading_squares, 0);
        assert_eq!(fused("x^2").leading_squares, 0);
        assert_eq!(fused("x^2 + x").leading_squares, 0);
        assert_eq!(fused("x^2 * x").leading_squares, 1);
    }

    #[test]
    fn shared_results_and_the_output_are_not_fused_away() {
        // `x^2` is read twice: it stays a register of its own.
        let f = fused("sin(x^2) + x^2");
        assert_eq!(f.steps.len(), 2);
        assert!(f.steps[0].post.is_none());
        assert_eq!(f.steps[1].post.map(|p| p.plus), Some(1));
        // Nothing follows the last instruction.
        let f = fused("2*x");
        assert_eq!(f.steps.len(), 1);
        // A scale and a shift fuse into one step; a second shift, or a
        // square after a shift, starts a new one.
        assert_eq!(fused("2*x+1").steps.len(), 1);
        assert_eq!(fused("2*x+1+2").steps.len(), 2);
        assert_eq!(fused("(2*x+1)^2").steps.len(), 2);
    }
}

/// The fused steps against the plain tape: bit for bit the same value,
/// gradient and Hessian on random formulas and points.
#[cfg(test)]
pub(crate) mod agreement {
    use proptest::prelude::*;

    use crate::formula::eval::{self, reference};
    use crate::formula::parser::parse;
    use crate::formula::program::Tape;

    const VARIABLES: [&str; 5] = ["x", "y", "z", "u", "w"];

    fn pick(options: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
        proptest::sample::select(options)
    }

    /// Formulas over (some of) five variables, rich in the chains that fuse.
    fn formula() -> impl Strategy<Value = String> {
        formula_over(&VARIABLES)
    }

    /// Formulas over (some of) `variables`, rich in the chains that fuse.
    pub(crate) fn formula_over(
        variables: &'static [&'static str],
    ) -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            pick(variables).prop_map(String::from),
            (-3.0..3.0f64).prop_map(|c| format!("{c:.3}")),
        ];
        leaf.prop_recursive(6, 64, 2, |inner| {
            prop_oneof![
                (
                    inner.clone(),
                    pick(&["+", "-", "*", "/", "^"]),
                    inner.clone()
                )
                    .prop_map(|(a, op, b)| format!("({a}){op}({b})")),
                (
                    pick(&[
                        "exp", "log", "sqrt", "abs", "sin", "cos", "tan", "asin", "acos", "atan",
                        "sinh", "cosh", "tanh",
                    ]),
                    inner.clone()
                )
                    .prop_map(|(f, a)| format!("{f}({a})")),
                (pick(&["min", "max", "pow"]), inner.clone(), inner.clone())
                    .prop_map(|(f, a, b)| format!("{f}({a}, {b})")),
                inner.clone().prop_map(|a| format!("({a})^2")),
                (-3.0..3.0f64, inner.clone()).prop_map(|(c, a)| format!("{c:.2}*({a})")),
                (inner.clone(), -3.0..3.0f64).prop_map(|(a, c)| format!("({a})+{c:.2}")),
                (-3.0..3.0f64, inner).prop_map(|(c, a)| format!("{c:.2}-({a})")),
            ]
        })
    }

    /// Equal bits, or both NaN: which NaN an operation returns depends on
    /// the order the compiled code gives its operands, which the source
    /// does not fix.
    pub(crate) fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn fused_steps_match_the_plain_tape_bit_for_bit(
            source in formula(),
            x in prop::collection::vec(-3.0..3.0f64, 5),
        ) {
            let parsed = parse(&source, Some(&VARIABLES)).expect("generated formulas parse");
            let tape = Tape::compile(&parsed.expr, &parsed.variables);
            let (mut g, mut rg) = ([0.0; 5], [0.0; 5]);
            let (mut h, mut rh) = ([0.0; 25], [0.0; 25]);
            let v = eval::value(&tape, &x);
            prop_assert!(same(v, reference::value(&tape, &x)), "value of {source}");
            let vg = eval::value_gradient(&tape, &x, &mut g);
            let rvg = reference::value_gradient(&tape, &x, &mut rg);
            prop_assert!(same(vg, rvg) && same(vg, v), "value of {source}");
            prop_assert!(g.iter().zip(&rg).all(|(a, b)| same(*a, *b)), "gradient of {source}: {g:?} vs {rg:?}");
            let vh = eval::value_gradient_hessian(&tape, &x, &mut g, &mut h);
            let rvh = reference::value_gradient_hessian(&tape, &x, &mut rg, &mut rh);
            prop_assert!(same(vh, rvh) && same(vh, v), "value of {source}");
            prop_assert!(g.iter().zip(&rg).all(|(a, b)| same(*a, *b)), "gradient of {source}");
            prop_assert!(h.iter().zip(&rh).all(|(a, b)| same(*a, *b)), "Hessian of {source}: {h:?} vs {rh:?}");
        }
    }
}
