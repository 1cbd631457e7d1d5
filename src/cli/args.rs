//! The command line's arguments: clap definitions only (the help text of
//! every flag, completions and manual pages come from here).

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

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
pub struct Cli {
    /// When to colour the output: auto (only on a terminal, and not with
    /// NO_COLOR set), always or never.
    #[arg(long, value_enum, global = true, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// The kernel tree every subcommand works on.
#[derive(clap::Args)]
pub struct TreeArg {
    /// The kernel tree: the top of its source (a git repository for the
    /// subcommands that make or read commits).
    #[arg(value_name = "TREE", default_value = ".")]
    pub tree: PathBuf,
    /// The same as TREE (older spelling).
    #[arg(
        long = "repo",
        value_name = "TREE",
        hide = true,
        conflicts_with = "tree"
    )]
    pub repo: Option<PathBuf>,
}

impl TreeArg {
    pub fn path(&self) -> &Path {
        self.repo.as_deref().unwrap_or(&self.tree)
    }
}

/// The migration a subcommand works on.
#[derive(clap::Args)]
pub struct RecipeArg {
    /// The migration recipe (`kseries recipes` lists them; default:
    /// invalidate-page, or the plan's own with --plan).
    #[arg(long, value_name = "ID")]
    pub recipe: Option<String>,
}

impl RecipeArg {
    /// The recipe id given, else the default one.
    pub fn id(&self) -> &str {
        self.recipe.as_deref().unwrap_or(kseries::recipe::DEFAULT)
    }

    /// The series branch to use: the one given, else the recipe's default.
    pub fn branch(&self, given: &Option<String>) -> String {
        given
            .clone()
            .unwrap_or_else(|| kseries::series::default_branch(self.id()))
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// List the migration recipes, a line each.
    Recipes,
    /// Find every use of the old API by C meaning and account for every
    /// textual occurrence.
    Scan {
        #[command(flatten)]
        tree: TreeArg,
        /// Output: a table for people, or JSON (schema in README.md).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[command(flatten)]
        recipe: RecipeArg,
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
        #[command(flatten)]
        recipe: RecipeArg,
    },
    /// Lint notifier semantics: removed API (E1), unpaired brackets (E2),
    /// invalidate_range in place of a bracket (E3), page counts as lengths
    /// (E4), unaligned huge ranges (E5), a half-converted tree (E6: code of
    /// the other generation of the bracket API than the tree's header),
    /// sleeping atomic callbacks (W1), accessed-bit tests inside a bracket
    /// (W2), what could not be decided (N1).  Exit 1 when there are errors.
    Check {
        #[command(flatten)]
        tree: TreeArg,
        /// Output: compiler-style text, JSON, or SARIF 2.1.0 for code
        /// scanning.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
        #[command(flatten)]
        recipe: RecipeArg,
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
        /// The series branch to rewrite (default: kseries/RECIPE).
        #[arg(long)]
        branch: Option<String>,
        #[command(flatten)]
        recipe: RecipeArg,
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
pub enum BotCommand {
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
pub struct VerifyArgs {
    #[command(flatten)]
    pub tree: TreeArg,
    /// The commits to verify, `A..B` (or one commit); default: the series
    /// branch from its merge base with HEAD.
    #[arg(long, value_name = "A..B")]
    pub range: Option<String>,
    /// One commit, as a matrix job of the GitHub workflow verifies it
    /// (with --format job-json).
    #[arg(long, conflicts_with = "range", value_name = "SHA")]
    pub commit: Option<String>,
    /// With --format job-json: the architecture the job reports on
    /// (x86_64, or a cross architecture: arm, arm64, powerpc, mips).
    #[arg(long, default_value = "x86_64")]
    pub arch: String,
    /// With --format job-json: the check the job runs (boot: x86_64 only).
    #[arg(long, value_enum)]
    pub check: Option<JobCheck>,
    /// The series branch, when no --range is given (default:
    /// kseries/RECIPE).
    #[arg(long)]
    pub branch: Option<String>,
    #[command(flatten)]
    pub recipe: RecipeArg,
    /// Where the checkout and the persistent build directories live.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Parallel make jobs.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub jobs: u32,
    /// Skip the x86_64 compile check of the touched files.
    #[arg(long)]
    pub no_compile_check: bool,
    /// Skip the cross-architecture compile checks.
    #[arg(long)]
    pub no_cross: bool,
    /// Skip building and booting the kernel in QEMU.
    #[arg(long)]
    pub no_boot: bool,
    /// Seconds before QEMU is stopped.
    #[arg(long, default_value_t = 180, value_name = "SECONDS")]
    pub timeout: u64,
    /// Each step's console and build logs go here.
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// A JUnit XML report.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Go on after the first failing commit.
    #[arg(long)]
    pub keep_going: bool,
    /// Output: a table, JSON, or one matrix job's result (job-json).
    #[arg(long, value_enum, default_value_t = VerifyFormat::Table)]
    pub format: VerifyFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JobCheck {
    /// Compile the touched files for --arch.
    Build,
    /// Build and boot the kernel with the auditor.
    Boot,
}

impl JobCheck {
    pub fn kind(self) -> kseries::bot::check_runs::CheckKind {
        match self {
            JobCheck::Build => kseries::bot::check_runs::CheckKind::Build,
            JobCheck::Boot => kseries::bot::check_runs::CheckKind::Boot,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    Table,
    Json,
    /// One build result for the bot's collector (no boot).
    JobJson,
}

#[derive(clap::Args)]
pub struct SendArgs {
    /// A series directory (`0000-cover-letter.patch` ...) or an mbox.
    #[arg(value_name = "SERIES_DIR_OR_MBOX")]
    pub series: PathBuf,
    /// Also send every message To this address (repeatable; also
    /// sendemail.to).
    #[arg(long, value_name = "ADDR")]
    pub to: Vec<String>,
    /// Also Cc every message to this address (repeatable; also
    /// sendemail.cc).
    #[arg(long, value_name = "ADDR")]
    pub cc: Vec<String>,
    /// The sender (default: sendemail.from, else user.name <user.email>).
    #[arg(long, value_name = "ADDR")]
    pub from: Option<String>,
    /// Use the sendemail.NAME.* settings before the general sendemail.*
    /// ones (default: sendemail.identity).
    #[arg(long, value_name = "NAME")]
    pub identity: Option<String>,
    /// The first message replies to this Message-Id: send v2 as a reply to
    /// v1's cover letter.
    #[arg(long, value_name = "MESSAGE_ID")]
    pub in_reply_to: Option<String>,
    /// Do not Cc automatically: self, cc, bodycc, author, sob, misc-by,
    /// body or all (repeatable).
    #[arg(long, value_name = "CLASS")]
    pub suppress_cc: Vec<kseries::send::SuppressCc>,
    /// Print exactly what would be sent, envelope included (the default).
    #[arg(long)]
    pub dry_run: bool,
    /// Really send (without it, send is a dry run).
    #[arg(long)]
    pub no_dry_run: bool,
    /// Ask before sending, as git send-email does: always, never, cc
    /// (when a message has Cc recipients), compose or auto (default: the
    /// sendemail.confirm setting, else never).
    #[arg(long, value_name = "MODE")]
    pub confirm: Option<kseries::send::ConfirmMode>,
    /// Send every message to yourself only (headers unchanged, nothing
    /// recorded).
    #[arg(long)]
    pub reflect: bool,
    /// The SMTP server, or the absolute path of a sendmail-compatible
    /// program (default: sendemail.smtpServer).
    #[arg(long, value_name = "HOST_OR_PROGRAM")]
    pub smtp_server: Option<String>,
    /// The SMTP port (default: sendemail.smtpServerPort, else 25, or 465
    /// with --smtp-encryption ssl).
    #[arg(long, value_name = "PORT")]
    pub smtp_server_port: Option<u16>,
    /// tls (STARTTLS), ssl (implicit TLS) or none.
    #[arg(long, value_name = "MODE")]
    pub smtp_encryption: Option<kseries::send::Encryption>,
    /// The SMTP login (default: sendemail.smtpUser); the password comes
    /// from KSERIES_SMTP_PASS, sendemail.smtpPass or `git credential`.
    #[arg(long, value_name = "USER")]
    pub smtp_user: Option<String>,
    /// A PEM file with the CA that signed the server's certificate.
    #[arg(long, value_name = "FILE")]
    pub smtp_ca: Option<PathBuf>,
    /// A sendmail-compatible command, run by the shell with the message on
    /// stdin, instead of SMTP (default: sendemail.sendmailCmd).
    #[arg(long, value_name = "COMMAND")]
    pub sendmail_cmd: Option<String>,
    /// Reconnect after this many messages.
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Seconds to wait before reconnecting.
    #[arg(long, value_name = "SECONDS")]
    pub relogin_delay: Option<u64>,
    /// Send a cover letter that still has the *** SUBJECT HERE *** blurb.
    #[arg(long)]
    pub force: bool,
    /// Show the SMTP conversation (never the password).
    #[arg(long)]
    pub verbose: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    /// The unified diff of the whole migration.
    Diff,
    /// The plan: change units with their edits and rationale.
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    Sarif,
}

#[derive(clap::Args)]
pub struct SeriesArgs {
    #[command(flatten)]
    pub tree: TreeArg,
    /// The plan (JSON, as `rewrite --format json` prints it); without it,
    /// the tree is scanned and the plan computed now.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// With no --plan: cut a series even when sites were left for review.
    #[arg(long)]
    pub allow_partial: bool,
    /// The branch to create on top of HEAD (default: kseries/RECIPE).
    #[arg(long)]
    pub branch: Option<String>,
    #[command(flatten)]
    pub recipe: RecipeArg,
    /// Replace the branch (and same-version patches in --output-dir).
    #[arg(long)]
    pub force: bool,
    /// Write the patches here, as git format-patch names them.
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Also write every message, cover letter first, to this mbox.
    #[arg(long, value_name = "FILE")]
    pub mbox: Option<PathBuf>,
    /// The version of the series: `[PATCH vN ...]` from 2 on.
    #[arg(
        short = 'v',
        long = "reroll-count",
        default_value_t = 1,
        value_name = "N"
    )]
    pub reroll_count: u32,
    /// The branch of the previous version, for "Changes since" and the
    /// range-diff.
    #[arg(long, value_name = "BRANCH")]
    pub previous_branch: Option<String>,
    /// An item of "Changes since vN-1" (repeatable).
    #[arg(long = "change", value_name = "TEXT")]
    pub changes: Vec<String>,
    /// `[RFC PATCH ...]`: ask for comments, not for merging.
    #[arg(long)]
    pub rfc: bool,
    /// The subject prefix instead of PATCH (e.g. "PATCH mm-unstable").
    #[arg(long, default_value = "PATCH", value_name = "PREFIX")]
    pub subject_prefix: String,
    /// The cover letter's subject (default: the first line of your cover
    /// letter, else the recipe's title).
    #[arg(long)]
    pub title: Option<String>,
    /// The cover letter from this file (subject line, blank line, text);
    /// it is kept as the branch description.  Without it, an edited
    /// branch description (`git branch --edit-description BRANCH`) is
    /// used.
    #[arg(long, value_name = "FILE")]
    pub cover_letter: Option<PathBuf>,
    /// Also send every patch To this address (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub to: Vec<String>,
    /// Also Cc every patch to this address (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub cc: Vec<String>,
    /// Run `COMMAND PATCH` in the tree for every patch; each line it
    /// prints is a To address (git send-email's --to-cmd).
    #[arg(long, value_name = "COMMAND")]
    pub to_cmd: Option<String>,
    /// The same for Cc (git send-email's --cc-cmd).
    #[arg(long, value_name = "COMMAND")]
    pub cc_cmd: Option<String>,
    /// Who picks the maintainers and lists: auto (the tree's
    /// scripts/get_maintainer.pl, else MAINTAINERS), script, native (the
    /// built-in MAINTAINERS parser, much faster) or none.
    #[arg(long, value_enum, default_value_t = Maintainers::Auto, value_name = "SOURCE")]
    pub maintainers: Maintainers,
    /// Also name each patch's maintainers in `Cc:` trailers of its commit
    /// message (by default they are only in the mail headers).
    #[arg(long)]
    pub cc_trailers: bool,
    /// A Reviewed-by trailer for every patch (repeatable).
    #[arg(long, value_name = "NAME <ADDR>")]
    pub reviewed_by: Vec<String>,
    /// An Acked-by trailer for every patch (repeatable).
    #[arg(long, value_name = "NAME <ADDR>")]
    pub acked_by: Vec<String>,
    /// What earlier stages verified (JSON `{"items":[{"tool","outcome"}]}`).
    #[arg(long, value_name = "FILE")]
    pub verification: Option<PathBuf>,
    /// Run the tree's scripts/checkpatch.pl --strict on every patch and
    /// report its findings (exit 1 on errors or warnings).
    #[arg(long)]
    pub check: bool,
    /// Compile every commit for the files it touches; stop at the first
    /// that fails.
    #[arg(long)]
    pub check_build: bool,
    /// Build directory for --check-build (default: verify's, per tree).
    #[arg(long, value_name = "DIR")]
    pub build_dir: Option<PathBuf>,
    /// Output: a summary for people, or the report as JSON.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Maintainers {
    Auto,
    Script,
    Native,
    None,
}

impl Maintainers {
    pub fn source(self) -> kseries::series::MaintainerSource {
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
pub enum Format {
    Table,
    Json,
}
