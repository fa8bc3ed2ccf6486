//! `downhill tour`: the chapter's experiments, printed, with figures.

use std::io::Write;

use crate::args::TourArgs;
use crate::UserError;

pub fn run(args: TourArgs) -> Result<(), UserError> {
    let sections = downhill::tour::run()?;
    let figures = (!args.no_figures).then_some(args.out.as_path());
    let mut out = std::io::stdout().lock();
    // A closed pipe (e.g. `| head`) is not an error worth reporting, and the
    // figures are still written.
    let _ = write!(out, "{}", downhill::tour::render_text(&sections, figures));
    if let Some(dir) = figures {
        let written = downhill::tour::write_figures(&sections, dir)?;
        let _ = writeln!(
            out,
            "\nwrote {} files; open {} to see the figures in order",
            written.len(),
            dir.join("index.html").display()
        );
    }
    Ok(())
}
