//! The tests that never touch the real kernel tree: the command line, the
//! corpus scan, series and mail on small repositories, trailers and the
//! Actions workflow.  One binary (`cargo test --test fast`), so that the
//! library and its dependencies are linked once for all of them.

#[path = "../common/mod.rs"]
mod common;
#[path = "../series_plan/mod.rs"]
mod series_plan;

mod cli;
mod scan_corpus;
mod series_cli;
mod series_identity;
mod series_mail;
mod series_small;
mod trailers;
mod workflow;
