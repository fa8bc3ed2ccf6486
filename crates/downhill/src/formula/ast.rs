//! The syntax tree produced by the parser, and the tables of built-in names.

/// A one-argument built-in function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnaryFunction {
    Exp,
    Ln,
    Sqrt,
    Abs,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
}

/// A two-operand operation: an infix operator or a two-argument function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinaryOperator {
    Add,
    Subtract,
    Multiply,
    Divide,
    /// `a ^ b` and `pow(a, b)`.
    Power,
    Minimum,
    Maximum,
}

/// A built-in function as it is called in a formula.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Function {
    Unary(UnaryFunction),
    Binary(BinaryOperator),
}

impl Function {
    /// How many arguments the function takes.
    pub fn arity(self) -> usize {
        match self {
            Function::Unary(_) => 1,
            Function::Binary(_) => 2,
        }
    }
}

/// Looks up a built-in function by name (`log` and `ln` are both the natural
/// logarithm).
pub(crate) fn function_named(name: &str) -> Option<Function> {
    use UnaryFunction::*;
    let unary = match name {
        "exp" => Exp,
        "log" | "ln" => Ln,
        "sqrt" => Sqrt,
        "abs" => Abs,
        "sin" => Sin,
        "cos" => Cos,
        "tan" => Tan,
        "asin" => Asin,
        "acos" => Acos,
        "atan" => Atan,
        "sinh" => Sinh,
        "cosh" => Cosh,
        "tanh" => Tanh,
        "pow" => return Some(Function::Binary(BinaryOperator::Power)),
        "min" => return Some(Function::Binary(BinaryOperator::Minimum)),
        "max" => return Some(Function::Binary(BinaryOperator::Maximum)),
        _ => return None,
    };
    Some(Function::Unary(unary))
}

/// Looks up a named constant (`pi`, `e`).
pub(crate) fn constant_named(name: &str) -> Option<f64> {
    match name {
        "pi" => Some(std::f64::consts::PI),
        "e" => Some(std::f64::consts::E),
        _ => None,
    }
}

/// The shape of an expression node.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ExprKind {
    /// A number literal or a named constant.
    Number(f64),
    /// A variable, by name (resolved to an index when compiling).
    Variable(String),
    /// Unary minus.
    Negate(Box<Expr>),
    Unary(UnaryFunction, Box<Expr>),
    Binary(BinaryOperator, Box<Expr>, Box<Expr>),
}

/// An expression node together with the height of its subtree, which the
/// parser bounds so that recursive passes cannot overflow the stack.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    /// 1 for leaves, 1 + the tallest child otherwise.
    pub height: usize,
}

impl Expr {
    pub fn leaf(kind: ExprKind) -> Expr {
        Expr { kind, height: 1 }
    }

    pub fn negate(operand: Expr) -> Expr {
        let height = operand.height + 1;
        Expr {
            kind: ExprKind::Negate(Box::new(operand)),
            height,
        }
    }

    pub fn unary(function: UnaryFunction, argument: Expr) -> Expr {
        let height = argument.height + 1;
        Expr {
            kind: ExprKind::Unary(function, Box::new(argument)),
            height,
        }
    }

    pub fn binary(operator: BinaryOperator, lhs: Expr, rhs: Expr) -> Expr {
        let height = lhs.height.max(rhs.height) + 1;
        Expr {
            kind: ExprKind::Binary(operator, Box::new(lhs), Box::new(rhs)),
            height,
        }
    }
}
