//! The platform's store: one SQL schema with versioned migrations, on SQLite (a file under the
//! data directory, the embedded default) or PostgreSQL (the production store), chosen by the
//! connection URL. Queries are written once in SQL both accept.

use sha2::{Digest, Sha256};
use sqlx::{AnyPool, any::AnyPoolOptions};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(
        "unsupported database URL {0:?}: use sqlite://<path> or postgres://<user>@<host>/<database>"
    )]
    UnsupportedUrl(String),
    #[error(
        "migration {version} ({name}) differs from the one applied to this database (checksum {stored}, this build has {expected}); migrations must never change once released"
    )]
    MigrationChanged {
        version: i64,
        name: &'static str,
        stored: String,
        expected: String,
    },
    #[error(
        "the database is at schema version {found}, newer than this build knows ({known}): run a newer ricaas"
    )]
    NewerSchema { found: i64, known: i64 },
}

/// Which SQL server holds the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

/// Every schema change, in order. A released migration never changes: the store refuses to
/// open a database whose applied migration has another checksum.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts",
        sql: include_str!("migrations/0001_accounts.sql"),
    },
    Migration {
        version: 2,
        name: "iam",
        sql: include_str!("migrations/0002_iam.sql"),
    },
    Migration {
        version: 3,
        name: "mfa",
        sql: include_str!("migrations/0003_mfa.sql"),
    },
    Migration {
        version: 4,
        name: "keys",
        sql: include_str!("migrations/0004_keys.sql"),
    },
    Migration {
        version: 5,
        name: "certificates",
        sql: include_str!("migrations/0005_certificates.sql"),
    },
    Migration {
        version: 6,
        name: "channels",
        sql: include_str!("migrations/0006_channels.sql"),
    },
    Migration {
        version: 7,
        name: "signups_quotas",
        sql: include_str!("migrations/0007_signups_quotas.sql"),
    },
    Migration {
        version: 8,
        name: "idempotency",
        sql: include_str!("migrations/0008_idempotency.sql"),
    },
    Migration {
        version: 9,
        name: "networks",
        sql: include_str!("migrations/0009_networks.sql"),
    },
    Migration {
        version: 10,
        name: "invitations",
        sql: include_str!("migrations/0010_invitations.sql"),
    },
    Migration {
        version: 11,
        name: "network_proposals",
        sql: include_str!("migrations/0011_network_proposals.sql"),
    },
    Migration {
        version: 12,
        name: "network_channels",
        sql: include_str!("migrations/0012_network_channels.sql"),
    },
    Migration {
        version: 13,
        name: "node_departures",
        sql: include_str!("migrations/0013_node_departures.sql"),
    },
    Migration {
        version: 14,
        name: "network_contracts",
        sql: include_str!("migrations/0014_network_contracts.sql"),
    },
    Migration {
        version: 15,
        name: "contract_invocations",
        sql: include_str!("migrations/0015_contract_invocations.sql"),
    },
    Migration {
        version: 16,
        name: "security_reports",
        sql: include_str!("migrations/0016_security_reports.sql"),
    },
];

/// The schema version this build migrates to.
pub fn known_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// A connection pool to the platform's database, migrated to this build's schema.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects to `url` (`sqlite://<path>?mode=rwc` or `postgres://…`) and applies the
    /// migrations it lacks.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL with a full sync at every commit: a write that was answered is on
                        // disk (it survives kill -9 and power loss), and readers never wait for
                        // the writer.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA busy_timeout = 5000",
                        ] {
                            sqlx::Executor::execute(&mut *conn, pragma).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        let store = Self { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// The URL of the embedded default: a SQLite file at `path`, created if missing.
    pub fn sqlite_url(path: &Path) -> String {
        format!("sqlite://{}?mode=rwc", path.display())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The newest schema version applied.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let (version,): (i64,) =
            sqlx::query_as("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                .fetch_one(&self.pool)
                .await?;
        Ok(version)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (\
               version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, \
               applied_at BIGINT NOT NULL)",
        )
        .execute(&self.pool)
        .await?;
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            // Replicas starting together apply each migration once: the first takes this
            // transaction-scoped lock, the others wait and then find the work done.
            sqlx::query(
                "SELECT 1 FROM (SELECT pg_advisory_xact_lock(7262616173)) AS migration_lock",
            )
            .execute(&mut *tx)
            .await?;
        }
        let applied: Vec<(i64, String)> =
            sqlx::query_as("SELECT version, checksum FROM schema_migrations ORDER BY version")
                .fetch_all(&mut *tx)
                .await?;
        let known = MIGRATIONS.last().map_or(0, |m| m.version);
        if let Some((found, _)) = applied.iter().find(|(v, _)| *v > known) {
            return Err(StoreError::NewerSchema {
                found: *found,
                known,
            });
        }
        for migration in MIGRATIONS {
            let checksum = hex::encode(Sha256::digest(migration.sql.as_bytes()));
            match applied.iter().find(|(v, _)| *v == migration.version) {
                Some((_, stored)) if *stored == checksum => continue,
                Some((_, stored)) => {
                    return Err(StoreError::MigrationChanged {
                        version: migration.version,
                        name: migration.name,
                        stored: stored.clone(),
                        expected: checksum,
                    });
                }
                None => {}
            }
            sqlx::raw_sql(migration.sql).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(migration.version)
            .bind(migration.name)
            .bind(checksum)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "schema migration applied"
            );
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Wall-clock Unix milliseconds, as the store keeps times.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
