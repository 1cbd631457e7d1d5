//! The `kseries` command line: argument parsing and output only; the work
//! happens in the library.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "kseries",
    version,
    about = "Tree-wide kernel API migrations, as a careful maintainer would do them",
    long_about = "Tree-wide kernel API migrations, as a careful maintainer would do them: \
                  find every use of the old API by C meaning (scan), rewrite it (rewrite), \
                  cut a bisectable patch series (series), build and boot every step (verify), \
                  and mail it (send).\n\nEvery subcommand that works on a kernel tree takes it \
                  as its TREE argument (default: the current directory)."
)]
struct Cli {
    /// When to colour the output: auto (only on a terminal, and not with
    /// NO_COLOR set), always or never.
    #[arg(long, value_enum, global = true, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    color: ColorWhen,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// The kernel tree every subcommand works on.
#[derive(clap::Args)]
struct TreeArg {
    /// The kernel tree: the top of its source (a git repository for the
    /// subcommands that make or read commits).
    #[arg(value_name = "TREE", default_value = ".")]
    tree: PathBuf,
    /// The same as TREE (older spelling).
    #[arg(
        long = "repo",
        value_name = "TREE",
        hide = true,
        conflicts_with = "tree"
    )]
    repo: Option<PathBuf>,
}

impl TreeArg {
    fn path(&self) -> &Path {
        self.repo.as_deref().unwrap_or(&self.tree)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Find every use of the old API by C meaning and account for every
    /// textual occurrence.
    Scan {
        #[command(flatten)]
        tree: TreeArg,
        /// Output: a table for people, or JSON (schema in README.md).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// The migration recipe.
        #[arg(long, default_value = "invalidate-page", value_name = "ID")]
        recipe: String,
    },
    /// Compute the whole migration as a plan of change units; print its
    /// diff or its JSON, or write it into the tree.
    Rewrite {
        #[command(flatten)]
        tree: TreeArg,
        /// Output: the unified diff of the whole migration, or the plan as
        /// JSON (what `series --plan` reads).
        #[arg(long, value_enum, default_value_t = PlanFormat::Diff)]
        format: PlanFormat,
        /// Write the edits into TREE's working tree (a clean git tree only).
        #[arg(long)]
        apply: bool,
        /// Exit 0 even when some sites were left for review.
        #[arg(long)]
        allow_partial: bool,
        /// The migration recipe.
        #[arg(long, default_value = "invalidate-page", value_name = "ID")]
        recipe: String,
    },
    /// Lint notifier semantics: removed API (E1), unpaired brackets (E2),
    /// invalidate_range in place of a bracket (E3), page counts as lengths
    /// (E4), unaligned huge ranges (E5), sleeping atomic callbacks (W1).
    /// Exit 1 when there are errors.
    Check {
        #[command(flatten)]
        tree: TreeArg,
        /// Output: compiler-style text, JSON, or SARIF 2.1.0 for code
        /// scanning.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
        /// The migration recipe.
        #[arg(long, default_value = "invalidate-page", value_name = "ID")]
        recipe: String,
    },
    /// Cut a plan into a bisectable patch series on a new branch and write
    /// it as format-patch files and/or an mbox.
    Series(Box<SeriesArgs>),
    /// Build and boot-test every commit of a series in QEMU with a notifier
    /// auditor; compile the touched files of every architecture.
    Verify(Box<VerifyArgs>),
    /// Send a series (a format-patch directory or an mbox) like git
    /// send-email: a dry run by default, --no-dry-run to send, never twice.
    Send(Box<SendArgs>),
    /// Add the Reviewed-by/Acked-by/Tested-by/Reported-by trailers from
    /// replies to the commits of a series branch (like `b4 trailers -u`).
    Trailers {
        #[command(flatten)]
        tree: TreeArg,
        /// The series branch to rewrite.
        #[arg(long, default_value = kseries::series::DEFAULT_BRANCH)]
        branch: String,
        /// The replies: an mbox file or a maildir.
        #[arg(long, value_name = "MBOX_OR_MAILDIR")]
        replies: PathBuf,
        /// The commit the series sits on (default: from the patch count).
        #[arg(long, value_name = "REV")]
        base: Option<String>,
        /// The sent series directory (maps Message-Ids to patches).
        #[arg(long, value_name = "DIR")]
        series: Option<PathBuf>,
        /// Report only; do not rewrite the branch.
        #[arg(long)]
        dry_run: bool,
    },
    /// A CI bot for a kernel fork on GitHub: a pull request per series,
    /// one check run per commit.
    #[command(subcommand)]
    Bot(BotCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish,
    /// powershell): e.g. `kseries completions bash >
    /// ~/.local/share/bash-completion/completions/kseries`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write one page per subcommand.
    Man {
        /// Write kseries.1 and kseries-SUBCOMMAND.1 into this directory
        /// instead of printing kseries.1.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum BotCommand {
    /// Receive GitHub webhooks (push, pull_request, issue_comment) at
    /// `POST /`; the secret comes from KSERIES_WEBHOOK_SECRET, the token
    /// from GITHUB_TOKEN (or a GitHub App's KSERIES_APP_* variables).
    Serve {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8088", value_name = "ADDR")]
        listen: std::net::SocketAddr,
        /// Where series are built (clones of the fork).
        #[arg(long, default_value = ".kseries-bot", value_name = "DIR")]
        workdir: PathBuf,
        /// A kseries.toml to use for every event, instead of the one in
        /// the repository.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Handle the one event of a GitHub Actions run (GITHUB_EVENT_PATH,
    /// GITHUB_TOKEN, GITHUB_REPOSITORY).
    Run {
        /// Where series are built (a clone of the fork).
        #[arg(long, default_value = ".kseries-bot", value_name = "DIR")]
        workdir: PathBuf,
        /// Push the series and open its pull request, and leave its checks
        /// to the workflow's matrix (templates/github/kseries.yml).
        #[arg(long)]
        checks_in_workflow: bool,
    },
    /// Print the Actions matrix of a series as one line of JSON: one job
    /// per commit, check and architecture (the workflow's plan job).
    Matrix {
        #[command(flatten)]
        tree: TreeArg,
        /// The commits, `BASE..HEAD`.
        #[arg(long, value_name = "BASE..HEAD")]
        range: String,
        /// The checks come from this kseries.toml (default: build and boot).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Collect the per-job results of the Actions matrix into check runs.
    Collect {
        /// The directory with the jobs' JSON results.
        #[arg(long, value_name = "DIR")]
        results: PathBuf,
        /// Where the bot keeps its state.
        #[arg(long, default_value = ".kseries-bot", value_name = "DIR")]
        workdir: PathBuf,
    },
}

#[derive(clap::Args)]
struct VerifyArgs {
    #[command(flatten)]
    tree: TreeArg,
    /// The commits to verify, `A..B` (or one commit); default: the series
    /// branch from its merge base with HEAD.
    #[arg(long, value_name = "A..B")]
    range: Option<String>,
    /// One commit, as a matrix job of the GitHub workflow verifies it
    /// (with --format job-json).
    #[arg(long, conflicts_with = "range", value_name = "SHA")]
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
    /// Where the checkout and the persistent build directories live.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Parallel make jobs.
    #[arg(long, default_value_t = 2, value_name = "N")]
    jobs: u32,
    /// Skip the x86_64 compile check of the touched files.
    #[arg(long)]
    no_compile_check: bool,
    /// Skip the cross-architecture compile checks.
    #[arg(long)]
    no_cross: bool,
    /// Skip building and booting the kernel in QEMU.
    #[arg(long)]
    no_boot: bool,
    /// Seconds before QEMU is stopped.
    #[arg(long, default_value_t = 180, value_name = "SECONDS")]
    timeout: u64,
    /// Each step's console and build logs go here.
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// A JUnit XML report.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Go on after the first failing commit.
    #[arg(long)]
    keep_going: bool,
    /// Output: a table, JSON, or one matrix job's result (job-json).
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
    /// A series directory (`0000-cover-letter.patch` ...) or an mbox.
    #[arg(value_name = "SERIES_DIR_OR_MBOX")]
    series: PathBuf,
    /// Also send every message To this address (repeatable; also
    /// sendemail.to).
    #[arg(long, value_name = "ADDR")]
    to: Vec<String>,
    /// Also Cc every message to this address (repeatable; also
    /// sendemail.cc).
    #[arg(long, value_name = "ADDR")]
    cc: Vec<String>,
    /// The sender (default: sendemail.from, else user.name <user.email>).
    #[arg(long, value_name = "ADDR")]
    from: Option<String>,
    /// Use the sendemail.NAME.* settings before the general sendemail.*
    /// ones (default: sendemail.identity).
    #[arg(long, value_name = "NAME")]
    identity: Option<String>,
    /// The first message replies to this Message-Id: send v2 as a reply to
    /// v1's cover letter.
    #[arg(long, value_name = "MESSAGE_ID")]
    in_reply_to: Option<String>,
    /// Do not Cc automatically: self, cc, bodycc, author, sob, misc-by,
    /// body or all (repeatable).
    #[arg(long, value_name = "CLASS")]
    suppress_cc: Vec<kseries::send::SuppressCc>,
    /// Print exactly what would be sent, envelope included (the default).
    #[arg(long)]
    dry_run: bool,
    /// Really send (without it, send is a dry run).
    #[arg(long)]
    no_dry_run: bool,
    /// Ask before sending, as git send-email does: always, never, cc
    /// (when a message has Cc recipients), compose or auto (default: the
    /// sendemail.confirm setting, else never).
    #[arg(long, value_name = "MODE")]
    confirm: Option<kseries::send::ConfirmMode>,
    /// Send every message to yourself only (headers unchanged, nothing
    /// recorded).
    #[arg(long)]
    reflect: bool,
    /// The SMTP server, or the absolute path of a sendmail-compatible
    /// program (default: sendemail.smtpServer).
    #[arg(long, value_name = "HOST_OR_PROGRAM")]
    smtp_server: Option<String>,
    /// The SMTP port (default: sendemail.smtpServerPort, else 25, or 465
    /// with --smtp-encryption ssl).
    #[arg(long, value_name = "PORT")]
    smtp_server_port: Option<u16>,
    /// tls (STARTTLS), ssl (implicit TLS) or none.
    #[arg(long, value_name = "MODE")]
    smtp_encryption: Option<kseries::send::Encryption>,
    /// The SMTP login (default: sendemail.smtpUser); the password comes
    /// from KSERIES_SMTP_PASS, sendemail.smtpPass or `git credential`.
    #[arg(long, value_name = "USER")]
    smtp_user: Option<String>,
    /// A PEM file with the CA that signed the server's certificate.
    #[arg(long, value_name = "FILE")]
    smtp_ca: Option<PathBuf>,
    /// A sendmail-compatible command, run by the shell with the message on
    /// stdin, instead of SMTP (default: sendemail.sendmailCmd).
    #[arg(long, value_name = "COMMAND")]
    sendmail_cmd: Option<String>,
    /// Reconnect after this many messages.
    #[arg(long, value_name = "N")]
    batch_size: Option<usize>,
    /// Seconds to wait before reconnecting.
    #[arg(long, value_name = "SECONDS")]
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

#[derive(clap::Args)]
struct SeriesArgs {
    #[command(flatten)]
    tree: TreeArg,
    /// The plan (JSON, as `rewrite --format json` prints it); without it,
    /// the tree is scanned and the plan computed now.
    #[arg(long, value_name = "FILE")]
    plan: Option<PathBuf>,
    /// With no --plan: cut a series even when sites were left for review.
    #[arg(long)]
    allow_partial: bool,
    /// The branch to create on top of HEAD.
    #[arg(long, default_value = kseries::series::DEFAULT_BRANCH)]
    branch: String,
    /// Replace the branch (and same-version patches in --output-dir).
    #[arg(long)]
    force: bool,
    /// Write the patches here, as git format-patch names them.
    #[arg(short = 'o', long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Also write every message, cover letter first, to this mbox.
    #[arg(long, value_name = "FILE")]
    mbox: Option<PathBuf>,
    /// The version of the series: `[PATCH vN ...]` from 2 on.
    #[arg(
        short = 'v',
        long = "reroll-count",
        default_value_t = 1,
        value_name = "N"
    )]
    reroll_count: u32,
    /// The branch of the previous version, for "Changes since" and the
    /// range-diff.
    #[arg(long, value_name = "BRANCH")]
    previous_branch: Option<String>,
    /// An item of "Changes since vN-1" (repeatable).
    #[arg(long = "change", value_name = "TEXT")]
    changes: Vec<String>,
    /// `[RFC PATCH ...]`: ask for comments, not for merging.
    #[arg(long)]
    rfc: bool,
    /// The subject prefix instead of PATCH (e.g. "PATCH mm-unstable").
    #[arg(long, default_value = "PATCH", value_name = "PREFIX")]
    subject_prefix: String,
    /// The cover letter's subject (default: the first line of your cover
    /// letter, else the recipe's title).
    #[arg(long)]
    title: Option<String>,
    /// The cover letter from this file (subject line, blank line, text);
    /// it is kept as the branch description.  Without it, an edited
    /// branch description (`git branch --edit-description BRANCH`) is
    /// used.
    #[arg(long, value_name = "FILE")]
    cover_letter: Option<PathBuf>,
    /// Also send every patch To this address (repeatable).
    #[arg(long, value_name = "ADDR")]
    to: Vec<String>,
    /// Also Cc every patch to this address (repeatable).
    #[arg(long, value_name = "ADDR")]
    cc: Vec<String>,
    /// Run `COMMAND PATCH` in the tree for every patch; each line it
    /// prints is a To address (git send-email's --to-cmd).
    #[arg(long, value_name = "COMMAND")]
    to_cmd: Option<String>,
    /// The same for Cc (git send-email's --cc-cmd).
    #[arg(long, value_name = "COMMAND")]
    cc_cmd: Option<String>,
    /// Who picks the maintainers and lists: auto (the tree's
    /// scripts/get_maintainer.pl, else MAINTAINERS), script, native (the
    /// built-in MAINTAINERS parser, much faster) or none.
    #[arg(long, value_enum, default_value_t = Maintainers::Auto, value_name = "SOURCE")]
    maintainers: Maintainers,
    /// Also name each patch's maintainers in `Cc:` trailers of its commit
    /// message (by default they are only in the mail headers).
    #[arg(long)]
    cc_trailers: bool,
    /// A Reviewed-by trailer for every patch (repeatable).
    #[arg(long, value_name = "NAME <ADDR>")]
    reviewed_by: Vec<String>,
    /// An Acked-by trailer for every patch (repeatable).
    #[arg(long, value_name = "NAME <ADDR>")]
    acked_by: Vec<String>,
    /// What earlier stages verified (JSON `{"items":[{"tool","outcome"}]}`).
    #[arg(long, value_name = "FILE")]
    verification: Option<PathBuf>,
    /// Run the tree's scripts/checkpatch.pl --strict on every patch and
    /// report its findings (exit 1 on errors or warnings).
    #[arg(long)]
    check: bool,
    /// Compile every commit for the files it touches; stop at the first
    /// that fails.
    #[arg(long)]
    check_build: bool,
    /// Build directory for --check-build (default: verify's, per tree).
    #[arg(long, value_name = "DIR")]
    build_dir: Option<PathBuf>,
    /// Output: a summary for people, or the report as JSON.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Maintainers {
    Auto,
    Script,
    Native,
    None,
}

impl Maintainers {
    fn source(self) -> kseries::series::MaintainerSource {
        use kseries::series::MaintainerSource as S;
        match self {
            Maintainers::Auto => S::Auto,
            Maintainers::Script => S::Script,
            Maintainers::Native => S::Native,
            Maintainers::None => S::None,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// Where output goes: stdout, with colours only when they can be seen.
type Out = anstream::AutoStream<std::io::Stdout>;

fn stdout() -> Out {
    anstream::AutoStream::auto(std::io::stdout())
}

/// Styles of the human output.
mod style {
    use anstyle::{AnsiColor, Style};
    pub const ERROR: Style = AnsiColor::Red.on_default().bold();
    pub const WARNING: Style = AnsiColor::Yellow.on_default().bold();
    pub const GOOD: Style = AnsiColor::Green.on_default();
    pub const NOTE: Style = AnsiColor::Cyan.on_default();
    pub const BOLD: Style = Style::new().bold();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    anstream::ColorChoice::write_global(match cli.color {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    });
    match run(cli) {
        Ok(code) => code,
        // A reader that went away (`kseries scan | head`) is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let mut err = anstream::stderr();
            let _ = writeln!(
                err,
                "kseries: {}error:{} {}",
                style::ERROR.render(),
                style::ERROR.render_reset(),
                error_report(&e)
            );
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes, each once: many library errors already say
/// their source in their own message (`{path}: {source}`), so a cause is
/// added only when the text so far does not contain it.  libgit2's
/// class and code numbers are left out: they help nobody.
fn error_report(e: &anyhow::Error) -> String {
    let mut report = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = match cause.downcast_ref::<git2::Error>() {
            Some(g) => g.message().to_string(),
            None => cause.to_string(),
        };
        if !report.contains(&cause) {
            report.push_str(": ");
            report.push_str(&cause);
        }
    }
    report
}

fn warn(text: &str) {
    let mut err = anstream::stderr();
    let _ = writeln!(
        err,
        "kseries: {}warning:{} {text}",
        style::WARNING.render(),
        style::WARNING.render_reset()
    );
}

fn recipe(id: &str) -> anyhow::Result<kseries::recipe::Recipe> {
    kseries::recipe::by_id(id).with_context(|| {
        let known: Vec<_> = kseries::recipe::all().iter().map(|r| r.id).collect();
        format!("unknown recipe `{id}` (known: {})", known.join(", "))
    })
}

/// A scan that found no C source at all was given the wrong directory.
fn scan_tree(
    tree: &Path,
    recipe: &kseries::recipe::Recipe,
) -> anyhow::Result<kseries::scan::ScanReport> {
    let report = kseries::scan::scan(tree, recipe)?;
    anyhow::ensure!(
        report.summary.files_walked > 0,
        "no kernel source in {}: it holds no C files (*.c, *.h); give the top of a kernel tree",
        tree.display()
    );
    Ok(report)
}

/// The subcommands that make or read commits need a git repository.
fn require_git_repo(tree: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        tree.exists(),
        "{}: no such file or directory",
        tree.display()
    );
    if git2::Repository::open(tree).is_err() {
        anyhow::bail!(
            "not a git repository: {} (give the top of a kernel git tree, or make one there with \
             `git init && git add -A && git commit -m base`)",
            tree.display()
        );
    }
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut out = stdout();
    match cli.command {
        Command::Scan {
            tree,
            format,
            recipe: id,
        } => {
            let recipe = recipe(&id)?;
            let report = scan_tree(tree.path(), &recipe)?;
            match format {
                Format::Table => write!(out, "{}", kseries::scan::render_table(&report))?,
                Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Series(a) => run_series(*a, &mut out),
        Command::Rewrite {
            tree,
            format,
            apply,
            allow_partial,
            recipe: id,
        } => {
            let path = tree.path();
            let recipe = recipe(&id)?;
            // A subdirectory is planned as part of its whole work tree.
            let scope = kseries::rewrite::Scope::of(path)?;
            let top = &scope.top;
            let report = scan_tree(top, &recipe)?;
            let plan = kseries::rewrite::plan(top, &report, &recipe)?;
            let (plan, left_out) = scope.restrict(plan);
            if let Some(within) = &scope.within {
                eprintln!(
                    "kseries: {within} is part of the work tree {}: planned the whole tree, kept {} inside {within}",
                    top.display(),
                    kseries::words::count(plan.units.len(), "change unit", "change units")
                );
            }
            for r in &left_out {
                eprintln!("kseries: note: {r}");
            }
            let outcome = kseries::rewrite::outcome(top, &plan)?;
            match format {
                PlanFormat::Diff => out.write_all(&kseries::rewrite::unified_diff(&outcome))?,
                PlanFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&plan)?)?,
            }
            if apply {
                let applied = kseries::rewrite::apply(top, &outcome)?;
                for f in &applied.removed_leftovers {
                    eprintln!("kseries: removed {f}, left by an interrupted --apply");
                }
                eprintln!(
                    "kseries: wrote {} in {}",
                    kseries::words::count(outcome.len(), "file", "files"),
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
                    "kseries: {} left for review (untouched); --allow-partial accepts a partial rewrite",
                    kseries::words::count(review.len(), "site", "sites")
                );
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Send(a) => {
            let a = *a;
            let opts = kseries::send::SendOptions {
                series: a.series,
                to: a.to,
                cc: a.cc,
                from: a.from,
                suppress_cc: a.suppress_cc,
                dry_run: a.dry_run,
                send: a.no_dry_run,
                confirm: a.confirm,
                identity: a.identity,
                in_reply_to: a.in_reply_to,
                sendmail_cmd: a.sendmail_cmd,
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
            let report = kseries::send::send(&opts, &mut out)?;
            eprintln!(
                "kseries: {} sent, {} already sent before (state in {})",
                report.sent.len(),
                report.skipped.len(),
                report.state_path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Trailers {
            tree,
            branch,
            replies,
            base,
            series,
            dry_run,
        } => {
            require_git_repo(tree.path())?;
            let opts = kseries::trailers::TrailersOptions {
                repo: tree.path().to_path_buf(),
                branch,
                base,
                replies,
                series,
                dry_run,
            };
            let report = kseries::trailers::trailers(&opts, &mut out)?;
            if !report.malformed.is_empty() {
                warn(&format!(
                    "{} reported above",
                    kseries::words::count(
                        report.malformed.len(),
                        "malformed trailer line",
                        "malformed trailer lines"
                    )
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bot(cmd) => run_bot(cmd, &mut out),
        Command::Verify(a) => run_verify(*a, &mut out),
        Command::Check {
            tree,
            format,
            recipe: id,
        } => {
            let recipe = recipe(&id)?;
            let report = kseries::check::check(tree.path(), &recipe)?;
            anyhow::ensure!(
                report.summary.files_walked > 0,
                "no kernel source in {}: it holds no C files (*.c, *.h); give the top of a kernel tree",
                tree.path().display()
            );
            match format {
                CheckFormat::Text => {
                    write!(
                        out,
                        "{}",
                        colour_diagnostics(&kseries::check::render_text(&report))
                    )?;
                }
                CheckFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
                CheckFormat::Sarif => writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&kseries::check::sarif::to_sarif(&report))?
                )?,
            }
            Ok(if report.has_errors() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "kseries", &mut out);
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir } => {
            let cmd = Cli::command();
            match dir {
                Some(dir) => {
                    std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
                    clap_mangen::generate_to(cmd, &dir)
                        .with_context(|| dir.display().to_string())?;
                    eprintln!("kseries: wrote the manual pages in {}", dir.display());
                }
                None => {
                    let mut page = Vec::new();
                    clap_mangen::Man::new(cmd).render(&mut page)?;
                    // Plain roff: never touched by colour handling.
                    std::io::stdout().write_all(&page)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `file:line:col: error[E2]: ...`: the severity in its colour.
fn colour_diagnostics(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let styled = [
            (": error[", style::ERROR),
            (": warning[", style::WARNING),
            (": note[", style::NOTE),
        ]
        .into_iter()
        .find_map(|(tag, st)| {
            let at = line.find(tag)?;
            let word = &tag[2..tag.len() - 1];
            Some(format!(
                "{}: {}{word}{}{}",
                &line[..at],
                st.render(),
                st.render_reset(),
                &line[at + tag.len() - 1..]
            ))
        });
        s.push_str(styled.as_deref().unwrap_or(line));
    }
    s
}

fn run_series(a: SeriesArgs, out: &mut Out) -> anyhow::Result<ExitCode> {
    use kseries::series;
    let tree = a.tree.path().to_path_buf();
    require_git_repo(&tree)?;
    let read = |p: &PathBuf| std::fs::read_to_string(p).with_context(|| p.display().to_string());
    let (plan, mut verification) = match &a.plan {
        Some(p) => {
            let plan: kseries::rewrite::Plan = serde_json::from_str(&read(p)?)
                .with_context(|| format!("{}: not a plan", p.display()))?;
            (plan, series::Verification::default())
        }
        None => plan_now(&tree, a.allow_partial)?,
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
        title: a.title,
        cover_letter: a.cover_letter,
        subject_prefix: a.subject_prefix,
        rfc: a.rfc,
        to: a.to,
        cc: a.cc,
        to_cmd: a.to_cmd,
        cc_cmd: a.cc_cmd,
        maintainers: a.maintainers.source(),
        cc_trailers: a.cc_trailers,
        checkpatch: a.check,
        ..series::SeriesOptions::default()
    };
    let report = series::make_series(&tree, &plan, &opts, &verification, checker)?;
    let unclean = report
        .patches
        .iter()
        .filter(|p| p.checkpatch.as_ref().is_some_and(|c| !c.clean()))
        .count();
    match a.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Format::Table => series_summary(&report, &opts, out)?,
    }
    Ok(if unclean > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// What `series` made, where it is, and what to look at.
fn series_summary(
    report: &kseries::series::SeriesReport,
    opts: &kseries::series::SeriesOptions,
    out: &mut Out,
) -> anyhow::Result<()> {
    use kseries::words::count;
    let (b, r) = (style::BOLD.render(), style::BOLD.render_reset());
    writeln!(
        out,
        "{b}{}{r}: {}, {}..{}",
        report.branch,
        count(report.patches.len(), "patch", "patches"),
        &report.base[..12],
        &report.tip[..12]
    )?;
    writeln!(out, "  {}", report.cover.subject)?;
    for p in &report.patches {
        let check = match &p.checkpatch {
            Some(c) if c.clean() && c.checks == 0 => {
                format!(
                    "  {}checkpatch clean{}",
                    style::GOOD.render(),
                    style::GOOD.render_reset()
                )
            }
            Some(c) => {
                let st = if c.clean() {
                    style::NOTE
                } else {
                    style::WARNING
                };
                format!(
                    "  {}checkpatch: {}, {}, {}{}",
                    st.render(),
                    count(c.errors, "error", "errors"),
                    count(c.warnings, "warning", "warnings"),
                    count(c.checks, "check", "checks"),
                    st.render_reset()
                )
            }
            None => String::new(),
        };
        writeln!(
            out,
            "{:3} {} {}{check}",
            p.number,
            &p.commit[..12],
            p.subject
        )?;
    }
    for p in &report.patches {
        if let Some(c) = &p.checkpatch {
            for f in &c.findings {
                writeln!(out, "\npatch {}: {f}", p.number)?;
            }
        }
    }
    writeln!(out, "Recipients from {}.", report.maintainers)?;
    for p in report.patches.iter().filter(|p| p.lists_only) {
        writeln!(
            out,
            "{}Note:{} patch {} goes to mailing lists only ({}): MAINTAINERS names no maintainer \
             or reviewer for it; add --to if you know who should review it.",
            style::NOTE.render(),
            style::NOTE.render_reset(),
            p.number,
            p.to.iter()
                .chain(&p.cc)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    for w in &report.warnings {
        warn(w);
    }
    match (&report.output_dir, &report.mbox) {
        (None, None) => writeln!(
            out,
            "No files written (give -o DIR or --mbox FILE); the commits are on {}.",
            report.branch
        )?,
        (dir, mbox) => {
            if let Some(d) = dir {
                writeln!(
                    out,
                    "Wrote {} to {}",
                    count(report.patches.len() + 1, "file", "files"),
                    d.display()
                )?;
            }
            if let Some(m) = mbox {
                writeln!(out, "Wrote the mbox {}", m.display())?;
            }
        }
    }
    let cover = match report.cover.source {
        kseries::series::CoverSource::Generated => format!(
            "The cover letter is kseries' own; edit it with `git branch --edit-description {}` and run series again.",
            opts.branch
        ),
        kseries::series::CoverSource::BranchDescription => {
            format!(
                "The cover letter is your branch description of {}.",
                opts.branch
            )
        }
        kseries::series::CoverSource::File => {
            "The cover letter is your file (kept as the branch description).".to_string()
        }
    };
    writeln!(out, "{cover}")?;
    Ok(())
}

/// Scan and plan the tree for `series` when no plan file is given, and
/// say what was verified on the way.
fn plan_now(
    tree: &Path,
    allow_partial: bool,
) -> anyhow::Result<(kseries::rewrite::Plan, kseries::series::Verification)> {
    use kseries::words::count;
    let recipe = recipe("invalidate-page")?;
    let report = scan_tree(tree, &recipe)?;
    let plan = kseries::rewrite::plan(tree, &report, &recipe)?;
    let review = needs_review(&report, &plan);
    if !review.is_empty() && !allow_partial {
        anyhow::bail!(
            "{} left for review, so the series would be partial:\n{}\n(--allow-partial cuts it anyway)",
            count(review.len(), "site is", "sites are"),
            review.join("\n")
        );
    }
    let s = &report.summary;
    let mut v = kseries::series::Verification::default();
    v.items.push(kseries::series::VerificationItem {
        tool: "kseries scan".into(),
        outcome: if s.accounted {
            format!(
                "each of the {} of {} is accounted for",
                count(s.occurrences, "occurrence", "occurrences"),
                recipe.needle,
            )
        } else {
            format!(
                "{} of {} in the tree; NOT all accounted for",
                count(s.occurrences, "occurrence", "occurrences"),
                recipe.needle
            )
        },
    });
    v.items.push(kseries::series::VerificationItem {
        tool: "kseries rewrite".into(),
        outcome: if review.is_empty() {
            "every use of the API is converted, none left for review".to_string()
        } else {
            format!(
                "{} left for review (listed below)",
                count(review.len(), "use is", "uses are")
            )
        },
    });
    Ok((plan, v))
}

fn run_verify(a: VerifyArgs, out: &mut Out) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let repo = a.tree.path().to_path_buf();
    require_git_repo(&repo)?;
    let range = match a.range.or(a.commit) {
        Some(r) => r,
        None => {
            let o = std::process::Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args(["merge-base", "HEAD"])
                // A full ref name: a branch can never be taken for an option.
                .arg(format!(
                    "refs/heads/{}",
                    a.branch.trim_start_matches("refs/heads/")
                ))
                .output()?;
            anyhow::ensure!(
                o.status.success(),
                "cannot find where {} forks from HEAD: {} (give --range A..B)",
                a.branch,
                String::from_utf8_lossy(&o.stderr).trim()
            );
            format!(
                "{}..{}",
                String::from_utf8_lossy(&o.stdout).trim(),
                a.branch
            )
        }
    };
    let mut opts = kseries::verify::VerifyOptions::new(&repo, range);
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
        VerifyFormat::Table => write!(out, "{}", kseries::verify::render_table(&report))?,
        VerifyFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        VerifyFormat::JobJson => {
            let step = report.steps.first().context("no commit was verified")?;
            let job = kseries::bot::checks::job_result(step, check.kind(), &a.arch);
            writeln!(out, "{}", serde_json::to_string_pretty(&job)?)?;
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

fn run_bot(cmd: BotCommand, out: &mut Out) -> anyhow::Result<ExitCode> {
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
            writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        }
        BotCommand::Matrix {
            tree,
            range,
            config,
        } => {
            require_git_repo(tree.path())?;
            let checks = match &config {
                Some(path) => kseries::bot::config::Config::load(path)?.checks,
                None => kseries::bot::checks::CheckKind::ALL.to_vec(),
            };
            let matrix = kseries::bot::matrix::plan(tree.path(), &range, &checks)?;
            writeln!(out, "{}", serde_json::to_string(&matrix)?)?;
        }
        BotCommand::Collect { results, workdir } => {
            let opts = CollectOptions::from_env(results)?;
            let report = rt.block_on(kseries::bot::collect_once(opts, runner(workdir)))?;
            writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every flag and positional of every subcommand says what it is for.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if a.is_hide_set() || id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {} (no about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "kseries", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:#?}");
        Cli::command().debug_assert();
    }

    #[test]
    fn diagnostics_are_coloured_by_severity() {
        let text = "a.c:1:2: error[E2]: x\na.c:3:4: warning[W1]: y\nsummary\n";
        let coloured = colour_diagnostics(text);
        assert!(
            coloured.contains("\u{1b}[1m\u{1b}[31merror"),
            "{coloured:?}"
        );
        assert_eq!(anstream::adapter::strip_str(&coloured).to_string(), text);
    }
}
