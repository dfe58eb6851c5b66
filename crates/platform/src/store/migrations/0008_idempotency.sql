-- Writes sent with an Idempotency-Key: the first request's answer, kept for 24 hours so a
-- retry gets the same answer instead of doing the write again. The answer is sealed under the
-- master key (it may hold a secret shown once, such as a generated password).

CREATE TABLE idempotency_keys (
    scope          TEXT NOT NULL,
    key            TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    status         BIGINT,
    content_type   TEXT,
    body           TEXT,
    created_at     BIGINT NOT NULL,
    completed_at   BIGINT,
    PRIMARY KEY (scope, key)
);
