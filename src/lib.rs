//! kseries: tree-wide kernel API migrations, done the way a careful
//! maintainer would do them.
//!
//! The pipeline is the architecture (see ARCHITECTURE.md):
//! [`scan`] finds every use of the old API by C meaning, [`rewrite`]
//! computes the migration as a plan of change units ([`pipeline`] runs the
//! two and the review gate for every entry point), [`series`] cuts it
//! into a patch series, [`send`] mails it and [`trailers`] collects the
//! replies' trailers; [`verify`] builds every step.  What one migration means lives in [`recipe`], not
//! in the engine.

pub mod bot;
pub mod check;
pub mod crashpoint;
pub mod date;
pub mod git;
pub mod pipeline;
pub mod recipe;
pub mod rewrite;
pub mod scan;
pub mod send;
pub mod series;
pub mod trailers;
pub mod verify;
pub mod words;
