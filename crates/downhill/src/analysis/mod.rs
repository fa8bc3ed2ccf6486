//! Diagnostics of a finished run that other tools do not print: the
//! observed order of convergence ([`convergence_order`]) and the stability
//! of a fixed learning rate against the curvature ([`stability`]).

mod order;
mod stability;

pub use order::{convergence_order, error_table, ErrorRow, Order, OrderEstimate};
pub use stability::{stability, Stability};
