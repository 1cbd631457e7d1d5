//! Reading a boot-test guest's serial console: kernel reports (BUG, WARNING,
//! lockdep, ...), the auditor's verdict line and the workload's own lines.

use serde::{Deserialize, Serialize};

/// The auditor module's one verdict line:
/// `kseries-audit: events=N unpaired=U bad_range=B unbracketed=X page=M`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerdict {
    pub events: u64,
    pub unpaired: u64,
    pub bad_range: u64,
    pub unbracketed: u64,
    pub page: u64,
}

impl AuditVerdict {
    pub const PREFIX: &'static str = "kseries-audit: events=";

    /// Parses the part of a console line from `kseries-audit:` on.
    pub fn parse(line: &str) -> Option<AuditVerdict> {
        let at = line.find("kseries-audit: events=")?;
        let mut fields = std::collections::BTreeMap::new();
        for word in line[at + "kseries-audit:".len()..].split_whitespace() {
            let (key, value) = word.split_once('=')?;
            fields.insert(key, value.parse::<u64>().ok()?);
        }
        Some(AuditVerdict {
            events: *fields.get("events")?,
            unpaired: *fields.get("unpaired")?,
            bad_range: *fields.get("bad_range")?,
            unbracketed: *fields.get("unbracketed")?,
            page: *fields.get("page")?,
        })
    }

    /// The names and counts of the violated checks (empty when clean).
    pub fn violations(&self) -> Vec<(&'static str, u64)> {
        [
            ("unpaired", self.unpaired),
            ("bad_range", self.bad_range),
            ("unbracketed", self.unbracketed),
        ]
        .into_iter()
        .filter(|&(_, n)| n > 0)
        .collect()
    }
}

impl std::fmt::Display for AuditVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "kseries-audit: events={} unpaired={} bad_range={} unbracketed={} page={}",
            self.events, self.unpaired, self.bad_range, self.unbracketed, self.page
        )
    }
}

/// What kind of trouble a console line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// `BUG: ...` (includes `BUG: sleeping function called from invalid context`).
    Bug,
    /// `WARNING: CPU: ...` (a WARN_ON).
    Warning,
    /// `Oops: ...`, `general protection fault`.
    Oops,
    /// `sleeping function called from invalid context` / `scheduling while atomic`.
    SleepInAtomic,
    /// A lockdep report.
    Lockdep,
    /// `Kernel panic - not syncing`.
    Panic,
    /// A violation the auditor module reported (non-zero count or its own line).
    AuditViolation,
    /// No verdict line from the auditor.
    MissingVerdict,
    /// The workload itself reported an error.
    WorkloadError,
    /// QEMU did not power off in time.
    Timeout,
    /// QEMU exited other than through the workload's isa-debug-exit write.
    BadExit,
}

/// One reason a boot test failed, with the console line that shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleProblem {
    pub kind: ProblemKind,
    /// 1-based line in the console log (0 when not from a line).
    pub line: usize,
    pub text: String,
}

/// The reading of a whole console log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleVerdict {
    pub audit: Option<AuditVerdict>,
    pub problems: Vec<ConsoleProblem>,
    /// The auditor's `violation:` lines (they name the callback and range;
    /// a stack trace follows each on the console).
    pub audit_reports: Vec<String>,
    /// Lines the workload printed (`kseries-workload: ...`).
    pub workload: Vec<String>,
}

impl ConsoleVerdict {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// A one-line summary: the first problem, or the verdict line.
    pub fn summary(&self) -> String {
        match (self.problems.first(), &self.audit) {
            (Some(p), _) => format!("{:?}: {}", p.kind, p.text),
            (None, Some(a)) => a.to_string(),
            (None, None) => "no verdict".to_string(),
        }
    }
}

/// Patterns that fail a boot, in the order they are tried on each line.
const PATTERNS: &[(&str, ProblemKind)] = &[
    (
        "sleeping function called from invalid context",
        ProblemKind::SleepInAtomic,
    ),
    ("scheduling while atomic", ProblemKind::SleepInAtomic),
    ("possible circular locking dependency", ProblemKind::Lockdep),
    ("possible recursive locking", ProblemKind::Lockdep),
    ("inconsistent lock state", ProblemKind::Lockdep),
    ("INFO: possible", ProblemKind::Lockdep),
    (
        "INFO: trying to register non-static key",
        ProblemKind::Lockdep,
    ),
    ("suspicious RCU usage", ProblemKind::Lockdep),
    (
        "lock held when returning to user space",
        ProblemKind::Lockdep,
    ),
    ("BUG: ", ProblemKind::Bug),
    ("kernel BUG at", ProblemKind::Bug),
    ("WARNING: ", ProblemKind::Warning),
    ("general protection fault", ProblemKind::Oops),
    ("Oops", ProblemKind::Oops),
    ("Kernel panic", ProblemKind::Panic),
];

/// Reads a console log.  Every matching line is a problem; the auditor's
/// verdict line is parsed, and a non-zero violation count or a missing
/// verdict is a problem too.
pub fn parse_console(log: &str) -> ConsoleVerdict {
    let mut verdict = ConsoleVerdict::default();
    let mut last_kind: Option<(ProblemKind, usize)> = None;
    for (i, raw) in log.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let lineno = i + 1;
        let mut push = |kind, text: &str| {
            verdict.problems.push(ConsoleProblem {
                kind,
                line: lineno,
                text: text.trim().to_string(),
            })
        };
        if let Some(at) = line.find("kseries-workload: ") {
            let text = &line[at + "kseries-workload: ".len()..];
            if text.starts_with("error:") {
                push(ProblemKind::WorkloadError, text);
            }
            verdict.workload.push(text.to_string());
            continue;
        }
        if let Some(at) = line.find("kseries-audit: violation:") {
            verdict.audit_reports.push(line[at..].to_string());
            continue;
        }
        if line.contains(AuditVerdict::PREFIX) {
            match AuditVerdict::parse(line) {
                Some(a) => {
                    let bad = a.violations();
                    if !bad.is_empty() {
                        let names: Vec<String> =
                            bad.iter().map(|(n, c)| format!("{n}={c}")).collect();
                        push(
                            ProblemKind::AuditViolation,
                            &format!("auditor: {} ({})", names.join(" "), a),
                        );
                    }
                    verdict.audit = Some(a);
                }
                None => push(ProblemKind::MissingVerdict, line),
            }
            continue;
        }
        if let Some(&(_, kind)) = PATTERNS.iter().find(|(pat, _)| line.contains(pat)) {
            // One report prints several matching lines ("BUG: sleeping
            // function ..."): keep only the first of each kind in a row.
            if last_kind == Some((kind, lineno - 1)) {
                last_kind = Some((kind, lineno));
                continue;
            }
            last_kind = Some((kind, lineno));
            push(kind, line);
        }
    }
    if verdict.audit.is_none() {
        verdict.problems.push(ConsoleProblem {
            kind: ProblemKind::MissingVerdict,
            line: 0,
            text: "no `kseries-audit: events=...` verdict line on the console".to_string(),
        });
    }
    // A violation line without a non-zero count cannot happen with our
    // module, but a log cut short may carry one: name it.
    if !verdict.audit_reports.is_empty()
        && !verdict
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::AuditViolation)
    {
        let text = verdict.audit_reports[0].clone();
        verdict.problems.push(ConsoleProblem {
            kind: ProblemKind::AuditViolation,
            line: 0,
            text,
        });
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAN: &str = "\
[    0.000000] Linux version 4.12.0 (root@host) (gcc version 12.2.0)
[    1.234567] Freeing unused kernel memory: 1000K
kseries-workload: start
[    1.500000] kseries-audit: loaded (invalidate_page hooked)
[    1.600000] kseries-audit: registered on mm of init pid=1
kseries-workload: phase anon: munmap, mprotect, mremap, MADV_DONTNEED
kseries-workload: note: KSM merged nothing in time
[    9.000000] kseries-audit-detail: mms=2 starts=100 ends=100 ranges=100 open=0 overflow=0
[    9.000001] kseries-audit: events=321 unpaired=0 bad_range=0 unbracketed=0 page=17
kseries-workload: done errors=0
";

    #[test]
    fn a_clean_log_passes_with_its_verdict() {
        let v = parse_console(CLEAN);
        assert!(v.passed(), "{:?}", v.problems);
        assert_eq!(
            v.audit,
            Some(AuditVerdict {
                events: 321,
                unpaired: 0,
                bad_range: 0,
                unbracketed: 0,
                page: 17
            })
        );
        assert_eq!(v.workload.len(), 4);
        assert!(v.summary().starts_with("kseries-audit: events=321"));
    }

    #[test]
    fn a_missing_verdict_fails() {
        let log = CLEAN.replace("kseries-audit: events=321", "something else");
        let v = parse_console(&log);
        assert!(!v.passed());
        assert_eq!(v.problems[0].kind, ProblemKind::MissingVerdict);
    }

    #[test]
    fn an_auditor_violation_is_named() {
        let log = CLEAN.replace("unpaired=0", "unpaired=3").replace(
            "kseries-workload: done",
            "[    5.0] kseries-audit: violation: invalidate_range_end without a matching start \
             [0x7f0000, 0x7f1000) comm=init pid=1\nkseries-workload: done",
        );
        let v = parse_console(&log);
        assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
        assert_eq!(v.problems[0].kind, ProblemKind::AuditViolation);
        assert!(v.problems[0].text.contains("unpaired=3"));
        assert_eq!(v.audit_reports.len(), 1);
        assert!(v.audit_reports[0].contains("without a matching start"));
    }

    #[test]
    fn kernel_reports_fail() {
        let cases = [
            (
                "[ 2.0] BUG: sleeping function called from invalid context at mm/rmap.c:1400",
                ProblemKind::SleepInAtomic,
            ),
            (
                "[ 2.0] WARNING: CPU: 0 PID: 1 at mm/mmu_notifier.c:20 foo+0x1/0x2",
                ProblemKind::Warning,
            ),
            (
                "[ 2.0] BUG: unable to handle kernel NULL pointer",
                ProblemKind::Bug,
            ),
            ("[ 2.0] Oops: 0000 [#1] SMP", ProblemKind::Oops),
            (
                "[ 2.0] general protection fault: 0000 [#1] SMP",
                ProblemKind::Oops,
            ),
            (
                "[ 2.0] WARNING: possible circular locking dependency detected",
                ProblemKind::Lockdep,
            ),
            (
                "[ 2.0] [ INFO: possible recursive locking detected ]",
                ProblemKind::Lockdep,
            ),
            (
                "[ 2.0] [ INFO: inconsistent lock state ]",
                ProblemKind::Lockdep,
            ),
            (
                "[ 2.0] Kernel panic - not syncing: Attempted to kill init!",
                ProblemKind::Panic,
            ),
            (
                "[ 2.0] kernel BUG at mm/huge_memory.c:2000!",
                ProblemKind::Bug,
            ),
            (
                "kseries-workload: error: mmap anon: ENOMEM",
                ProblemKind::WorkloadError,
            ),
        ];
        for (line, kind) in cases {
            let log = CLEAN.replace(
                "kseries-workload: done",
                &format!("{line}\nkseries-workload: done"),
            );
            let v = parse_console(&log);
            assert_eq!(
                v.problems.iter().map(|p| p.kind).collect::<Vec<_>>(),
                [kind],
                "{line}"
            );
            assert_eq!(v.problems[0].line, 10, "{line}");
        }
    }

    #[test]
    fn one_report_over_several_lines_counts_once() {
        let log = CLEAN.replace(
            "kseries-workload: done",
            "[ 3.0] ------------[ cut here ]------------\n\
             [ 3.0] WARNING: CPU: 0 PID: 1 at mm/rmap.c:1 x+0x0/0x1\n\
             [ 3.1] WARNING: CPU: 0 PID: 1 at mm/rmap.c:1 x+0x0/0x1\n\
             kseries-workload: done",
        );
        let v = parse_console(&log);
        assert_eq!(v.problems.len(), 1);
    }

    #[test]
    fn carriage_returns_and_a_garbled_verdict() {
        let v = parse_console("kseries-audit: events=1 unpaired=x\r\n");
        assert_eq!(v.audit, None);
        assert!(
            v.problems
                .iter()
                .all(|p| p.kind == ProblemKind::MissingVerdict)
        );
        let v = parse_console(
            "kseries-audit: events=4 unpaired=0 bad_range=0 unbracketed=0 page=0\r\n",
        );
        assert!(v.passed());
    }
}
