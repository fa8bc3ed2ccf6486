//! `downhill problems`: every method of a list on the classical test set,
//! printed as a markdown robustness table (or JSON rows).
//!
//! Every run uses the same options, `Options::robust()` (gradient tolerance
//! 1e-8, stagnation tests x_tol 1e-12 and f_tol 1e-15) with the iteration
//! limit `--steps`, so the comparison is fair.

use std::io::Write;

use downhill::driver::Options;
use downhill::method::{parse_line_search, LineSearchKind, MethodName, MethodSpec};
use downhill::problems::{classical, render_markdown, robustness_table, Row};

use crate::args::ProblemsArgs;
use crate::UserError;

/// The step size of fixed-step gradient descent in this command: the
/// method's default 0.1 diverges on most of the set at once.
pub const GD_ETA: f64 = 1e-3;

pub fn run(args: ProblemsArgs) -> Result<(), UserError> {
    let methods = args
        .method
        .iter()
        .map(|entry| parse_method(entry))
        .collect::<Result<Vec<_>, _>>()
        .map_err(UserError)?;
    if methods.is_empty() {
        return Err(UserError("--method needs at least one method".into()));
    }
    let options = Options {
        max_iterations: usize::try_from(args.steps).unwrap_or(usize::MAX),
        ..Options::robust()
    };
    let problems = classical();
    let rows = robustness_table(&problems, &methods, &options);

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // A closed pipe (e.g. `| head`) is not an error worth reporting.
    if args.json {
        let json = serde_json::to_string_pretty(&rows)?;
        let _ = writeln!(out, "{json}");
    } else {
        let _ = write!(out, "{}", render_markdown(&rows));
        let notes: Vec<String> = problems
            .iter()
            .filter(|p| !p.note.is_empty())
            .map(|p| format!("- {}: {}", p.name, p.note))
            .collect();
        if !notes.is_empty() {
            let _ = writeln!(out, "\nnotes:\n{}", notes.join("\n"));
        }
        let _ = writeln!(out);
        for spec in &methods {
            let label = downhill::problems::method_label(spec);
            let mine: Vec<&Row> = rows.iter().filter(|r| r.method == label).collect();
            let local = mine.iter().filter(|r| r.local_minimum).count();
            let _ = writeln!(
                out,
                "{label}: {} of {} solved{}",
                mine.iter().filter(|r| r.solved).count(),
                mine.len(),
                if local > 0 {
                    format!(" ({local} at a documented local minimum)")
                } else {
                    String::new()
                }
            );
        }
        let _ = writeln!(
            out,
            "solved: {} of {} runs",
            rows.iter().filter(|r| r.solved).count(),
            rows.len()
        );
    }
    let _ = out.flush();
    Ok(())
}

/// `NAME` or `NAME:SEARCH`, e.g. `bfgs`, `gd:wolfe`, `newton:armijo`.
/// Plain `gd` uses the fixed step [`GD_ETA`].
fn parse_method(entry: &str) -> Result<MethodSpec, String> {
    let entry = entry.trim();
    let (name, search) = match entry.split_once(':') {
        Some((name, search)) => (name, Some(search)),
        None => (entry, None),
    };
    let mut spec = MethodSpec::new(MethodName::parse(name.trim())?);
    if let Some(search) = search {
        spec.line_search = Some(parse_line_search(search.trim())?);
    }
    if spec.name == MethodName::Gd && spec.line_search.unwrap_or_default() == LineSearchKind::None {
        spec.eta = Some(GD_ETA);
    }
    // Reject a line search the method does not take now, not once per problem.
    spec.build(1)
        .map_err(|e| format!("--method {entry}: {e}"))?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_entries_parse() {
        let gd = parse_method("gd").unwrap();
        assert_eq!((gd.eta, gd.line_search), (Some(GD_ETA), None));
        let gd = parse_method("gd:wolfe").unwrap();
        assert_eq!(
            (gd.eta, gd.line_search),
            (None, Some(LineSearchKind::Wolfe))
        );
        assert_eq!(parse_method(" bfgs ").unwrap().name, MethodName::Bfgs);
        assert!(parse_method("bogus")
            .unwrap_err()
            .contains("unknown method"));
        assert!(parse_method("bfgs:nope")
            .unwrap_err()
            .contains("unknown line search"));
        assert!(parse_method("adam:wolfe")
            .unwrap_err()
            .contains("--line-search does not apply"));
    }
}
