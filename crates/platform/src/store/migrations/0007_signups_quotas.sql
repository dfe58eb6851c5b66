-- Sign-up by e-mail (a pending request until its link is followed) and per-tenant quotas the
-- operator sets.

CREATE TABLE signups (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    tenant_name    TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    token_hash     TEXT NOT NULL UNIQUE,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    verified_at    BIGINT
);
CREATE INDEX signups_tenant ON signups (tenant_name);

ALTER TABLE tenants ADD COLUMN contact_email TEXT;
ALTER TABLE tenants ADD COLUMN max_accounts BIGINT NOT NULL DEFAULT 100;
ALTER TABLE tenants ADD COLUMN max_keys BIGINT NOT NULL DEFAULT 100;
ALTER TABLE tenants ADD COLUMN max_api_keys BIGINT NOT NULL DEFAULT 50;
