-- honnin schema, version 1. One dialect for SQLite and PostgreSQL:
-- instants are BIGINT microseconds since the epoch (UTC), dates are 'YYYY-MM-DD' TEXT,
-- identifiers and hashes are TEXT. {INT_PK} and {CLUSTERED} are filled in per backend.

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('outbox', 0);

-- 住民票: the current record of each resident, derived from resident_events.
-- Rows are never deleted: removed records (除票) keep status moved_out/deceased.
CREATE TABLE residents (
    my_number      TEXT PRIMARY KEY,
    resident_code  TEXT NOT NULL UNIQUE,
    municipality   TEXT NOT NULL,
    name           TEXT NOT NULL,
    name_kana      TEXT NOT NULL,
    alias          TEXT,
    birth_date     TEXT NOT NULL,
    sex            BIGINT NOT NULL,
    address        TEXT NOT NULL,
    name_flags     TEXT NOT NULL,
    address_flags  TEXT NOT NULL,
    status         TEXT NOT NULL,
    version        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
) {CLUSTERED};
CREATE INDEX residents_municipality ON residents (municipality, my_number);
CREATE INDEX residents_birth ON residents (birth_date, sex);

-- 異動履歴: append-only history; each row holds the record as it stood after the event.
CREATE TABLE resident_events (
    my_number      TEXT NOT NULL,
    version        BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    effective_date TEXT NOT NULL,
    reason         TEXT NOT NULL,
    municipality   TEXT NOT NULL,
    operator       TEXT NOT NULL,
    recorded_at    BIGINT NOT NULL,
    snapshot       TEXT NOT NULL,
    PRIMARY KEY (my_number, version)
) {CLUSTERED};

-- The outbox: events for other services, numbered gap-free under the 'outbox' counter lock.
CREATE TABLE outbox (
    seq        {INT_PK},
    topic      TEXT NOT NULL,
    event_key  TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE outbox_offsets (
    consumer TEXT PRIMARY KEY,
    last_seq BIGINT NOT NULL
);

-- The audit log: append-only and hash-chained (each hash commits to the previous one).
CREATE TABLE audit_log (
    seq       {INT_PK},
    at        BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    operator  TEXT NOT NULL,
    agency    TEXT,
    basis     TEXT,
    subject   TEXT,
    items     TEXT NOT NULL,
    result    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, seq);
CREATE INDEX audit_log_at ON audit_log (at);
-- One row: the chain head, and where the retained part of the chain starts after purges.
CREATE TABLE audit_state (
    id              BIGINT PRIMARY KEY,
    head_seq        BIGINT NOT NULL,
    head_hash       TEXT NOT NULL,
    head_at         BIGINT NOT NULL,
    first_seq       BIGINT NOT NULL,
    first_prev_hash TEXT NOT NULL
);
INSERT INTO audit_state (id, head_seq, head_hash, head_at, first_seq, first_prev_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0, 1,
        '0000000000000000000000000000000000000000000000000000000000000000');

-- Operators and their credentials.
CREATE TABLE operators (
    id            TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    municipality  TEXT,
    agency        TEXT,
    password_hash TEXT,
    totp_secret   TEXT,
    disabled      BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    operator   TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    operator   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    ended_at   BIGINT
);

-- Agencies (行政機関等) and the legal bases (法令上の根拠) each may cite.
CREATE TABLE agencies (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE legal_bases (
    agency      TEXT NOT NULL,
    code        TEXT NOT NULL,
    description TEXT NOT NULL,
    items       TEXT NOT NULL,
    PRIMARY KEY (agency, code)
);

-- 申出: a resident's request to correct their record.
CREATE TABLE correction_requests (
    id         TEXT PRIMARY KEY,
    my_number  TEXT NOT NULL,
    fields     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    status     TEXT NOT NULL,
    note       TEXT NOT NULL,
    operator   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX correction_requests_subject ON correction_requests (my_number);
