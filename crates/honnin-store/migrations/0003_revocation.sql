-- Revocation: published CRLs per CA generation and scope (full, arl, shard number),
-- the delegated OCSP responder of each CA generation, and signed OCSP responses kept
-- until they go stale or the certificate's status changes.

CREATE TABLE crls (
    ca_id       TEXT NOT NULL,
    scope       TEXT NOT NULL,
    crl_number  BIGINT NOT NULL,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    der         TEXT NOT NULL,
    PRIMARY KEY (ca_id, scope)
);
INSERT INTO counters (name, value) VALUES ('crl', 0);

CREATE TABLE ocsp_responders (
    ca_id      TEXT PRIMARY KEY,
    key_ref    TEXT NOT NULL,
    cert_der   TEXT NOT NULL,
    not_after  BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE ocsp_responses (
    serial      TEXT NOT NULL,
    hash_alg    TEXT NOT NULL,
    ca_id       TEXT NOT NULL,
    der         TEXT NOT NULL,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    PRIMARY KEY (serial, hash_alg)
);

CREATE INDEX certificates_ca_status ON certificates (ca_id, status, serial);
