//! Recursive-descent parser from tokens to an [`Expr`] tree.

use std::collections::BTreeSet;

use super::ast::{constant_named, function_named, BinaryOperator, Expr, ExprKind, Function};
use super::error::FormulaError;
use super::lexer::{is_identifier, tokenize, Token, TokenKind};

/// Deepest allowed nesting of parentheses, signs and exponents; keeps the
/// recursive descent far from the end of the stack.
const MAX_NESTING: usize = 200;
/// Tallest allowed expression tree (long `a + b + c + ...` chains grow it);
/// keeps the recursive compiler far from the end of the stack.
const MAX_HEIGHT: usize = 1000;

/// A parsed formula: its tree and its variables in evaluation order.
#[derive(Clone, Debug)]
pub(crate) struct Parsed {
    pub expr: Expr,
    pub variables: Vec<String>,
}

/// Parses `source`. With `declared` set, exactly those names are variables
/// (in that order); otherwise `x`, `y`, `z`, `x1`, `x2`, ... are, ordered
/// `x, y, z` then `x1, x2, ...` numerically.
pub(crate) fn parse(source: &str, declared: Option<&[&str]>) -> Result<Parsed, FormulaError> {
    let declared = match declared {
        Some(names) => Some(validate_declared(names, source)?),
        None => None,
    };
    let tokens = tokenize(source)?;
    if tokens.len() == 1 {
        let width = source.chars().count().max(1);
        return Err(FormulaError::new("empty formula", 0..width, source));
    }
    let mut parser = Parser {
        source,
        tokens,
        position: 0,
        declared: declared.as_deref(),
        nesting: 0,
        used: BTreeSet::new(),
    };
    let expr = parser.parse_expression()?;
    if parser.peek().kind != TokenKind::End {
        return Err(parser.error_after_operand(Enclosure::TopLevel));
    }
    let variables = match declared {
        Some(names) => names,
        None => {
            let mut names: Vec<String> = parser.used.into_iter().collect();
            names.sort_by_key(|name| conventional_order(name));
            names
        }
    };
    Ok(Parsed { expr, variables })
}

/// Checks declared variable names: valid identifiers, not built-in names,
/// no duplicates. Errors carry an empty span (they are not in the formula).
fn validate_declared(names: &[&str], source: &str) -> Result<Vec<String>, FormulaError> {
    let mut accepted: Vec<String> = Vec::with_capacity(names.len());
    for &name in names {
        let problem = if !is_identifier(name) {
            Some(format!(
                "'{name}' is not a valid variable name (use letters, digits and '_', not starting with a digit)"
            ))
        } else if function_named(name).is_some() {
            Some(format!("'{name}' is a function and cannot be a variable"))
        } else if constant_named(name).is_some() {
            Some(format!("'{name}' is a constant and cannot be a variable"))
        } else if accepted.iter().any(|seen| seen == name) {
            Some(format!("variable '{name}' is declared twice"))
        } else {
            None
        };
        if let Some(message) = problem {
            return Err(FormulaError::new(message, 0..0, source));
        }
        accepted.push(name.to_string());
    }
    Ok(accepted)
}

/// True for the conventional variable names `x`, `y`, `z`, `x1`, `x2`, ...
/// (no leading zero after `x`).
fn is_conventional_variable(name: &str) -> bool {
    match name {
        "x" | "y" | "z" => true,
        _ => name.strip_prefix('x').is_some_and(|digits| {
            digits.starts_with(|c: char| ('1'..='9').contains(&c))
                && digits.chars().all(|c| c.is_ascii_digit())
        }),
    }
}

/// Sort key for conventional variables: `x, y, z` first, then `xN` by the
/// numeric value of N (compared as digit strings, so any length works).
fn conventional_order(name: &str) -> (u8, usize, String) {
    match name {
        "x" => (0, 0, String::new()),
        "y" => (1, 0, String::new()),
        "z" => (2, 0, String::new()),
        _ => {
            let digits = name.trim_start_matches('x');
            (3, digits.len(), digits.to_string())
        }
    }
}

/// Where an operand ended, for the message when the next token does not fit.
enum Enclosure<'n> {
    TopLevel,
    /// Inside `( ... )` opened at this column.
    Parenthesis {
        open_column: usize,
    },
    /// Inside the argument list of `name( ... )` opened at this column.
    Arguments {
        name: &'n str,
        open_column: usize,
    },
}

struct Parser<'a> {
    source: &'a str,
    tokens: Vec<Token>,
    position: usize,
    declared: Option<&'a [String]>,
    nesting: usize,
    used: BTreeSet<String>,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.position]
    }

    /// Consumes the current token (never moves past `End`) and returns it.
    fn advance(&mut self) -> Token {
        let token = self.tokens[self.position].clone();
        if token.kind != TokenKind::End {
            self.position += 1;
        }
        token
    }

    fn previous(&self) -> Option<&Token> {
        self.position
            .checked_sub(1)
            .map(|index| &self.tokens[index])
    }

    fn error(&self, message: impl Into<String>, span: std::ops::Range<usize>) -> FormulaError {
        FormulaError::new(message, span, self.source)
    }

    /// Builds `lhs operator rhs`, refusing trees too tall to compile safely.
    fn combine(
        &self,
        operator: BinaryOperator,
        lhs: Expr,
        rhs: Expr,
        operator_token: &Token,
    ) -> Result<Expr, FormulaError> {
        let node = Expr::binary(operator, lhs, rhs);
        self.check_height(&node, operator_token)?;
        Ok(node)
    }

    fn check_height(&self, node: &Expr, at: &Token) -> Result<(), FormulaError> {
        if node.height > MAX_HEIGHT {
            return Err(self.error(
                format!("formula is too long: its expression tree exceeds {MAX_HEIGHT} levels"),
                at.span.clone(),
            ));
        }
        Ok(())
    }

    /// expression = term { ("+" | "-") term }
    fn parse_expression(&mut self) -> Result<Expr, FormulaError> {
        let mut lhs = self.parse_term()?;
        loop {
            let operator = match self.peek().kind {
                TokenKind::Plus => BinaryOperator::Add,
                TokenKind::Minus => BinaryOperator::Subtract,
                _ => return Ok(lhs),
            };
            let operator_token = self.advance();
            let rhs = self.parse_term()?;
            lhs = self.combine(operator, lhs, rhs, &operator_token)?;
        }
    }

    /// term = unary { ("*" | "/") unary }
    fn parse_term(&mut self) -> Result<Expr, FormulaError> {
        let mut lhs = self.parse_unary()?;
        loop {
            let operator = match self.peek().kind {
                TokenKind::Star => BinaryOperator::Multiply,
                TokenKind::Slash => BinaryOperator::Divide,
                _ => return Ok(lhs),
            };
            let operator_token = self.advance();
            let rhs = self.parse_unary()?;
            lhs = self.combine(operator, lhs, rhs, &operator_token)?;
        }
    }

    /// unary = ("-" | "+") unary | power
    fn parse_unary(&mut self) -> Result<Expr, FormulaError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.error(
                format!(
                    "formula is nested too deeply (more than {MAX_NESTING} levels of parentheses, signs or exponents)"
                ),
                self.peek().span.clone(),
            ));
        }
        let result = match self.peek().kind {
            TokenKind::Minus => {
                let sign = self.advance();
                self.parse_unary().and_then(|operand| {
                    let node = Expr::negate(operand);
                    self.check_height(&node, &sign)?;
                    Ok(node)
                })
            }
            TokenKind::Plus => {
                self.advance();
                self.parse_unary()
            }
            _ => self.parse_power(),
        };
        self.nesting -= 1;
        result
    }

    /// power = primary [ "^" unary ]   (right-associative; the exponent may
    /// carry a sign)
    fn parse_power(&mut self) -> Result<Expr, FormulaError> {
        let base = self.parse_primary()?;
        if self.peek().kind != TokenKind::Caret {
            return Ok(base);
        }
        let caret = self.advance();
        let exponent = self.parse_unary()?;
        self.combine(BinaryOperator::Power, base, exponent, &caret)
    }

    /// primary = number | constant | variable | function "(" arguments ")"
    ///         | "(" expression ")"
    fn parse_primary(&mut self) -> Result<Expr, FormulaError> {
        let token = self.peek().clone();
        match &token.kind {
            TokenKind::Number(value) => {
                self.advance();
                Ok(Expr::leaf(ExprKind::Number(*value)))
            }
            TokenKind::Identifier(name) => {
                self.advance();
                self.parse_identifier(name, &token)
            }
            TokenKind::LeftParen => {
                self.advance();
                let inner = self.parse_expression()?;
                if self.peek().kind == TokenKind::RightParen {
                    self.advance();
                    Ok(inner)
                } else {
                    Err(self.error_after_operand(Enclosure::Parenthesis {
                        open_column: token.span.start,
                    }))
                }
            }
            _ => {
                let found = token.describe();
                let message = match self.previous() {
                    Some(previous) => format!(
                        "expected an expression after {}, found {found}",
                        previous.describe()
                    ),
                    None => format!("expected an expression, found {found}"),
                };
                Err(self.error(message, token.span.clone()))
            }
        }
    }

    /// Resolves a name that was just consumed: function call, constant or
    /// variable.
    fn parse_identifier(&mut self, name: &str, token: &Token) -> Result<Expr, FormulaError> {
        let called = self.peek().kind == TokenKind::LeftParen;
        if let Some(function) = function_named(name) {
            if !called {
                return Err(self.error(
                    format!("function '{name}' needs parentheses around its arguments, as in '{name}(x)'"),
                    token.span.clone(),
                ));
            }
            return self.parse_call(name, function, token);
        }
        if let Some(value) = constant_named(name) {
            if called {
                return Err(self.error(
                    format!("'{name}' is a constant, not a function"),
                    token.span.clone(),
                ));
            }
            return Ok(Expr::leaf(ExprKind::Number(value)));
        }
        let is_variable = match self.declared {
            Some(declared) => declared.iter().any(|variable| variable == name),
            None => is_conventional_variable(name),
        };
        if is_variable {
            // A variable followed by '(' is reported by the caller as a
            // missing operator.
            self.used.insert(name.to_string());
            return Ok(Expr::leaf(ExprKind::Variable(name.to_string())));
        }
        let message = if called {
            format!(
                "unknown function '{name}' (functions: exp, log, ln, sqrt, abs, sin, cos, tan, asin, acos, atan, sinh, cosh, tanh, pow, min, max)"
            )
        } else {
            match self.declared {
                Some([]) => format!("unknown variable '{name}' (no variables are declared)"),
                Some(declared) => format!(
                    "unknown variable '{name}' (declared variables: {})",
                    declared.join(", ")
                ),
                None => format!("unknown variable '{name}' (variables are x, y, z or x1, x2, ...)"),
            }
        };
        Err(self.error(message, token.span.clone()))
    }

    /// arguments = [ expression { "," expression } ] ; the current token is
    /// the opening parenthesis.
    fn parse_call(
        &mut self,
        name: &str,
        function: Function,
        name_token: &Token,
    ) -> Result<Expr, FormulaError> {
        let open = self.advance();
        let mut arguments = Vec::new();
        let close = if self.peek().kind == TokenKind::RightParen {
            self.advance()
        } else {
            loop {
                arguments.push(self.parse_expression()?);
                match self.peek().kind {
                    TokenKind::Comma => {
                        self.advance();
                    }
                    TokenKind::RightParen => break self.advance(),
                    _ => {
                        return Err(self.error_after_operand(Enclosure::Arguments {
                            name,
                            open_column: open.span.start,
                        }))
                    }
                }
            }
        };
        let expected = function.arity();
        if arguments.len() != expected {
            let plural = if expected == 1 { "" } else { "s" };
            return Err(self.error(
                format!(
                    "function '{name}' takes {expected} argument{plural}, found {}",
                    arguments.len()
                ),
                name_token.span.start..close.span.end,
            ));
        }
        let mut arguments = arguments.into_iter();
        let (Some(first), second) = (arguments.next(), arguments.next()) else {
            return Err(self.error("internal error: missing argument", name_token.span.clone()));
        };
        let node = match (function, second) {
            (Function::Unary(unary), None) => Expr::unary(unary, first),
            (Function::Binary(operator), Some(second)) => Expr::binary(operator, first, second),
            _ => return Err(self.error("internal error: argument count", name_token.span.clone())),
        };
        self.check_height(&node, name_token)?;
        Ok(node)
    }

    /// The error for a token that cannot follow a complete operand.
    fn error_after_operand(&self, enclosure: Enclosure<'_>) -> FormulaError {
        let token = self.peek();
        let found = token.describe();
        let message = if token.starts_operand() {
            format!("missing operator before {found}: implicit multiplication is not supported, write '*'")
        } else {
            match (&token.kind, enclosure) {
                (TokenKind::End, Enclosure::Parenthesis { open_column }) => {
                    format!("missing ')' to close the '(' at column {}", open_column + 1)
                }
                (TokenKind::End, Enclosure::Arguments { name, open_column }) => {
                    format!(
                        "missing ')' to close '{name}(' at column {}",
                        open_column + 1
                    )
                }
                (TokenKind::RightParen, _) => "unmatched ')'".to_string(),
                (TokenKind::Comma, _) => {
                    "unexpected ',' outside a function's argument list".to_string()
                }
                _ => format!("unexpected {found}"),
            }
        };
        self.error(message, token.span.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventional_variable_names() {
        for name in ["x", "y", "z", "x1", "x10", "x99"] {
            assert!(is_conventional_variable(name), "{name}");
        }
        for name in ["w", "x0", "x01", "xy", "y1", "X", "x1a"] {
            assert!(!is_conventional_variable(name), "{name}");
        }
    }

    #[test]
    fn conventional_order_is_numeric() {
        let mut names = vec!["x10", "x2", "z", "x1", "x", "y", "x100", "x9"];
        names.sort_by_key(|name| conventional_order(name));
        assert_eq!(names, ["x", "y", "z", "x1", "x2", "x9", "x10", "x100"]);
    }
}
