//! kseries: tree-wide kernel API migrations, done the way a careful
//! maintainer would do them.
//!
//! The pipeline is the architecture (see ARCHITECTURE.md):
//! [`scan`] finds every use of the old API by C meaning; later stages
//! consume its [`scan::ScanReport`].  What one migration means lives in
//! [`recipe`], not in the engine.

pub mod check;
pub mod recipe;
pub mod rewrite;
pub mod scan;
pub mod series;
