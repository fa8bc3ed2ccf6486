//! Turns formula text into tokens with character spans.

use std::ops::Range;

use super::error::FormulaError;

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TokenKind {
    /// A number literal; the text is kept for messages.
    Number(f64),
    /// A name: variable, function or constant.
    Identifier(String),
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    LeftParen,
    RightParen,
    Comma,
    /// The end of the formula (always the last token).
    End,
}

/// A token and the character columns it covers.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub span: Range<usize>,
    /// The characters of the token as written (empty for `End`).
    pub text: String,
}

impl Token {
    /// How the token is named in error messages: `'+'`, `'cos'`, `'2.5'`
    /// or `end of formula`.
    pub fn describe(&self) -> String {
        match self.kind {
            TokenKind::End => "end of formula".to_string(),
            _ => format!("'{}'", self.text),
        }
    }

    /// True for tokens that can start an operand (so two operands in a row
    /// mean a missing operator).
    pub fn starts_operand(&self) -> bool {
        matches!(
            self.kind,
            TokenKind::Number(_) | TokenKind::Identifier(_) | TokenKind::LeftParen
        )
    }
}

/// Splits `source` into tokens, ending with exactly one [`TokenKind::End`].
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, FormulaError> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut position = 0;
    while position < chars.len() {
        let current = chars[position];
        if current.is_whitespace() {
            position += 1;
            continue;
        }
        let start = position;
        let kind = match current {
            '+' => TokenKind::Plus,
            '-' => TokenKind::Minus,
            '*' => TokenKind::Star,
            '/' => TokenKind::Slash,
            '^' => TokenKind::Caret,
            '(' => TokenKind::LeftParen,
            ')' => TokenKind::RightParen,
            ',' => TokenKind::Comma,
            c if c.is_ascii_digit() || c == '.' => {
                let (value, end) = lex_number(source, &chars, start)?;
                position = end;
                tokens.push(Token {
                    kind: TokenKind::Number(value),
                    span: start..end,
                    text: chars[start..end].iter().collect(),
                });
                continue;
            }
            c if is_identifier_start(c) => {
                let end = scan_while(&chars, start, is_identifier_continue);
                let name: String = chars[start..end].iter().collect();
                position = end;
                tokens.push(Token {
                    kind: TokenKind::Identifier(name.clone()),
                    span: start..end,
                    text: name,
                });
                continue;
            }
            other => {
                return Err(FormulaError::new(
                    format!("unexpected character '{other}'"),
                    start..start + 1,
                    source,
                ));
            }
        };
        position += 1;
        tokens.push(Token {
            kind,
            span: start..position,
            text: current.to_string(),
        });
    }
    tokens.push(Token {
        kind: TokenKind::End,
        span: chars.len()..chars.len() + 1,
        text: String::new(),
    });
    Ok(tokens)
}

/// True for characters that may start a name.
pub(crate) fn is_identifier_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

/// True for characters that may continue a name.
pub(crate) fn is_identifier_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// True if `name` is a syntactically valid name (`[A-Za-z_][A-Za-z0-9_]*`).
pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_identifier_start) && chars.all(is_identifier_continue)
}

/// First index at or after `from` whose character fails `accept`.
fn scan_while(chars: &[char], from: usize, accept: impl Fn(char) -> bool) -> usize {
    let mut end = from;
    while end < chars.len() && accept(chars[end]) {
        end += 1;
    }
    end
}

/// Lexes `digits [. digits] [(e|E) [+|-] digits]` or `. digits [exponent]`
/// starting at `start`; returns the value and the end column.
fn lex_number(source: &str, chars: &[char], start: usize) -> Result<(f64, usize), FormulaError> {
    let text = |end: usize| -> String { chars[start..end].iter().collect() };
    let mut end = scan_while(chars, start, |c| c.is_ascii_digit());
    let mut digit_count = end - start;
    if end < chars.len() && chars[end] == '.' {
        let fraction_end = scan_while(chars, end + 1, |c| c.is_ascii_digit());
        digit_count += fraction_end - (end + 1);
        end = fraction_end;
    }
    if digit_count == 0 {
        return Err(FormulaError::new(
            "a number needs digits: '.' alone is not a number",
            start..end,
            source,
        ));
    }
    if end < chars.len() && (chars[end] == 'e' || chars[end] == 'E') {
        let mut exponent_start = end + 1;
        if exponent_start < chars.len()
            && (chars[exponent_start] == '+' || chars[exponent_start] == '-')
        {
            exponent_start += 1;
        }
        let exponent_end = scan_while(chars, exponent_start, |c| c.is_ascii_digit());
        if exponent_end == exponent_start {
            return Err(FormulaError::new(
                format!(
                    "malformed number '{}': the exponent needs digits, as in '1e-3'",
                    text(exponent_start)
                ),
                start..exponent_start,
                source,
            ));
        }
        end = exponent_end;
    }
    if end < chars.len() && chars[end] == '.' {
        let garbage_end = scan_while(chars, end, |c| c.is_ascii_digit() || c == '.');
        return Err(FormulaError::new(
            format!("malformed number '{}'", text(garbage_end)),
            start..garbage_end,
            source,
        ));
    }
    let literal = text(end);
    match literal.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok((value, end)),
        Ok(_) => Err(FormulaError::new(
            format!("number '{literal}' is too large for a 64-bit float"),
            start..end,
            source,
        )),
        Err(_) => Err(FormulaError::new(
            format!("malformed number '{literal}'"),
            start..end,
            source,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        tokenize(source)
            .expect("lexes")
            .into_iter()
            .map(|token| token.kind)
            .collect()
    }

    #[test]
    fn numbers_in_all_spellings() {
        for (text, value) in [
            ("3", 3.0),
            ("3.5", 3.5),
            (".5", 0.5),
            ("1e-3", 1e-3),
            ("2.5E+4", 2.5e4),
            ("4.", 4.0),
        ] {
            assert_eq!(
                kinds(text),
                vec![TokenKind::Number(value), TokenKind::End],
                "{text}"
            );
        }
    }

    #[test]
    fn spans_count_characters_not_bytes() {
        let tokens = tokenize("  é").unwrap_err();
        assert_eq!(tokens.span, 2..3);
        let tokens = tokenize("x\u{00a0}+ y").expect("non-breaking space is whitespace");
        assert_eq!(tokens[1].span, 2..3);
        assert_eq!(tokens[2].span, 4..5);
        assert_eq!(tokens[3].span, 5..6);
    }

    #[test]
    fn identifier_syntax() {
        assert!(is_identifier("x1"));
        assert!(is_identifier("_a"));
        assert!(!is_identifier("1x"));
        assert!(!is_identifier(""));
        assert!(!is_identifier("a-b"));
    }
}
