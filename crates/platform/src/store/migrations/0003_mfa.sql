-- Multi-factor sign-in, lockout after failed sign-ins, and sessions that refresh.
-- Flags are BIGINT 0/1: the portable driver reads no SQLite BOOLEAN.

-- A TOTP secret sealed under the platform's master key (AES-256-GCM); enabled once a first
-- code confirmed it. mfa_last_step is the newest time step used: a code is usable once.
ALTER TABLE accounts ADD COLUMN mfa_secret TEXT;
ALTER TABLE accounts ADD COLUMN mfa_enabled_at BIGINT;
ALTER TABLE accounts ADD COLUMN mfa_last_step BIGINT NOT NULL DEFAULT 0;

-- What a tenant demands of its accounts' sessions.
ALTER TABLE tenants ADD COLUMN mfa_for_login BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN mfa_for_sensitive BIGINT NOT NULL DEFAULT 0;

-- A session is one short-lived access token plus a refresh token; refreshing replaces both
-- and keeps the family, so a refresh token used twice (stolen) ends the whole family.
ALTER TABLE sessions ADD COLUMN family TEXT;
ALTER TABLE sessions ADD COLUMN refresh_hash TEXT;
ALTER TABLE sessions ADD COLUMN refresh_expires_at BIGINT;
ALTER TABLE sessions ADD COLUMN rotated_at BIGINT;
ALTER TABLE sessions ADD COLUMN mfa_verified BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX sessions_refresh ON sessions (refresh_hash);
CREATE INDEX sessions_family ON sessions (family);

-- Failed sign-ins per tenant and account name, whether or not the account exists (so the
-- lockout answer reveals nothing about which names do).
CREATE TABLE login_failures (
    login_key     TEXT PRIMARY KEY,
    failures      BIGINT NOT NULL,
    last_failure  BIGINT NOT NULL,
    locked_until  BIGINT NOT NULL
);
