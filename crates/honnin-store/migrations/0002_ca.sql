-- The certification authority (JPKI): CA keys and certificates by generation, the link
-- certificates between generations, and every issued certificate with the resident it
-- belongs to (the serial <-> 4 facts table), written in the issuing transaction.

CREATE TABLE ca_keys (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    generation  BIGINT NOT NULL,
    algorithm   TEXT NOT NULL,
    key_store   TEXT NOT NULL,
    key_ref     TEXT NOT NULL,
    cert_der    TEXT NOT NULL,
    not_after   BIGINT NOT NULL,
    active      BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX ca_keys_generation ON ca_keys (kind, generation);

CREATE TABLE ca_links (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    issuer_id       TEXT NOT NULL,
    subject_id      TEXT NOT NULL,
    cert_der        TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE certificates (
    serial            TEXT PRIMARY KEY,
    ca_id             TEXT NOT NULL,
    kind              TEXT NOT NULL,
    my_number         TEXT NOT NULL,
    subject_id        TEXT NOT NULL,
    facts             TEXT NOT NULL,
    not_before        BIGINT NOT NULL,
    not_after         BIGINT NOT NULL,
    issued_at         BIGINT NOT NULL,
    operator          TEXT NOT NULL,
    status            TEXT NOT NULL,
    revoked_at        BIGINT,
    revocation_reason TEXT,
    der               TEXT NOT NULL
);
CREATE INDEX certificates_subject ON certificates (my_number, kind, status);
-- At most one valid certificate of each kind per resident, even under concurrent issuance.
CREATE UNIQUE INDEX certificates_one_valid ON certificates (my_number, kind) WHERE status = 'valid';
