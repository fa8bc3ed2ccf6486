//! Parse errors that point at the offending characters of the formula.

use std::fmt;
use std::ops::Range;

/// A formula that could not be parsed, with the place where parsing failed.
///
/// `span` counts *characters* (not bytes) of `source`, 0-based and end
/// exclusive, so it stays correct for non-ASCII input. An error at the end of
/// the formula has the span `len..len + 1`. An empty span marks an error that
/// is not located in the formula text (a bad declared variable name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormulaError {
    /// What went wrong, in one sentence without a trailing period.
    pub message: String,
    /// Character columns of the offending text, 0-based, end exclusive.
    pub span: Range<usize>,
    /// The formula as given by the user.
    pub source: String,
}

impl FormulaError {
    pub(crate) fn new(message: impl Into<String>, span: Range<usize>, source: &str) -> Self {
        FormulaError {
            message: message.into(),
            span,
            source: source.to_string(),
        }
    }

    /// Renders the formula, then carets under the span followed by the
    /// message, e.g.
    ///
    /// ```text
    /// x*cos(
    ///       ^ expected an expression after '(', found end of formula
    /// ```
    ///
    /// Tabs and line breaks in the formula are shown as spaces so that the
    /// carets line up (one column per character). An error without a span
    /// renders as the formula followed by the message.
    pub fn render(&self) -> String {
        let shown: String = self
            .source
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .collect();
        if self.span.is_empty() {
            return format!("{shown}\n{}", self.message);
        }
        let padding = " ".repeat(self.span.start);
        let carets = "^".repeat(self.span.len());
        format!("{shown}\n{padding}{carets} {}", self.message)
    }
}

impl fmt::Display for FormulaError {
    /// One line: `error at column N: message` with a 1-based column, or
    /// `error: message` when the error has no location in the formula.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.span.is_empty() {
            write!(f, "error: {}", self.message)
        } else {
            write!(
                f,
                "error at column {}: {}",
                self.span.start + 1,
                self.message
            )
        }
    }
}

impl std::error::Error for FormulaError {}
