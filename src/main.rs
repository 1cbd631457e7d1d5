//! The `kseries` command line: argument parsing (`cli::args`), dispatch
//! to one library call per subcommand, and printing (`cli::print`); the
//! work happens in the library, like b4's `command.py`.

mod cli;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};

use cli::args::{
    BotCommand, CheckFormat, Cli, ColorWhen, Command, Format, JobCheck, PlanFormat, SendArgs,
    SeriesArgs, TreeArg, VerifyArgs, VerifyFormat,
};
use cli::print::{
    Out, colour_diagnostics, error_report, is_broken_pipe, series_summary, stdout, style, warn,
};

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

fn recipe(id: &str) -> anyhow::Result<kseries::recipe::Recipe> {
    kseries::recipe::by_id(id).with_context(|| {
        let known: Vec<_> = kseries::recipe::all().iter().map(|r| r.id).collect();
        format!("unknown recipe `{id}` (known: {})", known.join(", "))
    })
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
    let out = &mut out;
    match cli.command {
        Command::Recipes => run_recipes(out),
        Command::Scan {
            tree,
            format,
            recipe,
        } => run_scan(tree, format, recipe.id(), out),
        Command::Rewrite {
            tree,
            format,
            apply,
            allow_partial,
            recipe,
        } => run_rewrite(tree, format, apply, allow_partial, recipe.id(), out),
        Command::Check {
            tree,
            format,
            recipe,
        } => run_check(tree, format, recipe.id(), out),
        Command::Series(a) => run_series(*a, out),
        Command::Verify(a) => run_verify(*a, out),
        Command::Send(a) => run_send(*a, out),
        Command::Trailers {
            tree,
            branch,
            replies,
            base,
            series,
            dry_run,
            recipe: r,
        } => {
            recipe(r.id())?;
            let opts = kseries::trailers::TrailersOptions {
                repo: tree.path().to_path_buf(),
                branch: r.branch(&branch),
                base,
                replies,
                series,
                dry_run,
            };
            run_trailers(tree, opts, out)
        }
        Command::Bot(cmd) => run_bot(cmd, out),
        Command::Completions { shell } => run_completions(shell, out),
        Command::Man { dir } => run_man(dir),
    }
}

/// `kseries recipes`: one line each, id and what it migrates.
fn run_recipes(out: &mut Out) -> anyhow::Result<ExitCode> {
    for r in kseries::recipe::all() {
        let stages: Vec<&str> = r.stages.iter().map(|s| s.name).collect();
        writeln!(
            out,
            "{:<16} {} (stages: {})",
            r.id,
            r.messages.what,
            stages.join(", ")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `kseries scan`.
fn run_scan(tree: TreeArg, format: Format, id: &str, out: &mut Out) -> anyhow::Result<ExitCode> {
    let recipe = recipe(id)?;
    let report = kseries::pipeline::scan_tree(tree.path(), &recipe)?;
    match format {
        Format::Table => write!(out, "{}", kseries::scan::render_table(&report))?,
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `kseries rewrite`: the whole work tree planned, kept to PATH, printed
/// and maybe applied; exit 1 while uses wait for review.
fn run_rewrite(
    tree: TreeArg,
    format: PlanFormat,
    apply: bool,
    allow_partial: bool,
    id: &str,
    out: &mut Out,
) -> anyhow::Result<ExitCode> {
    let path = tree.path();
    let recipe = recipe(id)?;
    // A subdirectory is planned as part of its whole work tree.
    let scope = kseries::rewrite::Scope::of(path)?;
    let top = &scope.top;
    let planned = kseries::pipeline::scan_and_plan(top, &recipe)?;
    let mut review = planned.left_for_review();
    let (plan, left_out) = scope.restrict(planned.plan);
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
    // Items outside PATH are its work tree's, not this run's.
    review.retain(|r| r.file.is_empty() || scope.contains(&r.file));
    for r in &review {
        eprintln!("{}", kseries::pipeline::review_line(r));
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

/// `kseries send`.
fn run_send(a: SendArgs, out: &mut Out) -> anyhow::Result<ExitCode> {
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
    let report = kseries::send::send(&opts, out)?;
    eprintln!(
        "kseries: {} sent, {} already sent before (state in {})",
        report.sent.len(),
        report.skipped.len(),
        report.state_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `kseries trailers`.
fn run_trailers(
    tree: TreeArg,
    opts: kseries::trailers::TrailersOptions,
    out: &mut Out,
) -> anyhow::Result<ExitCode> {
    require_git_repo(tree.path())?;
    let report = kseries::trailers::trailers(&opts, out)?;
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

/// `kseries check`: exit 1 on errors.
fn run_check(
    tree: TreeArg,
    format: CheckFormat,
    id: &str,
    out: &mut Out,
) -> anyhow::Result<ExitCode> {
    let recipe = recipe(id)?;
    let report = kseries::check::check(tree.path(), &recipe)?;
    if report.summary.files_walked == 0 {
        let path = tree.path().to_path_buf();
        return Err(kseries::pipeline::PipelineError::NoSource(path).into());
    }
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

/// `kseries completions SHELL`.
fn run_completions(shell: clap_complete::Shell, out: &mut Out) -> anyhow::Result<ExitCode> {
    clap_complete::generate(shell, &mut Cli::command(), "kseries", out);
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `kseries man [--dir DIR]`.
fn run_man(dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let cmd = Cli::command();
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
            clap_mangen::generate_to(cmd, &dir).with_context(|| dir.display().to_string())?;
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

fn run_series(a: SeriesArgs, out: &mut Out) -> anyhow::Result<ExitCode> {
    use kseries::series;
    let tree = a.tree.path().to_path_buf();
    require_git_repo(&tree)?;
    let read = |p: &PathBuf| std::fs::read_to_string(p).with_context(|| p.display().to_string());
    let (plan, mut verification) = match &a.plan {
        Some(p) => {
            let plan: kseries::rewrite::Plan = serde_json::from_str(&read(p)?)
                .with_context(|| format!("{}: not a plan", p.display()))?;
            if let Some(given) = &a.recipe.recipe {
                anyhow::ensure!(
                    *given == plan.recipe,
                    "{} is a plan of recipe `{}`, not `{given}`: drop --recipe, or give a plan \
                     made with `kseries rewrite --recipe {given} --format json`",
                    p.display(),
                    plan.recipe
                );
            }
            (plan, series::Verification::default())
        }
        None => {
            use kseries::pipeline::Gate;
            let gate = if a.allow_partial {
                Gate::AllowPartial
            } else {
                Gate::RefusePartial
            };
            let migration = kseries::pipeline::migrate(&tree, &recipe(a.recipe.id())?, gate)?;
            (migration.plan, migration.verification)
        }
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
        branch: a
            .branch
            .clone()
            .unwrap_or_else(|| series::default_branch(&plan.recipe)),
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

fn run_verify(a: VerifyArgs, out: &mut Out) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let repo = a.tree.path().to_path_buf();
    require_git_repo(&repo)?;
    recipe(a.recipe.id())?;
    let range = match a.range.or(a.commit) {
        Some(r) => r,
        None => kseries::verify::branch_range(&repo, &a.recipe.branch(&a.branch))?,
    };
    let mut opts = kseries::verify::VerifyOptions::new(&repo, range);
    opts.work_dir = a.work_dir;
    opts.jobs = a.jobs;
    opts.compile_check = !a.no_compile_check;
    opts.cross = !a.no_cross;
    opts.boot = !a.no_boot;
    let check = a.check.unwrap_or(JobCheck::Build);
    if a.format == VerifyFormat::JobJson {
        kseries::bot::matrix::restrict_to_job(&mut opts, check.kind(), &a.arch)?;
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
            let job = kseries::bot::check_runs::job_result(step, check.kind(), &a.arch);
            writeln!(out, "{}", serde_json::to_string_pretty(&job)?)?;
        }
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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
                None => kseries::bot::check_runs::CheckKind::ALL.to_vec(),
            };
            let matrix = kseries::bot::matrix::for_range(tree.path(), &range, &checks)?;
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
