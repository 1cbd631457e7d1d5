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
    /// Compute the whole migration as a plan of change units; print its
    /// diff or its JSON, or write it into the tree.
    Rewrite {
        #[arg(default_value = ".")]
        path: PathBuf,
        #[arg(long, value_enum, default_value_t = PlanFormat::Diff)]
        format: PlanFormat,
        /// Write the edits into PATH's working tree (a clean git tree only).
        #[arg(long)]
        apply: bool,
        /// Exit 0 even when some sites were left for review.
        #[arg(long)]
        allow_partial: bool,
        #[arg(long, default_value = "invalidate-page")]
        recipe: String,
    },
    /// Send a series (a format-patch directory or an mbox) like git
    /// send-email: dry run by default, --confirm to send, never twice.
    Send(SendArgs),
    /// Add the Reviewed-by/Acked-by/Tested-by/Reported-by trailers from
    /// replies to the commits of a series branch (like `b4 trailers -u`).
    Trailers {
        /// The series branch to rewrite.
        branch: String,
        /// The replies: an mbox file or a maildir.
        #[arg(long)]
        replies: PathBuf,
        /// The repository (default: the current directory).
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// The commit the series sits on (default: from the patch count).
        #[arg(long)]
        base: Option<String>,
        /// The sent series directory (maps Message-Ids to patches).
        #[arg(long)]
        series: Option<PathBuf>,
        /// Report only; do not rewrite the branch.
        #[arg(long)]
        dry_run: bool,
    },
    /// A CI bot for a kernel fork on GitHub: a pull request per series,
    /// one check run per commit.
    #[command(subcommand)]
    Bot(BotCommand),
    /// Build and boot-test every commit of a series in QEMU with a notifier
    /// auditor; compile the touched files of every architecture.
    Verify(Box<VerifyArgs>),
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
    // ---- series (wip/series) ----
    /// Cut a plan into a bisectable patch series on a new branch and write
    /// it as format-patch files and/or an mbox.
    Series(Box<SeriesArgs>),
    // ---- end series ----
}

#[derive(Subcommand)]
enum BotCommand {
    /// Receive GitHub webhooks (push, pull_request, issue_comment) at
    /// `POST /`; the secret comes from KSERIES_WEBHOOK_SECRET, the token
    /// from GITHUB_TOKEN (or a GitHub App's KSERIES_APP_* variables).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8088")]
        listen: std::net::SocketAddr,
        /// Where series are built (clones of the fork).
        #[arg(long, default_value = ".kseries-bot")]
        workdir: PathBuf,
        /// A kseries.toml to use for every event, instead of the one in
        /// the repository.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Handle the one event of a GitHub Actions run (GITHUB_EVENT_PATH,
    /// GITHUB_TOKEN, GITHUB_REPOSITORY).
    Run {
        #[arg(long, default_value = ".kseries-bot")]
        workdir: PathBuf,
        /// Push the series and open its pull request, and leave its checks
        /// to the workflow's matrix (templates/github/kseries.yml).
        #[arg(long)]
        checks_in_workflow: bool,
    },
    /// Print the Actions matrix of a series as one line of JSON: one job
    /// per commit, check and architecture (the workflow's plan job).
    Matrix {
        /// The commits, `BASE..HEAD`.
        #[arg(long)]
        range: String,
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// The checks come from this kseries.toml (default: build and boot).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Collect the per-job results of the Actions matrix into check runs.
    Collect {
        /// The directory with the jobs' JSON results.
        #[arg(long)]
        results: PathBuf,
        #[arg(long, default_value = ".kseries-bot")]
        workdir: PathBuf,
    },
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// The commits to verify, `A..B` (or one commit); default: the series
    /// branch from its merge base with HEAD.
    #[arg(long)]
    range: Option<String>,
    /// One commit, as a matrix job of the GitHub workflow verifies it
    /// (with --format job-json).
    #[arg(long, conflicts_with = "range")]
    commit: Option<String>,
    /// With --format job-json: the architecture the job reports on
    /// (x86_64, or a cross architecture: arm, arm64, powerpc, mips).
    #[arg(long, default_value = "x86_64")]
    arch: String,
    /// With --format job-json: the check the job runs (boot: x86_64 only).
    #[arg(long, value_enum)]
    check: Option<JobCheck>,
    /// The series branch, when no --range is given.
    #[arg(long, default_value = kseries::series::DEFAULT_BRANCH)]
    branch: String,
    /// The repository.
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Where the checkout and the persistent build directories live.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    #[arg(long, default_value_t = 2)]
    jobs: u32,
    #[arg(long)]
    no_compile_check: bool,
    #[arg(long)]
    no_cross: bool,
    #[arg(long)]
    no_boot: bool,
    /// Seconds before QEMU is stopped.
    #[arg(long, default_value_t = 180)]
    timeout: u64,
    /// Each step's console and build logs go here.
    #[arg(long)]
    log_dir: Option<PathBuf>,
    /// A JUnit XML report.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Go on after the first failing commit.
    #[arg(long)]
    keep_going: bool,
    #[arg(long, value_enum, default_value_t = VerifyFormat::Table)]
    format: VerifyFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum JobCheck {
    /// Compile the touched files for --arch.
    Build,
    /// Build and boot the kernel with the auditor.
    Boot,
}

impl JobCheck {
    fn kind(self) -> kseries::bot::checks::CheckKind {
        match self {
            JobCheck::Build => kseries::bot::checks::CheckKind::Build,
            JobCheck::Boot => kseries::bot::checks::CheckKind::Boot,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum VerifyFormat {
    Table,
    Json,
    /// One build result for the bot's collector (no boot).
    JobJson,
}

#[derive(clap::Args)]
struct SendArgs {
    /// A series directory (`v1-0000-cover-letter.patch` ...) or an mbox.
    series: PathBuf,
    #[arg(long)]
    to: Vec<String>,
    #[arg(long)]
    cc: Vec<String>,
    #[arg(long)]
    from: Option<String>,
    /// self, cc, bodycc, author, sob, misc-by, body or all (repeatable).
    #[arg(long)]
    suppress_cc: Vec<kseries::send::SuppressCc>,
    /// Print exactly what would be sent, envelope included (the default).
    #[arg(long)]
    dry_run: bool,
    /// Really send.
    #[arg(long)]
    confirm: bool,
    /// Send only to yourself.
    #[arg(long)]
    reflect: bool,
    #[arg(long)]
    smtp_server: Option<String>,
    #[arg(long)]
    smtp_server_port: Option<u16>,
    /// tls (STARTTLS), ssl (implicit TLS) or none.
    #[arg(long)]
    smtp_encryption: Option<kseries::send::Encryption>,
    #[arg(long)]
    smtp_user: Option<String>,
    /// A PEM file with the CA that signed the server's certificate.
    #[arg(long)]
    smtp_ca: Option<PathBuf>,
    /// Reconnect after this many messages.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Seconds to wait before reconnecting.
    #[arg(long)]
    relogin_delay: Option<u64>,
    /// Send a cover letter that still has the *** SUBJECT HERE *** blurb.
    #[arg(long)]
    force: bool,
    /// Show the SMTP conversation (never the password).
    #[arg(long)]
    verbose: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum PlanFormat {
    /// The unified diff of the whole migration.
    Diff,
    /// The plan: change units with their edits and rationale.
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum CheckFormat {
    Text,
    Json,
    Sarif,
}

// ---- series (wip/series) ----
#[derive(clap::Args)]
struct SeriesArgs {
    /// The plan (JSON, as `rewrite --format json` prints it); without it,
    /// the tree is scanned and the plan computed now.
    #[arg(long)]
    plan: Option<PathBuf>,
    /// With no --plan: cut a series even when sites were left for review.
    #[arg(long)]
    allow_partial: bool,
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
    /// Build directory for --check-build (default: verify's, per tree).
    #[arg(long)]
    build_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn run_series(a: SeriesArgs) -> anyhow::Result<ExitCode> {
    use kseries::series;
    let read = |p: &PathBuf| std::fs::read_to_string(p).with_context(|| p.display().to_string());
    let (plan, mut verification) = match &a.plan {
        Some(p) => {
            let plan: kseries::rewrite::Plan = serde_json::from_str(&read(p)?)
                .with_context(|| format!("{}: not a plan", p.display()))?;
            (plan, series::Verification::default())
        }
        None => plan_now(&a.tree, a.allow_partial)?,
    };
    if let Some(p) = &a.verification {
        let more: series::Verification =
            serde_json::from_str(&read(p)?).with_context(|| p.display().to_string())?;
        verification.items.extend(more.items);
    }
    let kbuild = series::KbuildCheck {
        build_dir: a.build_dir,
        jobs: 2,
    };
    let checker: Option<&dyn series::BuildCheck> = a.check_build.then_some(&kbuild as _);
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
    let report = series::make_series(&a.tree, &plan, &opts, &verification, checker)?;
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

/// Scan and plan the tree for `series` when no plan file is given, and
/// say what was verified on the way.
fn plan_now(
    tree: &std::path::Path,
    allow_partial: bool,
) -> anyhow::Result<(kseries::rewrite::Plan, kseries::series::Verification)> {
    let recipe = recipe("invalidate-page")?;
    let report = kseries::scan::scan(tree, &recipe)?;
    let plan = kseries::rewrite::plan(tree, &report, &recipe)?;
    let review = needs_review(&report, &plan);
    if !review.is_empty() && !allow_partial {
        anyhow::bail!(
            "{} site(s) are left for review, so the series would be partial:\n{}\n(--allow-partial cuts it anyway)",
            review.len(),
            review.join("\n")
        );
    }
    let mut v = kseries::series::Verification::default();
    v.items.push(kseries::series::VerificationItem {
        tool: "kseries scan".into(),
        outcome: kseries::scan::render::summary_line(&report)
            .trim()
            .to_string(),
    });
    v.items.push(kseries::series::VerificationItem {
        tool: "kseries rewrite".into(),
        outcome: format!(
            "{} change unit(s), {} site(s) left for review",
            plan.units.len(),
            review.len()
        ),
    });
    Ok((plan, v))
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
            eprintln!("kseries: error: {}", error_report(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each once: many library errors already say
/// their source in their own message (`{path}: {source}`), so a cause is
/// added only when the text so far does not contain it.
fn error_report(e: &anyhow::Error) -> String {
    let mut report = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !report.contains(&cause) {
            report.push_str(": ");
            report.push_str(&cause);
        }
    }
    report
}

fn recipe(id: &str) -> anyhow::Result<kseries::recipe::Recipe> {
    kseries::recipe::by_id(id).with_context(|| {
        let known: Vec<_> = kseries::recipe::all().iter().map(|r| r.id).collect();
        format!("unknown recipe `{id}` (known: {})", known.join(", "))
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Scan {
            path,
            format,
            recipe: id,
        } => {
            let recipe = recipe(&id)?;
            let report = kseries::scan::scan(&path, &recipe)?;
            match format {
                Format::Table => print!("{}", kseries::scan::render_table(&report)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Series(a) => run_series(*a),
        Command::Rewrite {
            path,
            format,
            apply,
            allow_partial,
            recipe: id,
        } => {
            let recipe = recipe(&id)?;
            // A subdirectory is planned as part of its whole work tree.
            let scope = kseries::rewrite::Scope::of(&path)?;
            let top = &scope.top;
            let report = kseries::scan::scan(top, &recipe)?;
            let plan = kseries::rewrite::plan(top, &report, &recipe)?;
            let (plan, left_out) = scope.restrict(plan);
            if let Some(within) = &scope.within {
                eprintln!(
                    "kseries: {within} is part of the work tree {}: planned the whole tree, kept the {} change unit(s) inside {within}",
                    top.display(),
                    plan.units.len()
                );
            }
            for r in &left_out {
                eprintln!("kseries: note: {r}");
            }
            let outcome = kseries::rewrite::outcome(top, &plan)?;
            match format {
                PlanFormat::Diff => {
                    use std::io::Write;
                    std::io::stdout().write_all(&kseries::rewrite::unified_diff(&outcome))?;
                }
                PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
            }
            if apply {
                let applied = kseries::rewrite::apply(top, &outcome)?;
                for f in &applied.removed_leftovers {
                    eprintln!("kseries: removed {f}, left by an interrupted --apply");
                }
                eprintln!(
                    "kseries: wrote {} file(s) in {}",
                    outcome.len(),
                    top.display()
                );
            }
            let mut review = needs_review(&report, &plan);
            // Items outside PATH are its work tree's, not this run's.
            review.retain(|r| r.starts_with("kseries: ") || scope.contains(r));
            for r in &review {
                eprintln!("{r}");
            }
            if !review.is_empty() && !allow_partial {
                eprintln!(
                    "kseries: {} site(s) left for review (untouched); --allow-partial accepts a partial rewrite",
                    review.len()
                );
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Send(a) => {
            let opts = kseries::send::SendOptions {
                series: a.series,
                to: a.to,
                cc: a.cc,
                from: a.from,
                suppress_cc: a.suppress_cc,
                dry_run: a.dry_run,
                confirm: a.confirm,
                reflect: a.reflect,
                smtp_server: a.smtp_server,
                smtp_server_port: a.smtp_server_port,
                smtp_encryption: a.smtp_encryption,
                smtp_user: a.smtp_user,
                smtp_pass: None,
                smtp_ca: a.smtp_ca,
                batch_size: a.batch_size,
                relogin_delay: a.relogin_delay,
                force: a.force,
                verbose: a.verbose,
                git_dir: None,
            };
            let report = kseries::send::send(&opts, &mut std::io::stdout())?;
            eprintln!(
                "kseries: {} sent, {} already sent before (state in {})",
                report.sent.len(),
                report.skipped.len(),
                report.state_path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Trailers {
            branch,
            replies,
            repo,
            base,
            series,
            dry_run,
        } => {
            let opts = kseries::trailers::TrailersOptions {
                repo,
                branch,
                base,
                replies,
                series,
                dry_run,
            };
            let report = kseries::trailers::trailers(&opts, &mut std::io::stdout())?;
            if !report.malformed.is_empty() {
                eprintln!(
                    "kseries: {} malformed trailer line(s) reported above",
                    report.malformed.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bot(cmd) => run_bot(cmd),
        Command::Verify(a) => run_verify(*a),
        Command::Check {
            path,
            format,
            recipe: id,
        } => {
            let recipe = recipe(&id)?;
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

fn run_verify(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let range = match a.range.or(a.commit) {
        Some(r) => r,
        None => {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(&a.repo)
                .args(["merge-base", "HEAD"])
                // A full ref name: a branch can never be taken for an option.
                .arg(format!(
                    "refs/heads/{}",
                    a.branch.trim_start_matches("refs/heads/")
                ))
                .output()?;
            anyhow::ensure!(
                out.status.success(),
                "cannot find where {} forks from HEAD: {} (give --range A..B)",
                a.branch,
                String::from_utf8_lossy(&out.stderr).trim()
            );
            format!(
                "{}..{}",
                String::from_utf8_lossy(&out.stdout).trim(),
                a.branch
            )
        }
    };
    let mut opts = kseries::verify::VerifyOptions::new(&a.repo, range);
    opts.work_dir = a.work_dir;
    opts.jobs = a.jobs;
    opts.compile_check = !a.no_compile_check;
    opts.cross = !a.no_cross;
    opts.boot = !a.no_boot;
    let check = a.check.unwrap_or(JobCheck::Build);
    if a.format == VerifyFormat::JobJson {
        one_job(&mut opts, check, &a.arch)?;
    } else {
        anyhow::ensure!(
            a.check.is_none(),
            "--check goes with --format job-json (one matrix job)"
        );
    }
    opts.qemu.timeout = std::time::Duration::from_secs(a.timeout);
    opts.log_dir = a.log_dir;
    opts.junit = a.junit;
    opts.keep_going = a.keep_going;
    opts.progress = std::io::stderr().is_terminal();
    let report = kseries::verify::verify_series(&opts)?;
    match a.format {
        VerifyFormat::Table => print!("{}", kseries::verify::render_table(&report)),
        VerifyFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        VerifyFormat::JobJson => {
            let step = report.steps.first().context("no commit was verified")?;
            let job = kseries::bot::checks::job_result(step, check.kind(), &a.arch);
            println!("{}", serde_json::to_string_pretty(&job)?);
        }
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A matrix job runs one check for one architecture: only that part of
/// `verify` (the workflow runs the others in their own jobs).
fn one_job(
    opts: &mut kseries::verify::VerifyOptions,
    check: JobCheck,
    arch: &str,
) -> anyhow::Result<()> {
    let cross = kseries::verify::cross::CROSS_ARCHES;
    opts.cross = false;
    opts.boot = false;
    match check {
        JobCheck::Boot => {
            anyhow::ensure!(
                arch == "x86_64",
                "--check boot boots x86_64 only, not {arch}"
            );
            opts.compile_check = false;
            opts.boot = true;
        }
        JobCheck::Build if arch == "x86_64" => {}
        JobCheck::Build => {
            anyhow::ensure!(
                cross.iter().any(|c| c.src_arch == arch),
                "unknown architecture {arch:?} (known: x86_64, {})",
                cross
                    .iter()
                    .map(|c| c.src_arch)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            opts.compile_check = false;
            opts.cross = true;
            opts.cross_arches = Some(vec![arch.to_string()]);
        }
    }
    Ok(())
}

fn run_bot(cmd: BotCommand) -> anyhow::Result<ExitCode> {
    use kseries::bot::{AuthOptions, BotOptions, CollectOptions, RunOptions, ServeOptions};
    use std::sync::Arc;
    let rt = tokio::runtime::Runtime::new()?;
    let runner = |dir: PathBuf| -> Arc<dyn kseries::bot::SeriesRunner> {
        Arc::new(kseries::bot::runner::GitSeriesRunner::new(dir))
    };
    match cmd {
        BotCommand::Serve {
            listen,
            workdir,
            config,
        } => {
            let mut bot = match &config {
                Some(path) => BotOptions::new(
                    AuthOptions::from_env()?,
                    kseries::bot::config::Config::load(path)?,
                ),
                // Each event reads the repository's own kseries.toml.
                None => BotOptions::new(AuthOptions::from_env()?, Default::default()),
            };
            bot.config_from_repository = config.is_none();
            let opts = ServeOptions::from_env(listen, bot)?;
            rt.block_on(kseries::bot::serve(opts, runner(workdir)))?;
        }
        BotCommand::Run {
            workdir,
            checks_in_workflow,
        } => {
            let mut opts = RunOptions::from_env()?;
            opts.bot.checks_in_workflow = checks_in_workflow;
            let report = rt.block_on(kseries::bot::run_once(opts, runner(workdir)))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        BotCommand::Matrix {
            range,
            repo,
            config,
        } => {
            let checks = match &config {
                Some(path) => kseries::bot::config::Config::load(path)?.checks,
                None => kseries::bot::checks::CheckKind::ALL.to_vec(),
            };
            let matrix = kseries::bot::matrix::plan(&repo, &range, &checks)?;
            println!("{}", serde_json::to_string(&matrix)?);
        }
        BotCommand::Collect { results, workdir } => {
            let opts = CollectOptions::from_env(results)?;
            let report = rt.block_on(kseries::bot::collect_once(opts, runner(workdir)))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Everything left for a human: what the scan could not decide and what
/// the rewrite rules refused, as `file:line: needs-review: reason`.
fn needs_review(report: &kseries::scan::ScanReport, plan: &kseries::rewrite::Plan) -> Vec<String> {
    let from_scan = report.sites.iter().filter_map(|s| match &s.detail {
        kseries::scan::Detail::NeedsReview { reason } => {
            Some(format!("{}:{}: needs-review: {reason}", s.file, s.line))
        }
        _ => None,
    });
    let from_plan = plan.needs_review.iter().map(|r| {
        if r.file.is_empty() {
            format!("kseries: needs-review: {r}")
        } else {
            format!("{}:{}: needs-review: {}", r.file, r.line, r.reason)
        }
    });
    from_scan.chain(from_plan).collect()
}
