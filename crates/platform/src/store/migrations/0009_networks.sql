-- Networks as resources: the desired state a tenant asked for (spec), the genesis generated for
-- it once (so a retry after a crash reuses it), its member organizations, its nodes (run by
-- the platform or registered by address) with what was last observed of each, and the long
-- operations that bring a network about.

CREATE TABLE networks (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    owner_tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    consensus        TEXT NOT NULL,
    provisioner      TEXT NOT NULL,
    spec             TEXT NOT NULL,
    genesis          TEXT,
    status           TEXT NOT NULL,
    status_message   TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE TABLE network_members (
    network_id  TEXT NOT NULL REFERENCES networks (id),
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    org         TEXT NOT NULL,
    joined_at   BIGINT NOT NULL,
    PRIMARY KEY (network_id, tenant_id)
);
CREATE INDEX network_members_tenant ON network_members (tenant_id);

CREATE TABLE nodes (
    id                  TEXT PRIMARY KEY,
    network_id          TEXT NOT NULL REFERENCES networks (id),
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    name                TEXT NOT NULL,
    role                TEXT NOT NULL,
    managed             BIGINT NOT NULL,
    rpc_url             TEXT,
    p2p_address         TEXT,
    public_key          TEXT,
    certificate_serial  TEXT,
    desired             TEXT NOT NULL,
    restarts            BIGINT NOT NULL DEFAULT 0,
    last_exit           TEXT,
    last_exit_at        BIGINT,
    observed_height     BIGINT,
    observed_peers      BIGINT,
    observed_ready      BIGINT,
    observed_message    TEXT,
    observed_at         BIGINT,
    created_at          BIGINT NOT NULL,
    UNIQUE (network_id, name)
);

CREATE TABLE operations (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    kind              TEXT NOT NULL,
    target            TEXT NOT NULL,
    status            TEXT NOT NULL,
    step              BIGINT NOT NULL DEFAULT 0,
    steps             BIGINT NOT NULL,
    message           TEXT NOT NULL DEFAULT '',
    error             TEXT,
    attempts          BIGINT NOT NULL DEFAULT 0,
    cancel_requested  BIGINT NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_until       BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX operations_tenant ON operations (tenant_id, created_at);
CREATE INDEX operations_open ON operations (status);
