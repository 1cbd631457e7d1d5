//! The human table of a scan, grouped by subsystem.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::model::{Detail, KINDS, ScanReport, Site};
use crate::words::count;

/// Renders the report for a terminal: one block per subsystem, one line
/// per site, then the accounting summary.
pub fn render_table(report: &ScanReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "kseries scan of {} (recipe {})",
        report.tree, report.recipe
    );
    // An ops entry names its member; a report written before it did has
    // its recipe's (a report names its recipe by id).
    let member = crate::recipe::by_id(&report.recipe).map_or("?", |r| r.ops_member);
    let mut by_subsystem: BTreeMap<&str, Vec<&Site>> = BTreeMap::new();
    for s in &report.sites {
        by_subsystem.entry(&s.subsystem).or_default().push(s);
    }
    for (subsystem, sites) in by_subsystem {
        let _ = writeln!(out, "\n{subsystem}");
        for s in sites {
            let place = format!("{}:{}:{}", s.file, s.line, s.column);
            let _ = writeln!(
                out,
                "  {place:<48} {:<12} {}",
                s.detail.kind(),
                describe(s, member)
            );
        }
    }
    out.push('\n');
    out.push_str(&summary_line(report));
    out
}

fn describe(s: &Site, member: &str) -> String {
    let func = s
        .function
        .as_deref()
        .map(|f| format!(" in {f}()"))
        .unwrap_or_default();
    match &s.detail {
        Detail::Call {
            callee,
            args,
            under_ptl,
            ..
        } => {
            let ptl = match under_ptl {
                Some(true) => "under the page-table lock",
                Some(false) => "outside the page-table lock",
                None => "page-table lock state unknown",
            };
            format!("{callee}({}){func}, {ptl}", args.join(", "))
        }
        Detail::OpsEntry {
            ops,
            member: own,
            callback,
            sets,
        } => {
            let member = if own.is_empty() { member } else { own };
            let others: Vec<&str> = sets
                .keys()
                .map(String::as_str)
                .filter(|m| *m != member)
                .collect();
            format!(
                "{ops}: .{member} = {callback}; also sets [{}]",
                others.join(", ")
            )
        }
        Detail::Callback {
            name,
            is_static,
            other_users,
            ..
        } => format!(
            "{}{name}() lines {}-{}, {}",
            if *is_static { "static " } else { "" },
            s.line,
            s.end_line,
            count(other_users.len(), "other user", "other users")
        ),
        Detail::ArchHook {
            name,
            role,
            empty,
            arch,
        } => {
            let mut d = format!("{} of {name}", format!("{role:?}").to_lowercase());
            if let Some(a) = arch {
                let _ = write!(d, " ({a})");
            }
            if let Some(e) = empty {
                d.push_str(if *e { ", empty" } else { ", NOT empty" });
            }
            d + &func
        }
        Detail::Api {
            role, name, config, ..
        } => {
            let cfg = config
                .as_deref()
                .map(|c| format!(" [{c}]"))
                .unwrap_or_default();
            format!("{} {name}{cfg}", format!("{role:?}").to_lowercase())
        }
        Detail::Unrelated { reason } | Detail::NeedsReview { reason } => format!("{reason}{func}"),
    }
}

/// One line that says what was found and that nothing was skipped.
pub fn summary_line(report: &ScanReport) -> String {
    let s = &report.summary;
    let kinds: Vec<String> = KINDS
        .iter()
        .map(|k| format!("{k} {}", s.sites.get(*k).copied().unwrap_or(0)))
        .collect();
    let accounted: usize = s.occurrences_by_kind.values().sum();
    let verdict = if s.accounted {
        "every occurrence accounted for".to_string()
    } else {
        format!("MISMATCH: {accounted} accounted for")
    };
    let mut line = format!(
        "{} in {} of {}: {}; {verdict}\n",
        count(s.occurrences, "occurrence", "occurrences"),
        s.candidate_files,
        count(s.files_walked, "file", "files"),
        kinds.join(", ")
    );
    if !s.skipped.is_empty() {
        let _ = writeln!(
            line,
            "{} skipped (see --format json)",
            count(s.skipped.len(), "file", "files")
        );
    }
    line
}
