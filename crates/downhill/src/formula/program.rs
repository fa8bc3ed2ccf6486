//! The compiled form of a formula: a flat tape of instructions over
//! registers, with constant folding and common-subexpression sharing.
//!
//! Registers `0..inputs` hold the *active* variables: those that occur in
//! the formula, in variable order (a declared but unused variable gets no
//! register and a zero derivative). Instruction `k` writes register
//! `inputs + k` and reads only lower registers, so one forward sweep
//! evaluates the tape, and one backward sweep propagates adjoints.
//!
//! Subtrees without variables are folded to constants at compile time with
//! the very same `f64` code the evaluator runs, so folding never changes a
//! result: `0.15*pi*x` becomes `c*x` with `c = 0.15*pi`, exactly as
//! `(0.15*pi)*x` evaluates in `f64`. Identical instructions on identical
//! operands are emitted once (hash-consing), so `cos(2*x) + cos(2*x)` costs
//! one multiplication and one cosine; sharing never changes a value, because
//! each instruction is a pure function of its operands.

use std::collections::HashMap;

use super::ast::{BinaryOperator, Expr, ExprKind, UnaryFunction};
use super::fused::Fused;
use super::lanes;
use super::local;
use super::small::Plan;

/// A register index.
pub(crate) type Reg = u32;

/// One step of a tape; each writes the next register.
///
/// Constants on the left of a commutative operation are stored on the right
/// (`2*x` is `MulC(x, 2)`): IEEE addition and multiplication commute, and
/// `c - b` is `-b + c` bit for bit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Op {
    /// A constant in a register (only for `min`/`max` with a constant side).
    Const(f64),
    Neg(Reg),
    Add(Reg, Reg),
    Sub(Reg, Reg),
    Mul(Reg, Reg),
    Div(Reg, Reg),
    /// `a + c`
    AddC(Reg, f64),
    /// `c - b`
    CSub(f64, Reg),
    /// `a * c`
    MulC(Reg, f64),
    /// `a / c`
    DivC(Reg, f64),
    /// `c / b`
    CDiv(f64, Reg),
    /// `min(a, b)`: `b` if `b < a`, else `a`; NaN if either is NaN.
    Min(Reg, Reg),
    /// `max(a, b)`: `b` if `b > a`, else `a`; NaN if either is NaN.
    Max(Reg, Reg),
    /// `a^2`, exactly `a*a`.
    Square(Reg),
    /// `a^n` for an integer constant by repeated squaring ([`local::powi`]).
    PowI(Reg, i32),
    /// `a^p` for another constant: `powf`.
    PowF(Reg, f64),
    /// `c^b`: value `c.powf(b)`, derivatives of `exp(b ln c)`.
    CPow(f64, Reg),
    /// `a^b`: value `a.powf(b)`, derivatives of `exp(b ln a)` (need `a > 0`).
    Pow(Reg, Reg),
    Unary(UnaryFunction, Reg),
}

impl Op {
    /// The registers the instruction reads.
    pub fn operands(self) -> (Option<Reg>, Option<Reg>) {
        match self {
            Op::Const(_) => (None, None),
            Op::Neg(a)
            | Op::AddC(a, _)
            | Op::CSub(_, a)
            | Op::MulC(a, _)
            | Op::DivC(a, _)
            | Op::CDiv(_, a)
            | Op::Square(a)
            | Op::PowI(a, _)
            | Op::PowF(a, _)
            | Op::CPow(_, a)
            | Op::Unary(_, a) => (Some(a), None),
            Op::Add(a, b)
            | Op::Sub(a, b)
            | Op::Mul(a, b)
            | Op::Div(a, b)
            | Op::Min(a, b)
            | Op::Max(a, b)
            | Op::Pow(a, b) => (Some(a), Some(b)),
        }
    }

    /// The same instruction reading `f(r)` instead of each register `r`.
    pub fn map_operands(self, f: impl Fn(Reg) -> Reg) -> Op {
        match self {
            Op::Const(c) => Op::Const(c),
            Op::Neg(a) => Op::Neg(f(a)),
            Op::Add(a, b) => Op::Add(f(a), f(b)),
            Op::Sub(a, b) => Op::Sub(f(a), f(b)),
            Op::Mul(a, b) => Op::Mul(f(a), f(b)),
            Op::Div(a, b) => Op::Div(f(a), f(b)),
            Op::AddC(a, c) => Op::AddC(f(a), c),
            Op::CSub(c, b) => Op::CSub(c, f(b)),
            Op::MulC(a, c) => Op::MulC(f(a), c),
            Op::DivC(a, c) => Op::DivC(f(a), c),
            Op::CDiv(c, b) => Op::CDiv(c, f(b)),
            Op::Min(a, b) => Op::Min(f(a), f(b)),
            Op::Max(a, b) => Op::Max(f(a), f(b)),
            Op::Square(a) => Op::Square(f(a)),
            Op::PowI(a, n) => Op::PowI(f(a), n),
            Op::PowF(a, p) => Op::PowF(f(a), p),
            Op::CPow(c, b) => Op::CPow(c, f(b)),
            Op::Pow(a, b) => Op::Pow(f(a), f(b)),
            Op::Unary(function, a) => Op::Unary(function, f(a)),
        }
    }

    /// A hashable identity: the variant with its operands, constants by bits.
    fn key(self) -> (u8, u64, u64) {
        let r = u64::from;
        let c = f64::to_bits;
        match self {
            Op::Const(v) => (0, c(v), 0),
            Op::Neg(a) => (1, r(a), 0),
            Op::Add(a, b) => (2, r(a), r(b)),
            Op::Sub(a, b) => (3, r(a), r(b)),
            Op::Mul(a, b) => (4, r(a), r(b)),
            Op::Div(a, b) => (5, r(a), r(b)),
            Op::AddC(a, v) => (6, r(a), c(v)),
            Op::CSub(v, b) => (7, c(v), r(b)),
            Op::MulC(a, v) => (8, r(a), c(v)),
            Op::DivC(a, v) => (9, r(a), c(v)),
            Op::CDiv(v, b) => (10, c(v), r(b)),
            Op::Min(a, b) => (11, r(a), r(b)),
            Op::Max(a, b) => (12, r(a), r(b)),
            Op::Square(a) => (13, r(a), 0),
            Op::PowI(a, n) => (14, r(a), u64::from(n as u32)),
            Op::PowF(a, p) => (15, r(a), c(p)),
            Op::CPow(v, b) => (16, c(v), r(b)),
            Op::Pow(a, b) => (17, r(a), r(b)),
            Op::Unary(f, a) => (18 + f as u8, r(a), 0),
        }
    }
}

/// Where the result of a tape is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Output {
    Constant(f64),
    Register(Reg),
}

/// How a constant exponent is applied.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ConstantExponent {
    /// Integral exponents of moderate size multiply (`x^2` is exactly `x*x`).
    Integer(i32),
    /// Everything else uses `powf`.
    Real(f64),
}

impl ConstantExponent {
    /// Integer exponents up to this magnitude use repeated squaring.
    const MAX_INTEGER: f64 = 1024.0;

    fn of(exponent: f64) -> ConstantExponent {
        if exponent.fract() == 0.0 && exponent.abs() <= Self::MAX_INTEGER {
            ConstantExponent::Integer(exponent as i32)
        } else {
            ConstantExponent::Real(exponent)
        }
    }

    fn apply(self, base: f64) -> f64 {
        match self {
            ConstantExponent::Integer(n) => local::powi(base, n),
            ConstantExponent::Real(p) => base.powf(p),
        }
    }
}

/// A compiled formula.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tape {
    /// The number of declared variables (the length of a point).
    dim: usize,
    /// `active[i]` is the variable held in input register `i`, increasing.
    active: Vec<usize>,
    ops: Vec<Op>,
    output: Output,
    /// The scalar evaluators' form of `ops`.
    fused: Fused,
    /// How the gradient and Hessian evaluations of `fused` run.
    plan: Plan,
    /// The lane evaluator's tangents that are one number in every lane
    /// ([`lanes::uniform_tangents`]).
    uniform_tangents: Vec<Option<f64>>,
}

impl Tape {
    /// Compiles `expr`; `variables` gives each variable name its index.
    pub fn compile(expr: &Expr, variables: &[String]) -> Tape {
        let mut used = vec![false; variables.len()];
        mark_used(expr, variables, &mut used);
        let active: Vec<usize> = (0..variables.len()).filter(|&i| used[i]).collect();
        let mut slot = vec![None; variables.len()];
        for (register, &variable) in active.iter().enumerate() {
            slot[variable] = Some(register as Reg);
        }
        let mut compiler = Compiler {
            variables,
            slot,
            inputs: active.len(),
            ops: Vec::new(),
            seen: HashMap::new(),
        };
        let output = match compiler.compile(expr) {
            Operand::Constant(value) => Output::Constant(value),
            Operand::Register(register) => Output::Register(register),
        };
        let fused = Fused::new(active.len(), &compiler.ops, output);
        let plan = Plan::new(active.len(), active.len() == variables.len(), &fused);
        let uniform_tangents = lanes::uniform_tangents(active.len(), &compiler.ops);
        let tape = Tape {
            dim: variables.len(),
            active,
            ops: compiler.ops,
            output,
            fused,
            plan,
            uniform_tangents,
        };
        debug_assert!(tape.is_well_formed());
        tape
    }

    /// True if instruction `k` reads only registers below its own,
    /// `inputs + k`, and the output register exists: the invariant the
    /// evaluators' unchecked register accesses rely on. Every compiled tape
    /// has it (the compiler emits an operand before its use).
    pub fn is_well_formed(&self) -> bool {
        let inputs = self.inputs();
        let below = |limit: usize, r: Option<Reg>| r.is_none_or(|r| (r as usize) < limit);
        self.ops.iter().enumerate().all(|(k, op)| {
            let (a, b) = op.operands();
            below(inputs + k, a) && below(inputs + k, b)
        }) && match self.output {
            Output::Constant(_) => true,
            Output::Register(r) => (r as usize) < self.registers(),
        }
    }

    /// True if every declared variable occurs: input register `i` holds
    /// `x[i]`.
    pub fn all_active(&self) -> bool {
        self.active.len() == self.dim
    }

    /// The number of declared variables (the length of a point).
    #[cfg_attr(not(feature = "native"), allow(dead_code))]
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The variables with input registers, in register order.
    pub fn active(&self) -> &[usize] {
        &self.active
    }

    /// The number of input registers.
    pub fn inputs(&self) -> usize {
        self.active.len()
    }

    /// The instructions.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Where the result is.
    pub fn output(&self) -> Output {
        self.output
    }

    /// The instructions with one-operand chains fused, for the scalar
    /// evaluators.
    pub fn fused(&self) -> &Fused {
        &self.fused
    }

    /// How the gradient and Hessian evaluations run.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// `[r * inputs + j]`: tangent `j` of register `r` in the lane
    /// evaluator, when it is one number in every lane
    /// ([`lanes::uniform_tangents`]; empty above four inputs).
    pub fn uniform_tangents(&self) -> &[Option<f64>] {
        &self.uniform_tangents
    }

    /// The number of registers (inputs and instruction results).
    pub fn registers(&self) -> usize {
        self.active.len() + self.ops.len()
    }
}

/// Marks the variables that occur in `expr` (the parser bounds the height,
/// so the recursion is shallow).
fn mark_used(expr: &Expr, variables: &[String], used: &mut [bool]) {
    match &expr.kind {
        ExprKind::Number(_) => {}
        ExprKind::Variable(name) => {
            if let Some(index) = variables.iter().position(|variable| variable == name) {
                used[index] = true;
            }
        }
        ExprKind::Negate(operand) | ExprKind::Unary(_, operand) => {
            mark_used(operand, variables, used)
        }
        ExprKind::Binary(_, lhs, rhs) => {
            mark_used(lhs, variables, used);
            mark_used(rhs, variables, used);
        }
    }
}

/// An instruction operand while compiling.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Operand {
    Constant(f64),
    Register(Reg),
}

struct Compiler<'v> {
    variables: &'v [String],
    slot: Vec<Option<Reg>>,
    inputs: usize,
    ops: Vec<Op>,
    seen: HashMap<(u8, u64, u64), Reg>,
}

impl Compiler<'_> {
    /// Emits `op`, or reuses the register of an identical earlier one.
    fn emit(&mut self, op: Op) -> Operand {
        let key = op.key();
        if let Some(&register) = self.seen.get(&key) {
            return Operand::Register(register);
        }
        let register = (self.inputs + self.ops.len()) as Reg;
        self.ops.push(op);
        self.seen.insert(key, register);
        Operand::Register(register)
    }

    /// A register holding `operand` (constants get a `Const` instruction).
    fn register(&mut self, operand: Operand) -> Reg {
        match operand {
            Operand::Register(register) => register,
            Operand::Constant(value) => match self.emit(Op::Const(value)) {
                Operand::Register(register) => register,
                Operand::Constant(_) => unreachable!("emit returns a register"),
            },
        }
    }

    /// Compiles `expr`, folding constant subtrees, and returns where its
    /// value is.
    fn compile(&mut self, expr: &Expr) -> Operand {
        match &expr.kind {
            ExprKind::Number(value) => Operand::Constant(*value),
            ExprKind::Variable(name) => {
                match self.variables.iter().position(|variable| variable == name) {
                    Some(index) => match self.slot[index] {
                        Some(register) => Operand::Register(register),
                        None => Operand::Constant(f64::NAN),
                    },
                    // The parser only produces known variables.
                    None => Operand::Constant(f64::NAN),
                }
            }
            ExprKind::Negate(operand) => match self.compile(operand) {
                Operand::Constant(value) => Operand::Constant(-value),
                Operand::Register(a) => self.emit(Op::Neg(a)),
            },
            ExprKind::Unary(function, argument) => match self.compile(argument) {
                Operand::Constant(value) => Operand::Constant(local::unary_value(*function, value)),
                Operand::Register(a) => self.emit(Op::Unary(*function, a)),
            },
            ExprKind::Binary(operator, lhs, rhs) => {
                let lhs = self.compile(lhs);
                let rhs = self.compile(rhs);
                self.compile_binary(*operator, lhs, rhs)
            }
        }
    }

    fn compile_binary(&mut self, operator: BinaryOperator, lhs: Operand, rhs: Operand) -> Operand {
        use Operand::{Constant, Register};
        match (operator, lhs, rhs) {
            (BinaryOperator::Power, Constant(base), Constant(exponent)) => {
                Constant(ConstantExponent::of(exponent).apply(base))
            }
            (BinaryOperator::Power, Register(a), Constant(exponent)) => {
                match ConstantExponent::of(exponent) {
                    ConstantExponent::Integer(2) => self.emit(Op::Square(a)),
                    ConstantExponent::Integer(n) => self.emit(Op::PowI(a, n)),
                    ConstantExponent::Real(p) => self.emit(Op::PowF(a, p)),
                }
            }
            (BinaryOperator::Power, Constant(base), Register(b)) if base == std::f64::consts::E => {
                self.emit(Op::Unary(UnaryFunction::Exp, b))
            }
            (BinaryOperator::Power, Constant(base), Register(b)) => self.emit(Op::CPow(base, b)),
            (BinaryOperator::Power, Register(a), Register(b)) => self.emit(Op::Pow(a, b)),
            (_, Constant(a), Constant(b)) => Constant(local::binary_value(operator, a, b)),
            (BinaryOperator::Minimum | BinaryOperator::Maximum, lhs, rhs) => {
                let (a, b) = (self.register(lhs), self.register(rhs));
                if operator == BinaryOperator::Minimum {
                    self.emit(Op::Min(a, b))
                } else {
                    self.emit(Op::Max(a, b))
                }
            }
            (BinaryOperator::Add, Register(a), Register(b)) => self.emit(Op::Add(a, b)),
            (BinaryOperator::Add, Register(a), Constant(c))
            | (BinaryOperator::Add, Constant(c), Register(a)) => self.emit(Op::AddC(a, c)),
            (BinaryOperator::Subtract, Register(a), Register(b)) => self.emit(Op::Sub(a, b)),
            // `a - c` is `a + (-c)` bit for bit.
            (BinaryOperator::Subtract, Register(a), Constant(c)) => self.emit(Op::AddC(a, -c)),
            (BinaryOperator::Subtract, Constant(c), Register(b)) => self.emit(Op::CSub(c, b)),
            // `a*a` is `a^2` bit for bit, derivatives included.
            (BinaryOperator::Multiply, Register(a), Register(b)) if a == b => {
                self.emit(Op::Square(a))
            }
            (BinaryOperator::Multiply, Register(a), Register(b)) => self.emit(Op::Mul(a, b)),
            (BinaryOperator::Multiply, Register(a), Constant(c))
            | (BinaryOperator::Multiply, Constant(c), Register(a)) => self.emit(Op::MulC(a, c)),
            (BinaryOperator::Divide, Register(a), Register(b)) => self.emit(Op::Div(a, b)),
            (BinaryOperator::Divide, Register(a), Constant(c)) => self.emit(Op::DivC(a, c)),
            (BinaryOperator::Divide, Constant(c), Register(b)) => self.emit(Op::CDiv(c, b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::parser::parse;

    fn compile(source: &str) -> Tape {
        let parsed = parse(source, None).expect("parses");
        Tape::compile(&parsed.expr, &parsed.variables)
    }

    #[test]
    fn constant_subtrees_fold_left_to_right() {
        let tape = compile("0.15*pi*x");
        let c = 0.15 * std::f64::consts::PI;
        assert_eq!(tape.ops(), &[Op::MulC(0, c)]);
    }

    #[test]
    fn whole_constant_formula_folds_to_output() {
        let tape = compile("2^3^2 - sin(pi/2)");
        assert!(tape.ops().is_empty());
        assert_eq!(tape.output(), Output::Constant(511.0));
    }

    #[test]
    fn integer_exponents_multiply_and_e_base_uses_exp() {
        assert_eq!(compile("x^2").ops(), &[Op::Square(0)]);
        assert_eq!(compile("x^3").ops(), &[Op::PowI(0, 3)]);
        assert_eq!(compile("x^-1.5").ops(), &[Op::PowF(0, -1.5)]);
        assert_eq!(compile("e^x").ops(), &[Op::Unary(UnaryFunction::Exp, 0)]);
        assert_eq!(compile("x^1e6").ops(), &[Op::PowF(0, 1e6)]);
    }

    #[test]
    fn common_subexpressions_are_computed_once() {
        let tape = compile("cos(2*x) + cos(2*x)");
        assert_eq!(
            tape.ops(),
            &[
                Op::MulC(0, 2.0),
                Op::Unary(UnaryFunction::Cos, 1),
                Op::Add(2, 2)
            ]
        );
        // The chapter's cosine: c*x once, even where it appears twice.
        let tape = compile("x*cos(0.15*pi*x) + sin(0.15*pi*x)");
        assert_eq!(tape.ops().len(), 5, "{:?}", tape.ops());
        // Constants on either side of a commutative operation share.
        assert_eq!(compile("2*x + x*2").ops().len(), 2);
        // A product of a shared factor with itself is a square.
        assert_eq!(
            compile("(x+1)*(1+x)").ops(),
            &[Op::AddC(0, 1.0), Op::Square(1)]
        );
        // Different constants do not share.
        assert_eq!(compile("cos(2*x) + cos(3*x)").ops().len(), 5);
    }

    #[test]
    fn unused_declared_variables_get_no_register() {
        let parsed = parse("y^2 + sin(y)", Some(&["x", "y", "z"])).expect("parses");
        let tape = Tape::compile(&parsed.expr, &parsed.variables);
        assert!(!tape.all_active());
        assert_eq!(tape.active(), &[1]);
        assert_eq!(tape.inputs(), 1);
        assert_eq!(tape.registers(), 4);
    }

    #[test]
    fn subtraction_of_a_constant_is_an_addition() {
        assert_eq!(compile("x - 3").ops(), &[Op::AddC(0, -3.0)]);
        assert_eq!(compile("3 - x").ops(), &[Op::CSub(3.0, 0)]);
    }

    #[test]
    fn min_and_max_with_constants_load_them() {
        assert_eq!(compile("min(x, 1)").ops(), &[Op::Const(1.0), Op::Min(0, 1)]);
    }
}
