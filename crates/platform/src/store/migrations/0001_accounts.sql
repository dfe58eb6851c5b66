-- Tenants (organizations), the accounts that sign in, and their sessions.
-- Portable SQL: the same text runs on SQLite and PostgreSQL. Times are Unix milliseconds.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

-- tenant_id is NULL for the platform operator's accounts.
CREATE TABLE accounts (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT REFERENCES tenants (id),
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('operator', 'root', 'sub')),
    password_hash  TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    disabled_at    BIGINT
);
CREATE UNIQUE INDEX accounts_tenant_name ON accounts (tenant_id, name) WHERE tenant_id IS NOT NULL;
CREATE UNIQUE INDEX accounts_operator_name ON accounts (name) WHERE tenant_id IS NULL;

-- Only a SHA-256 of each session token is kept: a copy of the database signs no one in.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX sessions_account ON sessions (account_id);
