//! Security reports of compilations and the channel's deploy gate. Every compilation through
//! the platform stores the checker's report for the tenant that ran it, with the code hashes of
//! the contracts it built. A contract version proposed with a report hash must be code of that
//! report; the hash is recorded on chain with the version, and members who vote read the report
//! through the network. A channel that set `deploy_security_gate` refuses versions without a
//! report (the chain checks that), and this module refuses to propose versions whose report has
//! unresolved findings at or above the gate (the chain cannot read reports). A finding is
//! resolved by fixing the code and compiling again, or by a written resolution (false positive,
//! accepted risk) that names who gave it and is shown with the report.

use crate::{
    accounts::{AccountsError, Platform},
    compiler::SecurityCheck,
    ids::TenantId,
    networks::Network,
    store::now_ms,
};
use alloy_primitives::{B256, keccak256};
use ricaas_primitives::system::SecurityGate;
use ricaas_solidity::{Category, Severity};
use serde::{Deserialize, Serialize};

/// Shortest and longest resolution reason: a reviewer must be able to tell why.
pub const RESOLUTION_REASON_CHARS: std::ops::RangeInclusive<usize> = 10..=2_000;

/// A contract a compilation built, by the hashes of its code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Build {
    pub contract: String,
    pub file: String,
    /// Keccak-256 of the creation code, without constructor arguments, and its length: a
    /// deployment's code starts with it.
    pub creation_code_hash: String,
    pub creation_code_len: usize,
    /// Keccak-256 of the runtime code: an upgrade installs exactly it.
    pub runtime_code_hash: String,
}

impl Build {
    /// The deployable contracts of a compilation.
    pub fn of(output: &crate::compiler::CompileOutput) -> Vec<Build> {
        output
            .contracts
            .iter()
            .filter(|c| c.deployable)
            .filter_map(|c| {
                let creation = hex::decode(c.bytecode.trim_start_matches("0x")).ok()?;
                let runtime = hex::decode(c.deployed_bytecode.trim_start_matches("0x")).ok()?;
                Some(Build {
                    contract: c.name.clone(),
                    file: c.file.clone(),
                    creation_code_hash: keccak256(&creation).to_string(),
                    creation_code_len: creation.len(),
                    runtime_code_hash: keccak256(&runtime).to_string(),
                })
            })
            .collect()
    }

    fn creates(&self, code: &[u8]) -> bool {
        code.len() >= self.creation_code_len
            && keccak256(&code[..self.creation_code_len]).to_string() == self.creation_code_hash
    }

    fn installs(&self, runtime: &[u8]) -> bool {
        keccak256(runtime).to_string() == self.runtime_code_hash
    }
}

/// A finding as stored with its report.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordedFinding {
    pub rule: String,
    pub category: Category,
    pub severity: Severity,
    pub swc: Vec<String>,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub contract: String,
    pub function: String,
    pub message: String,
    pub confirmed: bool,
    /// Other places the finding involves (reports stored before this field have none).
    #[serde(default)]
    pub related: Vec<ricaas_solidity::Related>,
}

impl RecordedFinding {
    /// Names the finding within its report: rule and place.
    pub fn id(&self) -> String {
        format!("{}@{}:{}:{}", self.rule, self.file, self.line, self.column)
    }
}

#[derive(Deserialize)]
struct StoredFindings {
    findings: Vec<RecordedFinding>,
    files: Vec<String>,
    incomplete: Vec<String>,
}

/// Why a finding stands resolved without a code change, and who said so.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Resolution {
    pub reason: String,
    /// The account that resolved it.
    pub account: String,
    pub created_at: i64,
}

/// A finding of a stored report, with its resolution if it has one.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ReviewedFinding {
    /// Names it in a resolution: `rule@file:line:column`.
    pub id: String,
    #[serde(flatten)]
    pub finding: RecordedFinding,
    pub resolution: Option<Resolution>,
}

/// Findings not resolved, by severity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Unresolved {
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

/// A stored security report.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SecurityReport {
    pub report_hash: String,
    pub source_hash: String,
    pub compiler: String,
    /// The tenant that compiled and stored it.
    pub tenant: String,
    pub findings: Vec<ReviewedFinding>,
    pub unresolved: Unresolved,
    pub files: Vec<String>,
    /// What could not be analysed, and why.
    pub incomplete: Vec<String>,
    pub builds: Vec<Build>,
    pub created_at: i64,
}

impl SecurityReport {
    /// Unresolved findings at or above `gate`.
    pub fn blocking(&self, gate: SecurityGate) -> Vec<&ReviewedFinding> {
        let floor = match gate {
            SecurityGate::High => Severity::High,
            SecurityGate::Medium => Severity::Medium,
        };
        self.findings
            .iter()
            .filter(|f| f.resolution.is_none() && f.finding.severity >= floor)
            .collect()
    }
}

/// The code of a contract version being proposed, to match against a report's builds.
#[derive(Clone, Copy, Debug)]
pub enum VersionCode<'a> {
    /// Creation code, constructor arguments appended.
    Creation(&'a [u8]),
    /// Runtime code an upgrade installs.
    Runtime(&'a [u8]),
    /// A contract created elsewhere, registered by address: its code is not compared.
    Registered,
}

type ReportRow = (String, String, String, String, String, String, i64);

impl Platform {
    /// Stores `check` (of `output`) for `tenant`; storing the same report again changes nothing.
    pub(crate) async fn store_security_report(
        &self,
        tenant: &TenantId,
        output: &crate::compiler::CompileOutput,
        check: &SecurityCheck,
    ) -> Result<(), AccountsError> {
        let report = serde_json::to_string(&check.report)
            .map_err(|e| AccountsError::Corrupt(format!("encoding a report: {e}")))?;
        let builds = serde_json::to_string(&check.builds)
            .map_err(|e| AccountsError::Corrupt(format!("encoding builds: {e}")))?;
        sqlx::query(
            "INSERT INTO security_reports (tenant_id, report_hash, source_hash, compiler, report, builds, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, report_hash) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(&check.report_hash)
        .bind(&output.source_hash)
        .bind(&output.compiler)
        .bind(report)
        .bind(builds)
        .bind(now_ms())
        .execute(self.store().pool())
        .await?;
        Ok(())
    }

    /// Report `hash` as `tenant` stored it.
    pub async fn security_report(
        &self,
        tenant: &TenantId,
        hash: &str,
    ) -> Result<SecurityReport, AccountsError> {
        let hash = report_hash(hash)?;
        let row: Option<ReportRow> = sqlx::query_as(
            "SELECT r.report_hash, r.source_hash, r.compiler, t.name, r.report, r.builds, r.created_at \
             FROM security_reports r JOIN tenants t ON t.id = r.tenant_id \
             WHERE r.tenant_id = $1 AND r.report_hash = $2",
        )
        .bind(tenant.as_str())
        .bind(&hash)
        .fetch_optional(self.store().pool())
        .await?;
        let row = row.ok_or_else(|| AccountsError::NotFound {
            what: "security report",
            name: hash.clone(),
        })?;
        self.reviewed(tenant.as_str(), row).await
    }

    /// Report `hash` as a member of `network` stored it: what members read before they vote on
    /// a version that names it.
    pub async fn network_security_report(
        &self,
        tenant: &TenantId,
        network: &str,
        hash: &str,
    ) -> Result<SecurityReport, AccountsError> {
        let found = self.network(tenant, network).await?;
        let hash = report_hash(hash)?;
        self.member_report(&found, &hash)
            .await?
            .ok_or_else(|| AccountsError::NotFound {
                what: "security report",
                name: format!("{network}/{hash}"),
            })
    }

    /// Report `hash` stored by a member of `network`, if one did.
    pub(crate) async fn member_report(
        &self,
        network: &Network,
        hash: &str,
    ) -> Result<Option<SecurityReport>, AccountsError> {
        let rows: Vec<(String, ReportRow)> = sqlx::query_as::<_, (String, String, String, String, String, String, String, i64)>(
            "SELECT r.tenant_id, r.report_hash, r.source_hash, r.compiler, t.name, r.report, r.builds, r.created_at \
             FROM security_reports r JOIN tenants t ON t.id = r.tenant_id WHERE r.report_hash = $1 \
             ORDER BY r.created_at",
        )
        .bind(hash)
        .fetch_all(self.store().pool())
        .await?
        .into_iter()
        .map(|(tenant, a, b, c, d, e, f, g)| (tenant, (a, b, c, d, e, f, g)))
        .collect();
        for (tenant, row) in rows {
            if network.members.iter().any(|m| m.tenant == row.3) {
                return self.reviewed(&tenant, row).await.map(Some);
            }
        }
        Ok(None)
    }

    async fn reviewed(
        &self,
        tenant_id: &str,
        row: ReportRow,
    ) -> Result<SecurityReport, AccountsError> {
        let (report_hash, source_hash, compiler, tenant, report, builds, created_at) = row;
        let stored: StoredFindings = serde_json::from_str(&report)
            .map_err(|e| AccountsError::Corrupt(format!("security report {report_hash}: {e}")))?;
        let builds: Vec<Build> = serde_json::from_str(&builds)
            .map_err(|e| AccountsError::Corrupt(format!("security report {report_hash}: {e}")))?;
        let resolutions: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT finding, reason, account, created_at FROM security_resolutions \
             WHERE tenant_id = $1 AND report_hash = $2",
        )
        .bind(tenant_id)
        .bind(&report_hash)
        .fetch_all(self.store().pool())
        .await?;
        let mut unresolved = Unresolved::default();
        let findings = stored
            .findings
            .into_iter()
            .map(|finding| {
                let id = finding.id();
                let resolution = resolutions.iter().find(|r| r.0 == id).map(|r| Resolution {
                    reason: r.1.clone(),
                    account: r.2.clone(),
                    created_at: r.3,
                });
                if resolution.is_none() {
                    *match finding.severity {
                        Severity::High => &mut unresolved.high,
                        Severity::Medium => &mut unresolved.medium,
                        Severity::Low => &mut unresolved.low,
                        Severity::Info => &mut unresolved.info,
                    } += 1;
                }
                ReviewedFinding {
                    id,
                    finding,
                    resolution,
                }
            })
            .collect();
        Ok(SecurityReport {
            report_hash,
            source_hash,
            compiler,
            tenant,
            findings,
            unresolved,
            files: stored.files,
            incomplete: stored.incomplete,
            builds,
            created_at,
        })
    }

    /// Resolves finding `finding` of `tenant`'s report `hash` without a code change, for
    /// `reason`, given by `account`. Final: a resolution is not replaced.
    pub async fn resolve_finding(
        &self,
        tenant: &TenantId,
        account: &str,
        hash: &str,
        finding: &str,
        reason: &str,
    ) -> Result<SecurityReport, AccountsError> {
        let report = self.security_report(tenant, hash).await?;
        let reason = reason.trim();
        if !RESOLUTION_REASON_CHARS.contains(&reason.chars().count()) {
            return Err(AccountsError::Invalid(format!(
                "reason must be {} to {} characters: say why the finding is not a weakness here, or why the risk is accepted",
                RESOLUTION_REASON_CHARS.start(),
                RESOLUTION_REASON_CHARS.end()
            )));
        }
        let Some(found) = report.findings.iter().find(|f| f.id == finding) else {
            return Err(AccountsError::Invalid(format!(
                "report {} has no finding {finding:?}: its findings are {}",
                report.report_hash,
                report
                    .findings
                    .iter()
                    .map(|f| f.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if let Some(resolution) = &found.resolution {
            return Err(AccountsError::Conflict(format!(
                "finding {finding} was already resolved by {}: {}",
                resolution.account, resolution.reason
            )));
        }
        sqlx::query(
            "INSERT INTO security_resolutions (tenant_id, report_hash, finding, reason, account, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant.as_str())
        .bind(&report.report_hash)
        .bind(finding)
        .bind(reason)
        .bind(account)
        .bind(now_ms())
        .execute(self.store().pool())
        .await
        .map_err(|e| crate::accounts::exists_or(e, "resolution of", finding))?;
        self.security_report(tenant, hash).await
    }

    /// The report hash to record with a version of `network`'s first channel proposed by
    /// `tenant`: zero when none was named and the channel sets no gate. A named report must be
    /// `tenant`'s and hold `code`; under a gate one must be named and have no unresolved
    /// findings at or above it.
    pub(crate) async fn version_report(
        &self,
        tenant: &TenantId,
        network: &Network,
        named: Option<&str>,
        code: VersionCode<'_>,
    ) -> Result<B256, AccountsError> {
        let gate = self.deploy_security_gate(tenant, network).await?;
        let Some(named) = named else {
            return match gate {
                None => Ok(B256::ZERO),
                Some(gate) => Err(AccountsError::Invalid(format!(
                    "network {}'s channel sets deploy_security_gate {}: propose the version with report_hash, the security report of a compilation through this platform (POST /api/v1/compile answers it)",
                    network.name,
                    gate_name(gate)
                ))),
            };
        };
        let report = self.security_report(tenant, named).await?;
        let matches = match code {
            VersionCode::Creation(code) => report.builds.iter().any(|b| b.creates(code)),
            VersionCode::Runtime(code) => report.builds.iter().any(|b| b.installs(code)),
            VersionCode::Registered => true,
        };
        if !matches {
            return Err(AccountsError::Invalid(format!(
                "the code is not one of the contracts of report {} ({}): propose the bytecode that compilation produced, or compile these sources and name that report",
                report.report_hash,
                report
                    .builds
                    .iter()
                    .map(|b| format!("{} in {}", b.contract, b.file))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if let Some(gate) = gate {
            let blocking = report.blocking(gate);
            if !blocking.is_empty() {
                return Err(AccountsError::Conflict(format!(
                    "network {}'s channel refuses versions with unresolved {} findings (deploy_security_gate); report {} has {}: {}. Fix the code and compile again, or resolve each finding with the reason it does not apply (POST /api/v1/security-reports/{}/resolutions)",
                    network.name,
                    match gate {
                        SecurityGate::High => "high-severity",
                        SecurityGate::Medium => "medium- or high-severity",
                    },
                    report.report_hash,
                    blocking.len(),
                    blocking
                        .iter()
                        .map(|f| format!(
                            "{} ({}) at {}:{}",
                            f.finding.rule,
                            f.finding.severity.as_str(),
                            f.finding.file,
                            f.finding.line
                        ))
                        .collect::<Vec<_>>()
                        .join("; "),
                    report.report_hash
                )));
            }
            // A gate is only as good as the analysis behind it: a report that did not read
            // everything (its time limit reached, a detector failed, a file nested too deep)
            // cannot clear it, whatever it found in the rest.
            if !report.incomplete.is_empty() {
                return Err(AccountsError::Conflict(format!(
                    "network {}'s channel refuses versions whose security analysis is incomplete (deploy_security_gate); report {} did not analyse everything: {}. Split or simplify the sources and compile again",
                    network.name,
                    report.report_hash,
                    report.incomplete.join("; ")
                )));
            }
        }
        report
            .report_hash
            .parse()
            .map_err(|_| AccountsError::Corrupt(format!("report hash {}", report.report_hash)))
    }

    /// The gate `network`'s first channel sets, read from its configuration on chain.
    async fn deploy_security_gate(
        &self,
        tenant: &TenantId,
        network: &Network,
    ) -> Result<Option<SecurityGate>, AccountsError> {
        let configuration = self
            .current_configuration(tenant, network, &network.spec.channel.name)
            .await?;
        match configuration["parameters"].get("deploy_security_gate") {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(value) => serde_json::from_value(value.clone())
                .map(Some)
                .map_err(|e| {
                    AccountsError::Unavailable(format!("the channel's deploy_security_gate: {e}"))
                }),
        }
    }
}

fn gate_name(gate: SecurityGate) -> &'static str {
    match gate {
        SecurityGate::High => "1 (no unresolved high findings)",
        SecurityGate::Medium => "2 (no unresolved medium or high findings)",
    }
}

/// A report hash as stored: `0x` and 64 lowercase hex digits.
fn report_hash(text: &str) -> Result<String, AccountsError> {
    text.trim()
        .parse::<B256>()
        .map(|h| h.to_string())
        .map_err(|_| {
            AccountsError::Invalid(format!(
                "{text:?} is not a report hash (0x and 64 hex digits)"
            ))
        })
}
