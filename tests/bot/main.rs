//! The bot: webhook server, GitHub client against wiremock, git pushes,
//! the series runner, and on the real 4.12 tree its end-to-end run and its
//! boot check.  One binary (`cargo test --test bot [module::][name]`).

#[path = "../bot_support/mod.rs"]
mod bot_support;
#[path = "../common/mod.rs"]
mod common;

mod boot;
mod e2e;
mod git;
mod github;
mod runner;
mod webhook;
