-- Channels proposed on a network from the platform: the genesis configuration exactly as its
-- member organizations sign it, each organization's approval (its admin's signature), and the
-- validator nodes that joined it.

CREATE TABLE network_channels (
    network_id          TEXT NOT NULL REFERENCES networks (id),
    name                TEXT NOT NULL,
    chain_id            BIGINT NOT NULL,
    proposer_tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    config              TEXT NOT NULL,
    members             TEXT NOT NULL,
    validators          TEXT NOT NULL,
    status              TEXT NOT NULL,
    message             TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (network_id, name)
);

CREATE TABLE network_channel_approvals (
    network_id   TEXT NOT NULL,
    channel      TEXT NOT NULL,
    org          TEXT NOT NULL,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    key_name     TEXT NOT NULL,
    certificate  TEXT NOT NULL,
    signature    TEXT NOT NULL,
    approved_at  BIGINT NOT NULL,
    PRIMARY KEY (network_id, channel, org),
    FOREIGN KEY (network_id, channel) REFERENCES network_channels (network_id, name)
);

CREATE TABLE network_channel_nodes (
    network_id  TEXT NOT NULL,
    channel     TEXT NOT NULL,
    node_id     TEXT NOT NULL REFERENCES nodes (id),
    joined_at   BIGINT NOT NULL,
    PRIMARY KEY (network_id, channel, node_id),
    FOREIGN KEY (network_id, channel) REFERENCES network_channels (network_id, name)
);
