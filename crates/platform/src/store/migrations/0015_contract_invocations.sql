-- Invocations sent through the contract gateway: each answered with this record's id, its
-- outcome filled in when the receipt is read (at once with ?confirm=true, else on first look).
CREATE TABLE contract_invocations (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    network_id        TEXT NOT NULL REFERENCES networks (id),
    contract          TEXT NOT NULL,
    method            TEXT NOT NULL,
    key_name          TEXT NOT NULL,
    transaction_hash  TEXT NOT NULL,
    status            TEXT NOT NULL,
    block_number      BIGINT,
    gas_used          BIGINT,
    events            TEXT,
    revert_reason     TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX contract_invocations_list ON contract_invocations (tenant_id, network_id, contract, created_at);
