//! kseries: tree-wide kernel API migrations, done the way a careful
//! maintainer would do them.
//!
//! The pipeline is the architecture; see ARCHITECTURE.md.
pub mod verify;
