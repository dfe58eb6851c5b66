-- Channels the platform may reach (registered by the operator; `ricaas up` registers its
-- own), and which certificates are enrolled on which channel by which admin key.

CREATE TABLE channels (
    id          TEXT PRIMARY KEY,
    network     TEXT NOT NULL,
    name        TEXT NOT NULL,
    rpc_url     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (network, name)
);

CREATE TABLE enrolments (
    certificate_id  TEXT NOT NULL REFERENCES certificates (id),
    channel_id      TEXT NOT NULL REFERENCES channels (id),
    admin_key       TEXT NOT NULL,
    account         TEXT NOT NULL,
    enroll_tx       TEXT NOT NULL,
    enrolled_block  BIGINT NOT NULL,
    enrolled_at     BIGINT NOT NULL,
    revoke_tx       TEXT,
    revoked_block   BIGINT,
    revoked_at      BIGINT,
    PRIMARY KEY (certificate_id, channel_id)
);
