//! The `downhill` command: parse arguments, call the library, print.
//!
//! Exit codes: 0 when a run completes, whatever its outcome (converged,
//! iteration limit, diverged, method failed: the outcome is printed and in
//! `--json`); 2 for bad input (arguments, formulas, paths) or I/O errors.

mod args;
mod input;
mod minimize;
mod problems;
mod sweep;
mod tour;

use clap::Parser;

use args::{Cli, Command};

/// An error a user can act on; printed as `downhill: error: ...`, exit 2.
pub struct UserError(pub String);

impl<E: std::fmt::Display> From<E> for UserError {
    fn from(e: E) -> Self {
        UserError(e.to_string())
    }
}

fn main() {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Tour(a) => tour::run(a),
        Command::Minimize(a) => minimize::run(*a),
        Command::Problems(a) => problems::run(a),
        Command::Sweep(a) => sweep::run(*a),
    };
    if let Err(UserError(message)) = outcome {
        eprintln!("downhill: error: {message}");
        std::process::exit(2);
    }
}
