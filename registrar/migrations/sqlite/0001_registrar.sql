-- Location service (RFC 3261 section 10): one row per binding; times are milliseconds since the Unix epoch.
CREATE TABLE IF NOT EXISTS registrar_location (
    aor            TEXT    NOT NULL,
    binding_key    TEXT    NOT NULL,
    contact        TEXT    NOT NULL,
    expires_at     INTEGER NOT NULL,
    q              INTEGER,
    call_id        TEXT    NOT NULL,
    cseq           INTEGER NOT NULL,
    instance       TEXT,
    reg_id         INTEGER,
    path           TEXT    NOT NULL,
    flow_token     BLOB,
    flow_transport TEXT,
    flow_remote    TEXT,
    user_agent     TEXT,
    PRIMARY KEY (aor, binding_key)
);

CREATE INDEX IF NOT EXISTS registrar_location_expires_at ON registrar_location (expires_at);

-- Digest credentials: HA1 per algorithm, never the password.
CREATE TABLE IF NOT EXISTS registrar_credential (
    username  TEXT NOT NULL,
    realm     TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    ha1       TEXT NOT NULL,
    PRIMARY KEY (username, realm, algorithm)
);
