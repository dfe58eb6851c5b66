//! Reports as SARIF 2.1.0, the format code-scanning services read: one run, the rules with
//! their SWC identifiers and DASP category in `properties.tags`, one result per finding.

use crate::{Report, Severity, detectors::RULES};
use serde_json::{Value, json};

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// The report as a SARIF 2.1.0 log.
pub fn to_sarif(report: &Report) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|rule| {
            let mut tags: Vec<String> = rule.swc.iter().map(|s| (*s).to_owned()).collect();
            tags.push(format!("DASP-{}", rule.category.as_str()));
            tags.push("security".into());
            json!({
                "id": rule.id,
                "name": rule.title,
                "shortDescription": { "text": rule.title },
                "fullDescription": { "text": rule.explanation },
                "help": { "text": rule.fix },
                "defaultConfiguration": { "level": level(rule.severity) },
                "properties": {
                    "tags": tags,
                    "security-severity": match rule.severity {
                        Severity::High => "8.0",
                        Severity::Medium => "5.5",
                        Severity::Low => "3.0",
                        Severity::Info => "1.0",
                    },
                },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|finding| {
            let index = RULES.iter().position(|r| r.id == finding.rule);
            json!({
                "ruleId": finding.rule,
                "ruleIndex": index,
                "level": level(finding.severity),
                "message": { "text": finding.message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": finding.file },
                        "region": {
                            "startLine": finding.line,
                            "startColumn": finding.column,
                            "endLine": finding.end_line,
                        },
                    },
                    "logicalLocations": [{
                        "name": finding.function,
                        "fullyQualifiedName": if finding.function.is_empty() {
                            finding.contract.clone()
                        } else {
                            format!("{}.{}", finding.contract, finding.function)
                        },
                        "kind": "function",
                    }],
                }],
                "relatedLocations": finding.related.iter().enumerate().map(|(id, related)| json!({
                    "id": id,
                    "physicalLocation": {
                        "artifactLocation": { "uri": finding.file },
                        "region": {
                            "startLine": related.line,
                            "startColumn": related.column,
                            "endLine": related.end_line,
                        },
                    },
                    "message": { "text": related.message },
                })).collect::<Vec<Value>>(),
                "properties": { "confirmed": finding.confirmed },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "ricaas-check",
                    "informationUri": "https://github.com/ricaas/ricaas",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "artifacts": report.files.iter().map(|f| json!({ "location": { "uri": f } })).collect::<Vec<_>>(),
            "results": results,
        }]
    })
}
