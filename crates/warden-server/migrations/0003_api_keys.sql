-- API keys for systems: `wdn_<id>_<secret>`; the table keeps the id and a keyed digest of the secret.
CREATE TABLE api_keys (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    name             TEXT NOT NULL,
    owner_user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
    owner_client_id  TEXT REFERENCES clients(id) ON DELETE CASCADE,
    digest           TEXT NOT NULL,
    scopes           TEXT NOT NULL,
    expires_at       BIGINT,
    created_at       BIGINT NOT NULL,
    last_used_at     BIGINT,
    revoked_at       BIGINT
);
