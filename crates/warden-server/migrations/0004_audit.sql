-- The audit log: what happened, when, by whom, to whom, from where. Never a secret.
CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    at         BIGINT NOT NULL,
    event      TEXT NOT NULL,
    actor      TEXT,
    subject    TEXT,
    ip         TEXT,
    detail     TEXT
);
CREATE INDEX audit_log_at ON audit_log (tenant_id, at);
CREATE INDEX audit_log_event ON audit_log (tenant_id, event, at);
CREATE INDEX audit_log_subject ON audit_log (tenant_id, subject, at);
