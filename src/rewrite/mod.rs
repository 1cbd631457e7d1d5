//! `kseries rewrite`: the migration as a plan of change units.

pub mod plan;

pub use plan::{ChangeUnit, Edit, FileEdit, Plan, ReviewItem, Stage};
