//! Cutting a migration into a patch series: who each patch goes to.

pub mod maintainers;
