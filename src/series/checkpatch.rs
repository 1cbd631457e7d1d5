//! `series --check`: the tree's own `scripts/checkpatch.pl --strict` on
//! every patch, as `b4 prep --check` does.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::SeriesError;

/// The path of the script, relative to the top of the tree.
pub const SCRIPT: &str = "scripts/checkpatch.pl";

/// What checkpatch said about one patch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpatch {
    pub errors: usize,
    pub warnings: usize,
    pub checks: usize,
    /// Each finding: its `ERROR:`/`WARNING:`/`CHECK:` line and the lines
    /// that locate it, as checkpatch prints them.
    pub findings: Vec<String>,
}

impl Checkpatch {
    /// No errors and no warnings (checks are advice).
    pub fn clean(&self) -> bool {
        self.errors == 0 && self.warnings == 0
    }
}

/// Runs checkpatch on `patch` in `tree`.
pub fn run(tree: &Path, patch: &Path) -> Result<Checkpatch, SeriesError> {
    if !tree.join(SCRIPT).is_file() {
        return Err(SeriesError::NoScript {
            tree: tree.to_path_buf(),
            script: SCRIPT,
        });
    }
    // No --no-color: checkpatch before Linux 4.19 does not know it, and
    // later ones colour only a terminal.
    let out = Command::new("perl")
        .current_dir(tree)
        .arg(SCRIPT)
        .arg("--strict")
        .arg(patch)
        .output()
        .map_err(|e| SeriesError::Command(format!("running perl {SCRIPT}: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse(&text).ok_or_else(|| {
        SeriesError::Command(format!(
            "{SCRIPT} --strict {} printed no `total:` line: {}",
            patch.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    })
}

/// Reads checkpatch's report: the findings (blocks starting with a
/// severity) and the `total: E errors, W warnings, C checks` line.
pub fn parse(text: &str) -> Option<Checkpatch> {
    let total = text.lines().find(|l| l.starts_with("total: "))?;
    let n: Vec<usize> = total
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    let [errors, warnings, checks, ..] = n.as_slice() else {
        return None;
    };
    let mut findings = Vec::new();
    for block in text.split("\n\n") {
        let block = block.trim_matches('\n');
        if ["ERROR:", "WARNING:", "CHECK:"]
            .iter()
            .any(|s| block.starts_with(s))
        {
            findings.push(block.to_string());
        }
    }
    Some(Checkpatch {
        errors: *errors,
        warnings: *warnings,
        checks: *checks,
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_totals_and_the_findings() {
        let out = "CHECK: Alignment should match open parenthesis\n#42: FILE: mm/rmap.c:870:\n+\tfoo(a,\n+\t\tb);\n\nWARNING: line over 80 characters\n#50: FILE: mm/rmap.c:900:\n+\tx\n\ntotal: 0 errors, 1 warnings, 1 checks, 40 lines checked\n\nNOTE: For some of the reported defects...\n";
        let c = parse(out).unwrap();
        assert_eq!((c.errors, c.warnings, c.checks), (0, 1, 1));
        assert_eq!(c.findings.len(), 2);
        assert!(c.findings[1].starts_with("WARNING: line over 80"));
        assert!(!c.clean());
        assert!(parse("no summary").is_none());
    }
}
