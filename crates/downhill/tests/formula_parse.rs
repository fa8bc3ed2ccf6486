//! Parsing: precedence, numbers, names, variable order, and every error with
//! its span and rendering.

use downhill::formula::{Formula, FormulaError};
use proptest::prelude::*;

fn parse(src: &str) -> Formula {
    Formula::parse(src).unwrap_or_else(|error| panic!("'{src}' should parse:\n{}", error.render()))
}

/// Value of a formula in the given point.
fn eval(src: &str, x: &[f64]) -> f64 {
    parse(src).value(x)
}

/// Value of a formula without variables.
fn constant(src: &str) -> f64 {
    let formula = parse(src);
    assert_eq!(formula.dim(), 0, "'{src}' should have no variables");
    formula.value(&[])
}

fn error(src: &str) -> FormulaError {
    match Formula::parse(src) {
        Ok(formula) => panic!("'{src}' should not parse, got {formula:?}"),
        Err(error) => error,
    }
}

/// Asserts the error span and that the message contains `fragment`.
fn assert_error(src: &str, span: std::ops::Range<usize>, fragment: &str) -> FormulaError {
    let error = error(src);
    assert_eq!(error.span, span, "span for '{src}': {}", error.render());
    assert!(
        error.message.contains(fragment),
        "message for '{src}' should contain '{fragment}', got '{}'",
        error.message
    );
    assert_eq!(error.source, src);
    error
}

#[test]
fn unary_minus_binds_looser_than_power() {
    assert_eq!(eval("-x^2", &[3.0]), -9.0);
    assert_eq!(constant("-2^2"), -4.0);
    assert_eq!(constant("(-2)^2"), 4.0);
    assert_eq!(constant("-(2)^2"), -4.0);
}

#[test]
fn power_is_right_associative_and_takes_signed_exponents() {
    assert_eq!(constant("2^3^2"), 512.0);
    assert_eq!(constant("(2^3)^2"), 64.0);
    assert_eq!(eval("x^-1", &[4.0]), 0.25);
    assert_eq!(constant("2^-2^2"), 0.0625);
    assert_eq!(constant("2^+3"), 8.0);
}

#[test]
fn arithmetic_precedence_and_left_associativity() {
    assert_eq!(constant("1 + 2*3"), 7.0);
    assert_eq!(constant("(1 + 2)*3"), 9.0);
    assert_eq!(constant("8/4/2"), 1.0);
    assert_eq!(constant("10 - 4 - 3"), 3.0);
    assert_eq!(constant("2*-3"), -6.0);
    assert_eq!(constant("2*+3"), 6.0);
    assert_eq!(constant("--2"), 2.0);
    assert_eq!(constant("2 - -2"), 4.0);
    assert_eq!(eval("+x", &[5.0]), 5.0);
    assert_eq!(eval("1 - x^2/2", &[2.0]), -1.0);
}

#[test]
fn square_is_exactly_a_product() {
    let square = parse("x^2");
    for x in [1.1, 0.1, -3.7, 1e-5, 12345.678] {
        assert_eq!(square.value(&[x]).to_bits(), (x * x).to_bits());
    }
}

#[test]
fn numbers_in_all_spellings() {
    assert_eq!(constant("3"), 3.0);
    assert_eq!(constant("3.5"), 3.5);
    assert_eq!(constant(".5"), 0.5);
    assert_eq!(constant("1e-3"), 1e-3);
    assert_eq!(constant("2.5E+4"), 2.5e4);
    assert_eq!(constant("1E3"), 1000.0);
    assert_eq!(constant("4."), 4.0);
    assert_eq!(constant(" 7 "), 7.0);
}

#[test]
fn constants_are_not_variables() {
    assert_eq!(constant("pi"), std::f64::consts::PI);
    assert_eq!(constant("e"), std::f64::consts::E);
    assert_eq!(constant("2*pi"), 2.0 * std::f64::consts::PI);
    let f = parse("e^x");
    assert_eq!(f.variables(), ["x"]);
    assert_eq!(f.value(&[2.0]), 2.0f64.exp());
}

#[test]
fn functions_match_the_standard_library() {
    let x: f64 = 0.3;
    let cases: [(&str, f64); 16] = [
        ("exp(x)", x.exp()),
        ("log(x)", x.ln()),
        ("ln(x)", x.ln()),
        ("sqrt(x)", x.sqrt()),
        ("abs(-x)", x),
        ("sin(x)", x.sin()),
        ("cos(x)", x.cos()),
        ("tan(x)", x.tan()),
        ("asin(x)", x.asin()),
        ("acos(x)", x.acos()),
        ("atan(x)", x.atan()),
        ("sinh(x)", x.sinh()),
        ("cosh(x)", x.cosh()),
        ("tanh(x)", x.tanh()),
        ("pow(x, 2.5)", x.powf(2.5)),
        ("min(x, 0.2) + max(x, 0.2)", 0.2 + x),
    ];
    for (src, expected) in cases {
        assert_eq!(eval(src, &[x]), expected, "{src}");
    }
    assert_eq!(eval("log(x)", &[x]), eval("ln(x)", &[x]));
    assert_eq!(eval("pow(x, y)", &[2.0, 10.0]), 1024.0);
    assert_eq!(eval("min(x, y)", &[2.0, -1.0]), -1.0);
    assert_eq!(eval("max(x, y)", &[2.0, -1.0]), 2.0);
}

#[test]
fn chapter_formula_value_is_bit_exact() {
    let f = parse("x*cos(0.15*pi*x)");
    let expected = 10.0 * (0.15 * std::f64::consts::PI * 10.0).cos();
    assert_eq!(f.value(&[10.0]).to_bits(), expected.to_bits());
}

#[test]
fn discovered_variables_are_ordered_xyz_then_numbered() {
    assert_eq!(parse("x10 + x2 + x1").variables(), ["x1", "x2", "x10"]);
    assert_eq!(parse("z + y*x").variables(), ["x", "y", "z"]);
    assert_eq!(parse("x3 + y + x").variables(), ["x", "y", "x3"]);
    let f = parse("x2 * x1 - x2");
    assert_eq!(f.variables(), ["x1", "x2"]);
    assert_eq!(f.dim(), 2);
    assert_eq!(f.value(&[3.0, 2.0]), 4.0);
    assert_eq!(parse("x*cos(0.15*pi*x)").source(), "x*cos(0.15*pi*x)");
}

#[test]
fn numbered_variables_need_a_nonzero_leading_digit() {
    assert_error("x0 + 1", 0..2, "unknown variable 'x0'");
    assert_error("x01", 0..3, "unknown variable 'x01'");
}

#[test]
fn declared_variables_keep_their_order() {
    let f = Formula::parse_with_vars("a*b - b", &["b", "a"]).unwrap();
    assert_eq!(f.variables(), ["b", "a"]);
    assert_eq!(f.value(&[2.0, 3.0]), 4.0);
    let theta = Formula::parse_with_vars("theta^2 + w", &["w", "theta"]).unwrap();
    assert_eq!(theta.value(&[1.0, 3.0]), 10.0);
}

#[test]
fn declared_variable_may_be_absent() {
    let f = Formula::parse_with_vars("x^2", &["x", "y"]).unwrap();
    assert_eq!(f.dim(), 2);
    let mut grad = [f64::NAN; 2];
    assert_eq!(f.value_gradient(&[3.0, 7.0], &mut grad), 9.0);
    assert_eq!(grad, [6.0, 0.0]);
    let none = Formula::parse_with_vars("2", &["x"]).unwrap();
    let (mut grad, mut hess) = ([f64::NAN], [f64::NAN]);
    assert_eq!(
        none.value_gradient_hessian(&[1.0], &mut grad, &mut hess),
        2.0
    );
    assert_eq!((grad, hess), ([0.0], [0.0]));
}

#[test]
fn undeclared_variable_is_an_error_at_its_position() {
    let error = Formula::parse_with_vars("x + y", &["x"]).unwrap_err();
    assert_eq!(error.span, 4..5);
    assert!(
        error.message.contains("unknown variable 'y'"),
        "{}",
        error.message
    );
    // Declaring replaces the conventional names entirely.
    let error = Formula::parse_with_vars("a + x", &["a"]).unwrap_err();
    assert_eq!(error.span, 4..5);
    let error = Formula::parse_with_vars("a", &[]).unwrap_err();
    assert!(
        error.message.contains("unknown variable 'a'"),
        "{}",
        error.message
    );
}

#[test]
fn bad_declarations_are_errors() {
    for (vars, fragment) in [
        (&["x", "x"][..], "declared twice"),
        (&["sin"][..], "is a function"),
        (&["pi"][..], "is a constant"),
        (&["e"][..], "is a constant"),
        (&["2a"][..], "not a valid variable name"),
        (&[""][..], "not a valid variable name"),
        (&["a b"][..], "not a valid variable name"),
    ] {
        let error = Formula::parse_with_vars("1", vars).unwrap_err();
        assert!(
            error.message.contains(fragment),
            "{vars:?}: {}",
            error.message
        );
        assert!(
            error.span.is_empty(),
            "{vars:?}: a declaration error has no span"
        );
        assert_eq!(error.to_string(), format!("error: {}", error.message));
    }
}

#[test]
fn end_of_input_error_renders_caret_after_the_text() {
    let error = assert_error(
        "x*cos(",
        6..7,
        "expected an expression after '(', found end of formula",
    );
    assert_eq!(
        error.render(),
        "x*cos(\n      ^ expected an expression after '(', found end of formula"
    );
    assert_eq!(
        error.to_string(),
        "error at column 7: expected an expression after '(', found end of formula"
    );
}

#[test]
fn doubled_caret_points_at_the_second() {
    let error = assert_error(
        "x ^^ 2",
        3..4,
        "expected an expression after '^', found '^'",
    );
    assert_eq!(
        error.render().lines().nth(1),
        Some("   ^ expected an expression after '^', found '^'")
    );
}

#[test]
fn unknown_names() {
    let error = assert_error("foo(x)", 0..3, "unknown function 'foo'");
    assert_eq!(error.render(), format!("foo(x)\n^^^ {}", error.message));
    assert_error("foo", 0..3, "unknown variable 'foo'");
    assert_error("2*w + 1", 2..3, "unknown variable 'w'");
    assert_error("x + X", 4..5, "unknown variable 'X'");
}

#[test]
fn empty_formulas() {
    assert_error("", 0..1, "empty formula");
    assert_error("   ", 0..3, "empty formula");
    assert_error("\t\n", 0..2, "empty formula");
}

#[test]
fn unbalanced_parentheses() {
    assert_error("x)", 1..2, "unmatched ')'");
    assert_error("(x))", 3..4, "unmatched ')'");
    assert_error(")", 0..1, "expected an expression, found ')'");
    assert_error("(x", 2..3, "missing ')' to close the '(' at column 1");
    assert_error("((x)", 4..5, "missing ')' to close the '(' at column 1");
    assert_error("sin(x", 5..6, "missing ')' to close 'sin(' at column 4");
    assert_error("()", 1..2, "expected an expression after '(', found ')'");
}

#[test]
fn trailing_garbage_and_implicit_multiplication() {
    assert_error("x y", 2..3, "missing operator before 'y'");
    assert_error("2x", 1..2, "implicit multiplication is not supported");
    assert_error("2(x+1)", 1..2, "missing operator before '('");
    assert_error("(x)(y)", 3..4, "missing operator before '('");
    assert_error("x 2", 2..3, "missing operator before '2'");
    assert_error("x(2)", 1..2, "missing operator before '('");
    assert_error("x,y", 1..2, "unexpected ','");
    assert_error("(x,y)", 2..3, "unexpected ','");
}

#[test]
fn missing_operands() {
    assert_error(
        "x +",
        3..4,
        "expected an expression after '+', found end of formula",
    );
    assert_error("*x", 0..1, "expected an expression, found '*'");
    assert_error(
        "x * / y",
        4..5,
        "expected an expression after '*', found '/'",
    );
    assert_error(
        "x^",
        2..3,
        "expected an expression after '^', found end of formula",
    );
    assert_error(
        "pow(x,)",
        6..7,
        "expected an expression after ',', found ')'",
    );
}

#[test]
fn invalid_characters() {
    assert_error("x # 2", 2..3, "unexpected character '#'");
    assert_error("x = 2", 2..3, "unexpected character '='");
    assert_error(
        "x ** 2",
        3..4,
        "expected an expression after '*', found '*'",
    );
}

#[test]
fn bad_numbers() {
    assert_error("1e", 0..2, "malformed number '1e'");
    assert_error("1e+", 0..3, "malformed number '1e+'");
    assert_error("x + 2.5E", 4..8, "malformed number '2.5E'");
    assert_error("1.2.3", 0..5, "malformed number '1.2.3'");
    assert_error("1..2", 0..4, "malformed number '1..2'");
    assert_error("1e5.3", 0..5, "malformed number '1e5.3'");
    assert_error("x*.", 2..3, "'.' alone is not a number");
    assert_error("1e999", 0..5, "too large");
}

#[test]
fn function_arity_and_usage() {
    assert_error(
        "sin(x, y)",
        0..9,
        "function 'sin' takes 1 argument, found 2",
    );
    assert_error("pow(x)", 0..6, "function 'pow' takes 2 arguments, found 1");
    assert_error("max()", 0..5, "function 'max' takes 2 arguments, found 0");
    assert_error("1 + min(x, y, 2)", 4..16, "takes 2 arguments, found 3");
    assert_error("sin x", 0..3, "function 'sin' needs parentheses");
    assert_error("2*exp", 2..5, "function 'exp' needs parentheses");
    assert_error("pi(2)", 0..2, "'pi' is a constant, not a function");
}

#[test]
fn columns_count_characters_not_bytes() {
    let error = assert_error("é + x", 0..1, "unexpected character 'é'");
    assert_eq!(error.render(), "é + x\n^ unexpected character 'é'");
    assert_error("x + π", 4..5, "unexpected character 'π'");
    // Non-breaking spaces are whitespace of two bytes each.
    let error = assert_error("x\u{a0}\u{a0})", 3..4, "unmatched ')'");
    assert_eq!(error.to_string(), "error at column 4: unmatched ')'");
    assert_eq!(error.render().lines().nth(1), Some("   ^ unmatched ')'"));
}

#[test]
fn render_shows_tabs_as_single_columns() {
    let error = assert_error(
        "x\t+\t)",
        4..5,
        "expected an expression after '+', found ')'",
    );
    assert_eq!(error.render().lines().next(), Some("x + )"));
    assert_eq!(
        error.render().lines().nth(1).map(|line| line.find('^')),
        Some(Some(4))
    );
}

#[test]
fn pathological_inputs_fail_cleanly() {
    let deep = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(error(&deep).message.contains("nested too deeply"));
    let signs = format!("{}x", "-".repeat(100_000));
    assert!(error(&signs).message.contains("nested too deeply"));
    let powers = format!("x{}", "^x".repeat(100_000));
    assert!(error(&powers).message.contains("nested too deeply"));
    let long_sum = format!("x{}", "+x".repeat(100_000));
    assert!(error(&long_sum).message.contains("too long"));
    let moderate = format!("x{}", "+x".repeat(500));
    assert_eq!(eval(&moderate, &[2.0]), 1002.0);
    let nested = format!("{}x{}", "(".repeat(150), ")".repeat(150));
    assert_eq!(eval(&nested, &[2.0]), 2.0);
}

/// Characters formulas are made of, plus a few that are not allowed.
const FORMULA_CHARS: &str = "[xyz0-9.eE+*/^(), a-z_#é\\-]{0,40}";

/// Token-sized pieces that join into mostly well-formed formulas.
fn formula_pieces() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "x", "y", "z", "x1", "x2", "x10", "2", "0.5", "1e-3", "pi", "e", "+", "-", "*", "/", "^",
        "(", ")", ",", " ", "sin(", "cos(", "exp(", "log(", "sqrt(", "abs(", "tan(", "tanh(",
        "asin(", "atan(", "min(", "max(", "pow(",
    ]);
    prop::collection::vec(pieces, 1..25).prop_map(|pieces| pieces.concat())
}

/// Parses and, if that succeeds, evaluates everything; any panic fails.
fn parse_and_evaluate(src: &str) {
    match Formula::parse(src) {
        Ok(formula) => {
            let dim = formula.dim();
            let x: Vec<f64> = (0..dim).map(|i| 0.3 + 0.4 * i as f64).collect();
            let (mut grad, mut hess) = (vec![0.0; dim], vec![0.0; dim * dim]);
            let value = formula.value(&x);
            let from_gradient = formula.value_gradient(&x, &mut grad);
            let from_hessian = formula.value_gradient_hessian(&x, &mut grad, &mut hess);
            for other in [from_gradient, from_hessian] {
                assert!(
                    value.to_bits() == other.to_bits() || (value.is_nan() && other.is_nan()),
                    "'{src}': value {value} differs from {other}"
                );
            }
        }
        Err(error) => {
            let len = src.chars().count();
            assert!(
                error.span.start <= len && error.span.end <= len + 1,
                "{error:?}"
            );
            assert!(!error.span.is_empty());
            let _ = error.render();
            let _ = error.to_string();
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(src in FORMULA_CHARS) {
        parse_and_evaluate(&src);
    }

    #[test]
    fn formula_like_text_never_panics(src in formula_pieces()) {
        parse_and_evaluate(&src);
    }

    #[test]
    fn any_unicode_never_panics(src in "\\PC{0,30}") {
        parse_and_evaluate(&src);
    }
}

/// A random expression, printed with the fewest parentheses the grammar
/// needs and evaluated directly in `f64` as the reference.
#[derive(Clone, Debug)]
enum Node {
    Number(f64),
    X,
    Y,
    Negate(Box<Node>),
    Binary(char, Box<Node>, Box<Node>),
    Function(&'static str, Box<Node>),
    IntegerPower(Box<Node>, i32),
}

impl Node {
    /// Binding strength: sums 1, products 2, signs 3, powers 4, atoms 5.
    fn precedence(&self) -> u8 {
        match self {
            Node::Number(value) if *value < 0.0 => 3,
            Node::Number(_) | Node::X | Node::Y | Node::Function(..) => 5,
            Node::Negate(_) => 3,
            Node::Binary('+' | '-', ..) => 1,
            Node::Binary(..) => 2,
            Node::IntegerPower(..) => 4,
        }
    }

    /// Prints `self`, parenthesized if it binds looser than `at_least`.
    fn print_at(&self, at_least: u8) -> String {
        let text = self.print();
        if self.precedence() < at_least {
            format!("({text})")
        } else {
            text
        }
    }

    fn print(&self) -> String {
        match self {
            Node::Number(value) => format!("{value}"),
            Node::X => "x".to_string(),
            Node::Y => "y".to_string(),
            Node::Negate(operand) => format!("-{}", operand.print_at(3)),
            Node::Binary(operator, lhs, rhs) => {
                let level = self.precedence();
                format!(
                    "{} {operator} {}",
                    lhs.print_at(level),
                    rhs.print_at(level + 1)
                )
            }
            Node::Function(name, argument) => format!("{name}({})", argument.print()),
            Node::IntegerPower(base, exponent) => format!("{}^{exponent}", base.print_at(5)),
        }
    }

    fn evaluate(&self, x: f64, y: f64) -> f64 {
        match self {
            Node::Number(value) => *value,
            Node::X => x,
            Node::Y => y,
            Node::Negate(operand) => -operand.evaluate(x, y),
            Node::Binary(operator, lhs, rhs) => {
                let (a, b) = (lhs.evaluate(x, y), rhs.evaluate(x, y));
                match operator {
                    '+' => a + b,
                    '-' => a - b,
                    '*' => a * b,
                    _ => a / b,
                }
            }
            Node::Function(name, argument) => {
                let a = argument.evaluate(x, y);
                match *name {
                    "sin" => a.sin(),
                    "cos" => a.cos(),
                    "atan" => a.atan(),
                    "exp" => a.exp(),
                    "abs" => a.abs(),
                    _ => a.sqrt(),
                }
            }
            Node::IntegerPower(base, exponent) => base.evaluate(x, y).powi(*exponent),
        }
    }
}

fn expression() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        (-50i32..50).prop_map(|tenths| Node::Number(f64::from(tenths) / 10.0)),
        Just(Node::X),
        Just(Node::Y),
    ];
    leaf.prop_recursive(5, 40, 2, |inner| {
        prop_oneof![
            inner
                .clone()
                .prop_map(|operand| Node::Negate(Box::new(operand))),
            (
                prop::sample::select(vec!['+', '-', '*', '/']),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(operator, lhs, rhs)| Node::Binary(
                    operator,
                    Box::new(lhs),
                    Box::new(rhs)
                )),
            (
                prop::sample::select(vec!["sin", "cos", "atan", "exp", "abs", "sqrt"]),
                inner.clone()
            )
                .prop_map(|(name, argument)| Node::Function(name, Box::new(argument))),
            (inner, -3i32..4)
                .prop_map(|(base, exponent)| Node::IntegerPower(Box::new(base), exponent)),
        ]
    })
}

proptest! {
    #[test]
    fn minimal_parentheses_parse_as_intended(node in expression(), x in -3.0..3.0f64, y in -3.0..3.0f64) {
        let source = node.print();
        let formula = Formula::parse_with_vars(&source, &["x", "y"])
            .map_err(|error| TestCaseError::fail(error.render()))?;
        let expected = node.evaluate(x, y);
        let actual = formula.value(&[x, y]);
        prop_assert!(
            actual.to_bits() == expected.to_bits() || (actual.is_nan() && expected.is_nan()),
            "'{}' at ({}, {}): {} vs reference {}", source, x, y, actual, expected
        );
    }
}
