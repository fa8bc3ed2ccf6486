//! The compiled form of a formula: a flat list of register instructions,
//! evaluated generically over [`Scalar`] (plain `f64` or dual numbers).
//!
//! Registers `0..inputs` hold the variables; instruction `k` writes register
//! `inputs + k` and reads only lower registers. Subtrees without variables
//! are folded to constants at compile time with the very same `f64` code the
//! evaluator runs, so folding never changes a result: `0.15*pi*x` becomes
//! `c*x` with `c = 0.15*pi`, exactly as `(0.15*pi)*x` evaluates in `f64`.

use super::ast::{BinaryOperator, Expr, ExprKind, UnaryFunction};
use super::eval::Scalar;

/// An instruction operand after constant folding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Operand {
    Constant(f64),
    Register(usize),
}

/// Binary operations other than powers (which get their own instructions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arithmetic {
    Add,
    Subtract,
    Multiply,
    Divide,
    Minimum,
    Maximum,
}

/// How a constant exponent is applied.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ConstantExponent {
    /// Integral exponents of moderate size use `powi` (`x^2` is exactly `x*x`).
    Integer(i32),
    /// Everything else uses `powf`.
    Real(f64),
}

impl ConstantExponent {
    /// Integer exponents up to this magnitude use `powi`; `num-dual`'s
    /// second derivative of `powi` multiplies `n*(n-1)` in `i32`.
    const MAX_INTEGER: f64 = 1024.0;

    pub fn of(exponent: f64) -> ConstantExponent {
        if exponent.fract() == 0.0 && exponent.abs() <= Self::MAX_INTEGER {
            ConstantExponent::Integer(exponent as i32)
        } else {
            ConstantExponent::Real(exponent)
        }
    }
}

/// One step of a program; each writes the next register.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Instruction {
    Negate(usize),
    Unary(UnaryFunction, usize),
    Arithmetic(Arithmetic, usize, usize),
    /// `register op constant`
    ArithmeticConstantRight(Arithmetic, usize, f64),
    /// `constant op register`
    ArithmeticConstantLeft(Arithmetic, f64, usize),
    PowerConstant(usize, ConstantExponent),
    /// `constant ^ register` (a base of exactly `e` compiles to `exp`).
    ConstantPower(f64, usize),
    /// `register ^ register`
    Power(usize, usize),
}

/// A compiled formula.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Program {
    inputs: usize,
    instructions: Vec<Instruction>,
    output: Operand,
}

impl Program {
    /// Compiles `expr`; `variables` gives each variable name its input index.
    pub fn compile(expr: &Expr, variables: &[String]) -> Program {
        let mut compiler = Compiler {
            variables,
            instructions: Vec::new(),
        };
        let output = compiler.compile(expr);
        Program {
            inputs: variables.len(),
            instructions: compiler.instructions,
            output,
        }
    }

    /// The instructions, for inspection in tests.
    #[cfg(test)]
    pub fn instructions(&self) -> &[Instruction] {
        &self.instructions
    }

    /// The result operand, for inspection in tests.
    #[cfg(test)]
    pub fn output(&self) -> Operand {
        self.output
    }

    /// Runs the program on `inputs` (one per variable, checked by the
    /// caller).
    pub fn evaluate<S: Scalar>(&self, inputs: &[S]) -> S {
        debug_assert_eq!(inputs.len(), self.inputs);
        let register = match self.output {
            Operand::Constant(value) => return S::from(value),
            Operand::Register(register) => register,
        };
        let mut registers: Vec<S> = Vec::with_capacity(self.inputs + self.instructions.len());
        registers.extend_from_slice(inputs);
        for instruction in &self.instructions {
            let result = match *instruction {
                Instruction::Negate(a) => -registers[a].clone(),
                Instruction::Unary(function, a) => apply_unary(function, &registers[a]),
                Instruction::Arithmetic(operation, a, b) => {
                    apply_arithmetic(operation, registers[a].clone(), registers[b].clone())
                }
                Instruction::ArithmeticConstantRight(operation, a, constant) => {
                    arithmetic_constant_right(operation, registers[a].clone(), constant)
                }
                Instruction::ArithmeticConstantLeft(operation, constant, b) => {
                    arithmetic_constant_left(operation, constant, registers[b].clone())
                }
                Instruction::PowerConstant(a, exponent) => power_constant(&registers[a], exponent),
                Instruction::ConstantPower(base, b) => constant_power(base, &registers[b]),
                Instruction::Power(a, b) => power(&registers[a], registers[b].clone()),
            };
            registers.push(result);
        }
        match registers.get(register) {
            Some(result) => result.clone(),
            None => S::from(f64::NAN),
        }
    }
}

struct Compiler<'v> {
    variables: &'v [String],
    instructions: Vec<Instruction>,
}

impl Compiler<'_> {
    fn emit(&mut self, instruction: Instruction) -> Operand {
        self.instructions.push(instruction);
        Operand::Register(self.variables.len() + self.instructions.len() - 1)
    }

    /// Compiles `expr`, folding constant subtrees, and returns where its
    /// value is.
    fn compile(&mut self, expr: &Expr) -> Operand {
        match &expr.kind {
            ExprKind::Number(value) => Operand::Constant(*value),
            ExprKind::Variable(name) => {
                match self.variables.iter().position(|variable| variable == name) {
                    Some(index) => Operand::Register(index),
                    // The parser only produces known variables.
                    None => Operand::Constant(f64::NAN),
                }
            }
            ExprKind::Negate(operand) => match self.compile(operand) {
                Operand::Constant(value) => Operand::Constant(-value),
                Operand::Register(a) => self.emit(Instruction::Negate(a)),
            },
            ExprKind::Unary(function, argument) => match self.compile(argument) {
                Operand::Constant(value) => Operand::Constant(apply_unary(*function, &value)),
                Operand::Register(a) => self.emit(Instruction::Unary(*function, a)),
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
        let operation = match operator {
            BinaryOperator::Add => Arithmetic::Add,
            BinaryOperator::Subtract => Arithmetic::Subtract,
            BinaryOperator::Multiply => Arithmetic::Multiply,
            BinaryOperator::Divide => Arithmetic::Divide,
            BinaryOperator::Minimum => Arithmetic::Minimum,
            BinaryOperator::Maximum => Arithmetic::Maximum,
            BinaryOperator::Power => {
                return match (lhs, rhs) {
                    (Constant(base), Constant(exponent)) => {
                        Constant(power_constant(&base, ConstantExponent::of(exponent)))
                    }
                    (Register(a), Constant(exponent)) => self.emit(Instruction::PowerConstant(
                        a,
                        ConstantExponent::of(exponent),
                    )),
                    (Constant(base), Register(b)) if base == std::f64::consts::E => {
                        self.emit(Instruction::Unary(UnaryFunction::Exp, b))
                    }
                    (Constant(base), Register(b)) => self.emit(Instruction::ConstantPower(base, b)),
                    (Register(a), Register(b)) => self.emit(Instruction::Power(a, b)),
                };
            }
        };
        match (lhs, rhs) {
            (Constant(a), Constant(b)) => Constant(apply_arithmetic(operation, a, b)),
            (Register(a), Constant(b)) => {
                self.emit(Instruction::ArithmeticConstantRight(operation, a, b))
            }
            (Constant(a), Register(b)) => {
                self.emit(Instruction::ArithmeticConstantLeft(operation, a, b))
            }
            (Register(a), Register(b)) => self.emit(Instruction::Arithmetic(operation, a, b)),
        }
    }
}

/// A result whose value is `value` exactly (as plain `f64` arithmetic gives
/// it); for dual numbers the derivative parts come from `with_derivatives`.
fn exact_value<S: Scalar>(value: f64, with_derivatives: impl FnOnce() -> S) -> S {
    if S::NDERIV == 0 {
        S::from(value)
    } else {
        with_derivatives().with_value(value)
    }
}

fn apply_unary<S: Scalar>(function: UnaryFunction, x: &S) -> S {
    match function {
        UnaryFunction::Exp => x.exp(),
        UnaryFunction::Ln => x.ln(),
        UnaryFunction::Sqrt => x.sqrt(),
        UnaryFunction::Abs => x.abs(),
        UnaryFunction::Sin => x.sin(),
        UnaryFunction::Cos => x.cos(),
        UnaryFunction::Asin => x.asin(),
        UnaryFunction::Acos => x.acos(),
        UnaryFunction::Atan => x.atan(),
        UnaryFunction::Sinh => x.sinh(),
        UnaryFunction::Cosh => x.cosh(),
        // num-dual computes tan and tanh as quotients (tanh becomes inf/inf
        // = NaN for |x| > 710); use the chain rule with tan' = 1 + tan^2 and
        // tanh' = 1/cosh^2 (no cancellation) instead.
        UnaryFunction::Tan => {
            let t = x.value().tan();
            let slope = 1.0 + t * t;
            x.chain(t, slope, 2.0 * t * slope)
        }
        UnaryFunction::Tanh => {
            let t = x.value().tanh();
            let cosh = x.value().cosh();
            let slope = 1.0 / (cosh * cosh);
            x.chain(t, slope, -2.0 * t * slope)
        }
    }
}

/// `min`/`max` pick one operand (with its derivatives); NaN if either is NaN.
fn select<S: Scalar>(a: S, b: S, take_b: impl Fn(f64, f64) -> bool) -> S {
    let (va, vb) = (a.value(), b.value());
    if va.is_nan() || vb.is_nan() {
        S::from(f64::NAN)
    } else if take_b(va, vb) {
        b
    } else {
        a
    }
}

fn apply_arithmetic<S: Scalar>(operation: Arithmetic, a: S, b: S) -> S {
    match operation {
        Arithmetic::Add => a + b,
        Arithmetic::Subtract => a - b,
        Arithmetic::Multiply => a * b,
        Arithmetic::Divide => exact_value(a.value() / b.value(), || a / b),
        Arithmetic::Minimum => select(a, b, |va, vb| vb < va),
        Arithmetic::Maximum => select(a, b, |va, vb| vb > va),
    }
}

/// `a op c`; same value bits as `apply_arithmetic(op, a, c)` in `f64`.
fn arithmetic_constant_right<S: Scalar>(operation: Arithmetic, a: S, c: f64) -> S {
    match operation {
        Arithmetic::Add => a + c,
        Arithmetic::Subtract => a - c,
        Arithmetic::Multiply => a * c,
        Arithmetic::Divide => exact_value(a.value() / c, || a / c),
        Arithmetic::Minimum | Arithmetic::Maximum => apply_arithmetic(operation, a, S::from(c)),
    }
}

/// `c op b`; same value bits as `apply_arithmetic(op, c, b)` in `f64`
/// (IEEE addition and multiplication commute, and `c - b == -b + c`).
fn arithmetic_constant_left<S: Scalar>(operation: Arithmetic, c: f64, b: S) -> S {
    match operation {
        Arithmetic::Add => b + c,
        Arithmetic::Subtract => -b + c,
        Arithmetic::Multiply => b * c,
        Arithmetic::Divide => exact_value(c / b.value(), || S::from(c) / b),
        Arithmetic::Minimum | Arithmetic::Maximum => apply_arithmetic(operation, S::from(c), b),
    }
}

/// `x ^ n` for a constant exponent: `powi` for integers, `powf` otherwise
/// (derivatives `p x^(p-1)` and `p (p-1) x^(p-2)`, so `x^2.5` is smooth at 0).
fn power_constant<S: Scalar>(x: &S, exponent: ConstantExponent) -> S {
    let base = x.value();
    match exponent {
        ConstantExponent::Integer(n) => exact_value(base.powi(n), || x.powi(n)),
        ConstantExponent::Real(p) => {
            let value = base.powf(p);
            if S::NDERIV == 0 {
                return S::from(value);
            }
            let slope = p * base.powf(p - 1.0);
            let curvature = p * (p - 1.0) * base.powf(p - 2.0);
            x.chain(value, slope, curvature)
        }
    }
}

/// `c ^ x` = `exp(x ln c)` for the derivatives, value `c.powf(x)`.
fn constant_power<S: Scalar>(base: f64, x: &S) -> S {
    exact_value(base.powf(x.value()), || (x.clone() * base.ln()).exp())
}

/// `a ^ b` with a variable exponent: value `a.powf(b)`, derivatives of
/// `exp(b ln a)` (so they need `a > 0`).
fn power<S: Scalar>(a: &S, b: S) -> S {
    exact_value(a.value().powf(b.value()), || a.powd(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::parser::parse;

    fn compile(source: &str) -> Program {
        let parsed = parse(source, None).expect("parses");
        Program::compile(&parsed.expr, &parsed.variables)
    }

    #[test]
    fn constant_subtrees_fold_left_to_right() {
        let program = compile("0.15*pi*x");
        let c = 0.15 * std::f64::consts::PI;
        assert_eq!(
            program.instructions(),
            &[Instruction::ArithmeticConstantLeft(
                Arithmetic::Multiply,
                c,
                0
            )]
        );
    }

    #[test]
    fn whole_constant_formula_folds_to_output() {
        let program = compile("2^3^2 - sin(pi/2)");
        assert!(program.instructions().is_empty());
        assert_eq!(program.output(), Operand::Constant(511.0));
    }

    #[test]
    fn integer_exponents_use_powi_and_e_base_uses_exp() {
        assert_eq!(
            compile("x^2").instructions(),
            &[Instruction::PowerConstant(0, ConstantExponent::Integer(2))]
        );
        assert_eq!(
            compile("x^-1.5").instructions(),
            &[Instruction::PowerConstant(0, ConstantExponent::Real(-1.5))]
        );
        assert_eq!(
            compile("e^x").instructions(),
            &[Instruction::Unary(UnaryFunction::Exp, 0)]
        );
        assert_eq!(
            compile("x^1e6").instructions(),
            &[Instruction::PowerConstant(0, ConstantExponent::Real(1e6))]
        );
    }

    #[test]
    fn no_variable_reaches_compile_unresolved() {
        let program = compile("x*y + z");
        assert_eq!(program.evaluate::<f64>(&[2.0, 3.0, 4.0]), 10.0);
    }
}
