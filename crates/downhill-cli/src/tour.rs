//! `downhill tour`: the chapter's experiments, printed, with figures.

use crate::args::TourArgs;
use crate::UserError;

pub fn run(args: TourArgs) -> Result<(), UserError> {
    let sections = downhill::tour::run()?;
    let figures = (!args.no_figures).then_some(args.out.as_path());
    print!("{}", downhill::tour::render_text(&sections, figures));
    if let Some(dir) = figures {
        let written = downhill::tour::write_figures(&sections, dir)?;
        println!(
            "\nwrote {} files; open {} to see the figures in order",
            written.len(),
            dir.join("index.html").display()
        );
    }
    Ok(())
}
