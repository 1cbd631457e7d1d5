//! What the command line prints: colours only where they can be seen,
//! errors with their causes, and the human summaries.

use std::io::Write;

/// Where output goes: stdout, with colours only when they can be seen.
pub type Out = anstream::AutoStream<std::io::Stdout>;

pub fn stdout() -> Out {
    anstream::AutoStream::auto(std::io::stdout())
}

/// Styles of the human output.
pub mod style {
    use anstyle::{AnsiColor, Style};
    pub const ERROR: Style = AnsiColor::Red.on_default().bold();
    pub const WARNING: Style = AnsiColor::Yellow.on_default().bold();
    pub const GOOD: Style = AnsiColor::Green.on_default();
    pub const NOTE: Style = AnsiColor::Cyan.on_default();
    pub const BOLD: Style = Style::new().bold();
}

pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes, each once: many library errors already say
/// their source in their own message (`{path}: {source}`), so a cause is
/// added only when the text so far does not contain it.  libgit2's
/// class and code numbers are left out: they help nobody.
pub fn error_report(e: &anyhow::Error) -> String {
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

pub fn warn(text: &str) {
    let mut err = anstream::stderr();
    let _ = writeln!(
        err,
        "kseries: {}warning:{} {text}",
        style::WARNING.render(),
        style::WARNING.render_reset()
    );
}

/// `file:line:col: error[E2]: ...`: the severity in its colour.
pub fn colour_diagnostics(text: &str) -> String {
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

/// What `series` made, where it is, and what to look at.
pub fn series_summary(
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
        let check = checkpatch_cell(p.checkpatch.as_ref());
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
    files_written(report, out)?;
    let cover = cover_source(report, opts);
    writeln!(out, "{cover}")?;
    Ok(())
}

/// `  checkpatch clean`, or its counts in the colour of the worst; empty
/// without `--check`.
fn checkpatch_cell(c: Option<&kseries::series::Checkpatch>) -> String {
    use kseries::words::count;
    match c {
        Some(c) if c.clean() && c.checks == 0 => format!(
            "  {}checkpatch clean{}",
            style::GOOD.render(),
            style::GOOD.render_reset()
        ),
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
    }
}

/// Where the patches and the mbox went, or that only the branch was made.
fn files_written(report: &kseries::series::SeriesReport, out: &mut Out) -> anyhow::Result<()> {
    use kseries::words::count;
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
    Ok(())
}

/// Whose cover letter it is, and how to change it.
fn cover_source(
    report: &kseries::series::SeriesReport,
    opts: &kseries::series::SeriesOptions,
) -> String {
    match report.cover.source {
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
    }
}
