//! Checks and messages shared by the subcommands.

use std::path::Path;

use crate::UserError;

/// Fails early, before a long run, when the output's folder does not exist.
pub(crate) fn check_parent(path: &Path, flag: &str) -> Result<(), UserError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => return Ok(()),
    };
    if parent.is_dir() {
        Ok(())
    } else {
        Err(UserError(format!(
            "{flag} '{}': the folder '{}' does not exist",
            path.display(),
            parent.display()
        )))
    }
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// One line saying what and where, then the formula with carets under the
/// offending characters. Errors without a position (bad `--vars`) have no carets.
pub(crate) fn formula_error(e: downhill::formula::FormulaError) -> UserError {
    if e.span.is_empty() {
        return UserError(format!("invalid --vars or --formula: {}", e.message));
    }
    let width = e.span.len().max(1);
    UserError(format!(
        "invalid --formula at column {}: {}\n  {}\n  {}{}",
        e.span.start + 1,
        e.message,
        e.source,
        " ".repeat(e.span.start),
        "^".repeat(width)
    ))
}
