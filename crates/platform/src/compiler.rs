//! Solidity compilation for tenants: [`ricaas_solc`] behind the platform's errors, on blocking
//! threads, at most [`CONCURRENT_COMPILATIONS`] at once (each is a Node.js process holding a
//! compiler of tens of megabytes), the rest waiting their turn.

use crate::{
    accounts::{AccountsError, Platform},
    ids::TenantId,
    security::Build,
};
use alloy_primitives::keccak256;
use ricaas_solc::CompileError;
pub use ricaas_solc::{CompileOutput, CompileRequest, Compiler, Release};
use ricaas_solidity::{Report, Rule};
use serde::Serialize;
use std::sync::Arc;

/// A compilation and, when it succeeded, the security check of its sources.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Compilation {
    #[serde(flatten)]
    pub output: CompileOutput,
    /// What the security checker found (absent when the sources did not compile).
    pub security: Option<SecurityCheck>,
}

/// The checker's report on a compilation's sources.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecurityCheck {
    /// Keccak-256 over the sources' hash, the compiler, the contracts' code hashes and the
    /// findings: the report a deployment of these contracts records. Stored for the tenant
    /// (`GET /api/v1/security-reports/{hash}`).
    pub report_hash: String,
    #[serde(flatten)]
    pub report: Report,
    /// The contracts this compilation built: a version proposed with this report must be one.
    pub builds: Vec<Build>,
    /// The rules the findings name, with why each matters and how to fix it.
    pub rules: Vec<&'static Rule>,
}

impl SecurityCheck {
    pub fn new(output: &CompileOutput, report: Report) -> Self {
        let builds = Build::of(output);
        let mut hashed = output.source_hash.as_bytes().to_vec();
        hashed.push(0);
        hashed.extend(output.compiler.as_bytes());
        hashed.push(0);
        hashed.extend(serde_json::to_vec(&builds).unwrap_or_default());
        hashed.push(0);
        hashed.extend(serde_json::to_vec(&report.findings).unwrap_or_default());
        let mut rules: Vec<&'static Rule> = report
            .findings
            .iter()
            .filter_map(|f| Report::rule(f.rule))
            .collect();
        rules.sort_by_key(|r| r.id);
        rules.dedup_by_key(|r| r.id);
        Self {
            report_hash: keccak256(&hashed).to_string(),
            report,
            builds,
            rules,
        }
    }
}

/// Compilations that run at the same time; more wait.
pub const CONCURRENT_COMPILATIONS: usize = 2;

/// The compiler and the permits that bound its use.
#[derive(Clone)]
pub struct CompilerService {
    compiler: Arc<Compiler>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl CompilerService {
    pub fn new(compiler: Compiler) -> Self {
        Self {
            compiler: Arc::new(compiler),
            permits: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_COMPILATIONS)),
        }
    }
}

fn refusal(e: CompileError) -> AccountsError {
    match e {
        e @ (CompileError::Invalid(_)
        | CompileError::ImportNotFound { .. }
        | CompileError::NoRelease { .. }
        | CompileError::UnknownVersion(_)
        | CompileError::Package { .. }) => AccountsError::Invalid(e.to_string()),
        e @ (CompileError::Integrity { .. } | CompileError::Tampered { .. }) => {
            // Someone or something altered a compiler or package: operators must hear of it.
            tracing::error!(error = %e, "compiler supply-chain check failed");
            AccountsError::Unavailable(e.to_string())
        }
        e => AccountsError::Unavailable(e.to_string()),
    }
}

impl Platform {
    fn compiler_service(&self) -> Result<&CompilerService, AccountsError> {
        self.compiler().ok_or_else(|| {
            AccountsError::Unavailable(
                "this platform was started without a compiler cache; compile with `ricaas compile` and propose the bytecode".into(),
            )
        })
    }

    /// Compiles `request` with the release its pragmas allow (or the one it names), runs the
    /// security checker over sources that compiled and stores its report for `tenant`.
    pub async fn compile(
        &self,
        tenant: &TenantId,
        request: CompileRequest,
    ) -> Result<Compilation, AccountsError> {
        let service = self.compiler_service()?.clone();
        let _permit = service
            .permits
            .acquire_owned()
            .await
            .map_err(|_| AccountsError::Unavailable("the compiler is shutting down".into()))?;
        let compilation = tokio::task::spawn_blocking(move || {
            let output = service.compiler.compile(&request, None)?;
            let security = output.success.then(|| {
                let report = ricaas_solidity::analyze_compilation(
                    &output,
                    ricaas_solidity::DEFAULT_TIME_LIMIT,
                );
                SecurityCheck::new(&output, report)
            });
            Ok(Compilation { output, security })
        })
        .await
        .map_err(|e| AccountsError::Unavailable(format!("the compilation stopped: {e}")))?
        .map_err(refusal)?;
        if let Some(check) = &compilation.security {
            self.store_security_report(tenant, &compilation.output, check)
                .await?;
        }
        Ok(compilation)
    }

    /// The solcjs releases, newest first, marking those installed here.
    pub async fn compiler_releases(&self) -> Result<Vec<Release>, AccountsError> {
        let service = self.compiler_service()?.clone();
        tokio::task::spawn_blocking(move || service.compiler.releases())
            .await
            .map_err(|e| AccountsError::Unavailable(format!("listing compilers stopped: {e}")))?
            .map_err(refusal)
    }
}
