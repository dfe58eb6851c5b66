-- Invitations to join a network: sent by a member, accepted or declined by the invitee from its
-- own account, then proposed on chain (add the organization) and voted by the members.

CREATE TABLE invitations (
    id                 TEXT PRIMARY KEY,
    network_id         TEXT NOT NULL REFERENCES networks (id),
    inviter_tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    invitee_tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    status             TEXT NOT NULL,
    message            TEXT NOT NULL DEFAULT '',
    org                TEXT,
    proposal_id        BIGINT,
    detail             TEXT,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX invitations_invitee ON invitations (invitee_tenant_id, created_at);
CREATE INDEX invitations_network ON invitations (network_id, created_at);
