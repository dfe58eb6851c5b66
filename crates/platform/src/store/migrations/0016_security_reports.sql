-- Security reports of compiled sources, one per tenant and report hash (the hash covers the
-- sources, the compiler, the contracts' code and the findings, so a report never changes).
-- `report` is the checker's JSON (findings, files, incomplete); `builds` the contracts compiled
-- with it and their code hashes, which a proposed version's code must match.
CREATE TABLE security_reports (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    report_hash  TEXT NOT NULL,
    source_hash  TEXT NOT NULL,
    compiler     TEXT NOT NULL,
    report       TEXT NOT NULL,
    builds       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, report_hash)
);
CREATE INDEX security_reports_hash ON security_reports (report_hash);
-- A finding the organization resolved without changing the code (a false positive, or a risk
-- it accepts), with the reason and who gave it. A resolution is final: a report never changes.
CREATE TABLE security_resolutions (
    tenant_id    TEXT NOT NULL,
    report_hash  TEXT NOT NULL,
    finding      TEXT NOT NULL,
    reason       TEXT NOT NULL,
    account      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, report_hash, finding),
    FOREIGN KEY (tenant_id, report_hash) REFERENCES security_reports (tenant_id, report_hash)
);
