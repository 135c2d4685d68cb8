//! The pure core of rathaus: types that cannot hold invalid values and the rules that act on them.
//!
//! Nothing in this crate performs I/O, reads the clock or draws randomness; callers pass time and
//! random values in, which keeps every rule testable and every legal deadline reproducible.

pub mod casework;
pub mod dogtax;
pub mod gv;
pub mod localtime;
pub mod sepa;
pub mod service;
pub mod staff;
pub mod tenant;
pub mod upload;
