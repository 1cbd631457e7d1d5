//! Every source file with a test on the real Linux 4.12 tree (scan, check,
//! rewrite, series, compile checks, QEMU boots, send's parity with git
//! send-email), with the quick tests that live beside them.  One binary
//! (`cargo test --test kernel [module::][name]`).
//!
//! Real-tree tests of different modules never run at the same time (see
//! `common::kernel_tree`), as when each module was a binary of its own.

#[path = "../common/mod.rs"]
mod common;
#[path = "../series_plan/mod.rs"]
mod series_plan;

mod boot;
mod check;
mod compile_check;
mod contain_kernel;
mod maintainers;
mod notifier_range;
mod rewrite;
mod scan_kernel;
mod send;
mod series_build;
mod series_kernel;
