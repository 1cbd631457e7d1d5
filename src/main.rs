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
    }
}
