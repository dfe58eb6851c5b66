//! Solidity compilation for tenants: [`ricaas_solc`] behind the platform's errors, on blocking
//! threads, at most [`CONCURRENT_COMPILATIONS`] at once (each is a Node.js process holding a
//! compiler of tens of megabytes), the rest waiting their turn.

use crate::accounts::{AccountsError, Platform};
use ricaas_solc::CompileError;
pub use ricaas_solc::{CompileOutput, CompileRequest, Compiler, Release};
use std::sync::Arc;

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

    /// Compiles `request` with the release its pragmas allow (or the one it names).
    pub async fn compile(&self, request: CompileRequest) -> Result<CompileOutput, AccountsError> {
        let service = self.compiler_service()?.clone();
        let _permit = service
            .permits
            .acquire_owned()
            .await
            .map_err(|_| AccountsError::Unavailable("the compiler is shutting down".into()))?;
        tokio::task::spawn_blocking(move || service.compiler.compile(&request, None))
            .await
            .map_err(|e| AccountsError::Unavailable(format!("the compilation stopped: {e}")))?
            .map_err(refusal)
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
