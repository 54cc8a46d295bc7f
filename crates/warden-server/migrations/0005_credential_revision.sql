-- A counter moved by every change that can make a stored API key invalid or change what it may
-- do: a key revoked, its owner disabled or deleted, a role or scope granted or taken away, a
-- client removed. Servers keep the keys they have checked in memory and, on every request,
-- confirm that this counter has not moved since (one read shared by all requests in flight), so
-- a change made anywhere (admin API, CLI, another instance) applies to the next request.
CREATE TABLE credential_revision (
    id  INTEGER PRIMARY KEY,
    n   BIGINT NOT NULL
);
INSERT INTO credential_revision (id, n) VALUES (1, 0);
