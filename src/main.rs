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
    // ---- series (wip/series) ----
    /// Cut a plan into a bisectable patch series on a new branch and write
    /// it as format-patch files and/or an mbox.
    Series(Box<SeriesArgs>),
    // ---- end series ----
}

// ---- series (wip/series) ----
#[derive(clap::Args)]
struct SeriesArgs {
    /// The plan (JSON, as `rewrite` prints it).
    #[arg(long)]
    plan: PathBuf,
    /// Top of the kernel tree (a git repository).
    #[arg(default_value = ".")]
    tree: PathBuf,
    #[arg(long, default_value = kseries::series::DEFAULT_BRANCH)]
    branch: String,
    /// Replace the branch (and same-version patches in --output-dir).
    #[arg(long)]
    force: bool,
    #[arg(long)]
    output_dir: Option<PathBuf>,
    #[arg(long)]
    mbox: Option<PathBuf>,
    #[arg(short = 'v', long = "reroll-count", default_value_t = 1)]
    reroll_count: u32,
    #[arg(long)]
    previous_branch: Option<String>,
    /// An item of "Changes since vN-1" (repeatable).
    #[arg(long = "change")]
    changes: Vec<String>,
    #[arg(long)]
    reviewed_by: Vec<String>,
    #[arg(long)]
    acked_by: Vec<String>,
    /// Cover letter title.
    #[arg(long)]
    title: Option<String>,
    /// What earlier stages verified (JSON `{"items":[{"tool","outcome"}]}`).
    #[arg(long)]
    verification: Option<PathBuf>,
    /// Compile every commit for the files it touches; stop at the first
    /// that fails.
    #[arg(long)]
    check_build: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn run_series(a: SeriesArgs) -> anyhow::Result<ExitCode> {
    use kseries::series;
    let read = |p: &PathBuf| std::fs::read_to_string(p).with_context(|| p.display().to_string());
    let plan: kseries::rewrite::Plan = serde_json::from_str(&read(&a.plan)?)
        .with_context(|| format!("{}: not a plan", a.plan.display()))?;
    let verification = match &a.verification {
        Some(p) => serde_json::from_str(&read(p)?).with_context(|| p.display().to_string())?,
        None => series::Verification::default(),
    };
    if a.check_build {
        // The compile check lives in `verify` (wip/verify); it plugs in
        // here as a `series::BuildCheck` when that branch is merged.
        anyhow::bail!("--check-build needs the compile check of `verify`, not merged yet");
    }
    let defaults = series::SeriesOptions::default();
    let opts = series::SeriesOptions {
        branch: a.branch,
        force: a.force,
        output_dir: a.output_dir,
        mbox: a.mbox,
        reroll_count: a.reroll_count,
        previous_branch: a.previous_branch,
        changes: a.changes,
        reviewed_by: a.reviewed_by,
        acked_by: a.acked_by,
        title: a.title.unwrap_or(defaults.title),
        ..defaults
    };
    let report = series::make_series(&a.tree, &plan, &opts, &verification, None)?;
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Table => {
            println!(
                "{} ({} .. {})",
                report.branch,
                &report.base[..12],
                &report.tip[..12]
            );
            for p in &report.patches {
                println!("{:3} {} {}", p.number, &p.commit[..12], p.subject);
            }
            for w in &report.warnings {
                eprintln!("kseries: warning: {w}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
// ---- end series ----

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
        Command::Series(a) => run_series(*a),
    }
}
