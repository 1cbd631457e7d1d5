//! The command line's own parts (not the library's): its arguments and
//! its output.  `main.rs` dispatches between them and the library.

pub mod args;
pub mod print;
