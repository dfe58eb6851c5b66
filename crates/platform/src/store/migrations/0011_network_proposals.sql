-- Governance proposals the platform sent for a member (removing an organization, changing a
-- policy), followed until they apply on chain so the platform's view of the network follows.

CREATE TABLE network_proposals (
    network_id          TEXT NOT NULL REFERENCES networks (id),
    proposal_id         BIGINT NOT NULL,
    kind                TEXT NOT NULL,
    change              TEXT NOT NULL,
    proposer_tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    status              TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (network_id, proposal_id)
);
