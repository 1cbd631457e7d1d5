//! The `kseries` command line: argument parsing and output only; the work
//! happens in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "kseries",
    version,
    about = "Tree-wide kernel API migrations, as a careful maintainer would do them"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Find every use of the old API by C meaning and account for every
    /// textual occurrence.
    Scan {
        /// Top of the source tree.
        #[arg(default_value = ".")]
        path: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Migration recipe.
        #[arg(long, default_value = "invalidate-page")]
        recipe: String,
    },
    /// Lint notifier semantics: removed API (E1), unpaired brackets (E2),
    /// invalidate_range in place of a bracket (E3), page counts as lengths
    /// (E4), unaligned huge ranges (E5), sleeping atomic callbacks (W1).
    /// Exit 1 when there are errors.
    Check {
        /// Top of the source tree.
        #[arg(default_value = ".")]
        path: PathBuf,
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
        /// Migration recipe.
        #[arg(long, default_value = "invalidate-page")]
        recipe: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum CheckFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kseries: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Scan {
            path,
            format,
            recipe,
        } => {
            let recipe = kseries::recipe::by_id(&recipe).with_context(|| {
                let known: Vec<_> = kseries::recipe::all().iter().map(|r| r.id).collect();
                format!("unknown recipe `{recipe}` (known: {})", known.join(", "))
            })?;
            let report = kseries::scan::scan(&path, &recipe)?;
            match format {
                Format::Table => print!("{}", kseries::scan::render_table(&report)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            path,
            format,
            recipe,
        } => {
            let recipe = kseries::recipe::by_id(&recipe).with_context(|| {
                let known: Vec<_> = kseries::recipe::all().iter().map(|r| r.id).collect();
                format!("unknown recipe `{recipe}` (known: {})", known.join(", "))
            })?;
            let report = kseries::check::check(&path, &recipe)?;
            match format {
                CheckFormat::Text => print!("{}", kseries::check::render_text(&report)),
                CheckFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                CheckFormat::Sarif => println!(
                    "{}",
                    serde_json::to_string_pretty(&kseries::check::sarif::to_sarif(&report))?
                ),
            }
            Ok(if report.has_errors() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
