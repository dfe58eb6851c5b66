-- The custodial keystore. A software key's private half is sealed (AES-256-GCM) under its own
-- data key, and the data key under the platform's master key (envelope encryption); a PKCS#11
-- key's private half never leaves the HSM, which finds it by hsm_id (CKA_ID). A destroyed key
-- keeps its row (public half, history) and loses its private half.

CREATE TABLE keys (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    name          TEXT NOT NULL,
    algorithm     TEXT NOT NULL CHECK (algorithm IN ('secp256k1', 'p256', 'ed25519', 'sm2')),
    backend       TEXT NOT NULL CHECK (backend IN ('software', 'pkcs11')),
    origin        TEXT NOT NULL CHECK (origin IN ('generated', 'imported')),
    public_key    TEXT NOT NULL,
    address       TEXT,
    sealed_key    TEXT,
    wrapped_key   TEXT,
    hsm_id        TEXT,
    created_at    BIGINT NOT NULL,
    destroyed_at  BIGINT,
    UNIQUE (tenant_id, name)
);
