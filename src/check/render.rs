//! The compiler-style text output.

use super::CheckReport;

/// `file:line:col: error[E2]: message` lines, then a summary line.
pub fn render_text(report: &CheckReport) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        out.push_str(&format!(
            "{}:{}:{}: {}[{}]: {}\n",
            d.file,
            d.line,
            d.column,
            d.severity.as_str(),
            d.code,
            d.message
        ));
    }
    let s = &report.summary;
    out.push_str(&format!(
        "{}, {}, {} in {} parsed of {}",
        crate::words::count(s.errors, "error", "errors"),
        crate::words::count(s.warnings, "warning", "warnings"),
        crate::words::count(s.notes, "note", "notes"),
        s.files_parsed,
        crate::words::count(s.files_walked, "file", "files")
    ));
    if s.undecided > 0 {
        out.push_str(&format!(
            "; {} of them {} about code kseries could not decide (review by hand)",
            s.undecided,
            crate::words::noun(s.undecided, "is", "are")
        ));
    }
    out.push('\n');
    out
}
