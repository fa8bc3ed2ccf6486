//! downhill: gradient descent and Newton's method, the textbook made real.
//!
//! The crate implements the "Gradient Descent" chapter of *Dive into Deep
//! Learning*: objectives with exact automatic derivatives ([`formula`],
//! [`objective`]), methods that are a state plus a step ([`method`]), one
//! driver loop that owns stopping rules, divergence checks and the trace
//! ([`driver`], [`trace`]), the book's printouts ([`report`]), figures
//! ([`plot`]) and the chapter tour ([`tour`]).
//!
//! One call runs a method:
//!
//! ```
//! use downhill::{driver::{run, Options}, formula::Formula, method::GradientDescent};
//! let f = Formula::parse("x1^2 + 2*x2^2").unwrap();
//! let result = run(&f, &mut GradientDescent::new(0.1), &[-5.0, -2.0], &Options::book(20)).unwrap();
//! assert_eq!(downhill::report::epoch_line(&result.variables, 20, &result.x),
//!            "epoch 20, x1: -0.057646, x2: -0.000073");
//! ```

pub mod analysis;
pub mod driver;
mod finite;
pub mod formula;
pub mod large;
pub mod line_search;
pub mod method;
pub mod objective;
pub mod plot;
pub mod problems;
pub mod report;
mod scratch;
pub mod sweep;
pub mod tour;
pub mod trace;
