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

/// A formula longer than this many columns (after escaping) is echoed as a
/// window around the error, not whole.
const ECHO_WIDTH: usize = 100;
/// Columns of a window shown before the error.
const ECHO_BEFORE: usize = 40;
/// A longer message (one quoting a long name of the formula) keeps its
/// first [`MESSAGE_HEAD`] and last [`MESSAGE_TAIL`] characters.
const MESSAGE_WIDTH: usize = 200;
const MESSAGE_HEAD: usize = 120;
const MESSAGE_TAIL: usize = 60;

/// One line saying what and where, then the formula with carets under the
/// offending characters. Errors without a position (bad `--vars`) have no carets.
/// Invisible characters are shown escaped (see [`visible`]), in the message
/// and in the echo; a formula wider than [`ECHO_WIDTH`] is echoed as a window
/// around the error, and a message longer than [`MESSAGE_WIDTH`] is cut in
/// the middle, with `...` for the parts left out.
pub(crate) fn formula_error(e: downhill::formula::FormulaError) -> UserError {
    let message = shorten(&escape_invisible(&e.message));
    if e.span.is_empty() {
        return UserError(format!("invalid --vars or --formula: {message}"));
    }
    let (echo, caret_column, caret_width) = echo_window(&e.source, e.span.clone());
    UserError(format!(
        "invalid --formula at column {}: {message}\n  {echo}\n  {}{}",
        e.span.start + 1,
        " ".repeat(caret_column),
        "^".repeat(caret_width)
    ))
}

/// The formula `source` as echoed under an error at the character columns
/// `span`: the text, and the column and width of the carets under it.
fn echo_window(source: &str, span: std::ops::Range<usize>) -> (String, usize, usize) {
    let pieces: Vec<String> = source.chars().map(visible).collect();
    let widths: Vec<usize> = pieces.iter().map(|p| p.chars().count()).collect();
    let n = pieces.len();
    let start = span.start.min(n);
    let end = span.end.clamp(start, n);
    let (mut lo, mut hi) = (0, n);
    if widths.iter().sum::<usize>() > ECHO_WIDTH {
        lo = start;
        let mut before = 0;
        while lo > 0 && before + widths[lo - 1] <= ECHO_BEFORE {
            lo -= 1;
            before += widths[lo];
        }
        hi = start;
        let mut shown = before;
        while hi < n && shown + widths[hi] <= ECHO_WIDTH {
            shown += widths[hi];
            hi += 1;
        }
        // The offending character itself, however wide its escape.
        hi = hi.max((start + 1).min(n));
    }
    let (prefix, suffix) = (
        if lo > 0 { "..." } else { "" },
        if hi < n { "..." } else { "" },
    );
    let echo = format!("{prefix}{}{suffix}", pieces[lo..hi].concat());
    let caret_column = prefix.len() + widths[lo..start].iter().sum::<usize>();
    let caret_width = widths[start..end.min(hi)].iter().sum::<usize>().max(1);
    (echo, caret_column, caret_width)
}

/// `message` whole up to [`MESSAGE_WIDTH`] characters, else its head and
/// tail around `...`.
fn shorten(message: &str) -> String {
    let count = message.chars().count();
    if count <= MESSAGE_WIDTH {
        return message.to_string();
    }
    let head: String = message.chars().take(MESSAGE_HEAD).collect();
    let tail: String = message.chars().skip(count - MESSAGE_TAIL).collect();
    format!("{head}...{tail}")
}

/// `c` as a user can read it in a message: tabs and line breaks as `\t`,
/// `\n`, `\r`; other control characters and invisible format characters
/// (zero-width spaces and joiners, direction marks, the byte-order mark,
/// the soft hyphen) and whitespace other than the plain space as
/// `\u{...}`; every other character as it is.
fn visible(c: char) -> String {
    match c {
        '\t' | '\n' | '\r' => c.escape_default().to_string(),
        ' ' => c.to_string(),
        '\u{ad}'
        | '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206f}'
        | '\u{feff}' => c.escape_unicode().to_string(),
        c if c.is_control() || c.is_whitespace() => c.escape_unicode().to_string(),
        c => c.to_string(),
    }
}

/// `text` with every character shown by [`visible`].
fn escape_invisible(text: &str) -> String {
    text.chars().map(visible).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_are_escaped() {
        assert_eq!(
            escape_invisible("unexpected character '\u{200b}'"),
            "unexpected character '\\u{200b}'"
        );
        assert_eq!(escape_invisible("a\tb\u{1}c"), "a\\tb\\u{1}c");
        assert_eq!(escape_invisible("x^2 + \u{e9}"), "x^2 + \u{e9}");
    }

    #[test]
    fn long_messages_keep_head_and_tail() {
        let short = "unknown variable 'ab'";
        assert_eq!(shorten(short), short);
        let long = format!("unknown variable '{}' (declared: x)", "a".repeat(500));
        let shown = shorten(&long);
        assert_eq!(shown.chars().count(), MESSAGE_HEAD + 3 + MESSAGE_TAIL);
        assert!(shown.starts_with("unknown variable 'aaa"), "{shown}");
        assert!(shown.ends_with("aaa' (declared: x)"), "{shown}");
    }

    #[test]
    fn short_formulas_are_echoed_whole() {
        assert_eq!(echo_window("x*cos(", 6..7), ("x*cos(".into(), 6, 1));
        assert_eq!(
            echo_window("x\u{200b}+1", 1..2),
            ("x\\u{200b}+1".into(), 1, 8)
        );
    }

    #[test]
    fn long_formulas_are_echoed_around_the_error() {
        let source = format!("{}$", "x+".repeat(18_500));
        let (echo, column, width) = echo_window(&source, 37_000..37_001);
        assert!(echo.len() <= ECHO_WIDTH + 6, "{echo}");
        assert!(echo.starts_with("...") && echo.ends_with("+$"), "{echo}");
        assert_eq!((&echo[column..column + 1], width), ("$", 1));
        // An error near the start keeps the start and cuts the end.
        let (echo, column, _) = echo_window(&source, 2..3);
        assert!(echo.starts_with("x+x") && echo.ends_with("..."), "{echo}");
        assert_eq!(column, 2);
        // A span over the whole formula gets carets up to the window's end.
        let (echo, column, width) = echo_window(&source, 0..source.len());
        assert_eq!((column, width), (0, echo.len() - 3));
    }
}
