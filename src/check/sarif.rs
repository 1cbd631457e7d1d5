//! SARIF 2.1.0 output, for GitHub code scanning.
//!
//! One run whose driver lists every rule; one result per diagnostic with
//! `ruleId`, `level` (`error`, `warning`, `note`), `message.text` and a
//! physical location (`artifactLocation.uri` relative to the checked tree,
//! `region.startLine`/`startColumn`, 1-based).

use serde_json::{Value, json};

use super::{CheckReport, RULES};

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub fn to_sarif(report: &CheckReport) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|(id, text)| {
            json!({
                "id": id,
                "name": id,
                "shortDescription": {"text": text},
                "defaultConfiguration": {"level": match id.as_bytes()[0] {
                    b'W' => "warning",
                    b'N' => "note",
                    _ => "error",
                }},
            })
        })
        .collect();
    let results: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| {
            json!({
                "ruleId": d.code,
                "ruleIndex": RULES.iter().position(|(id, _)| *id == d.code),
                "level": d.severity.as_str(),
                "message": {"text": d.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": d.file, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": d.line, "startColumn": d.column},
                    }
                }],
            })
        })
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kseries",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}
