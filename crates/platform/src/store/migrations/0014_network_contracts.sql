-- Deployments proposed through the platform: the creation code waits here until the members
-- approve it on chain; then the platform sends it, signed by the proposer's admin key.
CREATE TABLE network_contracts (
    network_id          TEXT NOT NULL REFERENCES networks (id),
    name                TEXT NOT NULL,
    proposer_tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    admin_key           TEXT NOT NULL,
    bytecode            TEXT NOT NULL,
    proposal_id         BIGINT NOT NULL,
    status              TEXT NOT NULL,
    address             TEXT,
    -- The creation transaction once sent: a platform restarted before its receipt follows it
    -- instead of sending a second creation.
    creation_tx         TEXT,
    message             TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (network_id, name)
);
