-- Permissions inside a tenant: groups of accounts, IAM policy documents attached to accounts
-- and groups, API keys for business systems, and the audit log of every write.

CREATE TABLE groups (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE group_members (
    group_id    TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    added_at    BIGINT NOT NULL,
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX group_members_account ON group_members (account_id);

-- document is the policy's JSON text as validated on the way in.
CREATE TABLE policies (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    document     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE account_policies (
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    policy_id    TEXT NOT NULL REFERENCES policies (id),
    attached_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, policy_id)
);
CREATE INDEX account_policies_policy ON account_policies (policy_id);

CREATE TABLE group_policies (
    group_id     TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    policy_id    TEXT NOT NULL REFERENCES policies (id),
    attached_at  BIGINT NOT NULL,
    PRIMARY KEY (group_id, policy_id)
);
CREATE INDEX group_policies_policy ON group_policies (policy_id);

-- A key acts for the account that created it, narrowed by its own policy (scope). Only a
-- SHA-256 of its secret is kept.
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    name          TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    scope         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    last_used_at  BIGINT,
    UNIQUE (tenant_id, name)
);

-- Append-only. tenant_id is NULL for the operator's acts and for refused sign-ins that named
-- no existing tenant. Ids begin with the time, so they sort as the entries were written.
CREATE TABLE audit_log (
    id           TEXT PRIMARY KEY,
    at           BIGINT NOT NULL,
    tenant_id    TEXT REFERENCES tenants (id),
    actor        TEXT NOT NULL,
    credential   TEXT NOT NULL,
    action       TEXT NOT NULL,
    resource     TEXT NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    source       TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    status       BIGINT NOT NULL,
    result       TEXT NOT NULL CHECK (result IN ('ok', 'denied', 'failed'))
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, id);
