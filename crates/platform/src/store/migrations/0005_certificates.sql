-- Each tenant's certificate authority (its key is a software key of the tenant's keystore)
-- and the inventory of every certificate it holds: the CA's own, and those it issued.

CREATE TABLE certificate_authorities (
    tenant_id    TEXT PRIMARY KEY REFERENCES tenants (id),
    org          TEXT NOT NULL,
    key_name     TEXT NOT NULL,
    certificate  TEXT NOT NULL,
    origin       TEXT NOT NULL CHECK (origin IN ('created', 'imported')),
    created_at   BIGINT NOT NULL
);

-- Times are Unix milliseconds; serial is the certificate's serial number in lowercase hex.
CREATE TABLE certificates (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants (id),
    serial             TEXT NOT NULL,
    common_name        TEXT NOT NULL,
    role               TEXT NOT NULL CHECK (role IN ('ca', 'admin', 'client', 'node')),
    key_name           TEXT,
    address            TEXT,
    certificate        TEXT NOT NULL,
    not_before         BIGINT NOT NULL,
    not_after          BIGINT NOT NULL,
    revoked_at         BIGINT,
    revocation_reason  TEXT,
    renewed_from       TEXT,
    created_at         BIGINT NOT NULL,
    UNIQUE (tenant_id, serial)
);
CREATE INDEX certificates_expiry ON certificates (tenant_id, not_after);
