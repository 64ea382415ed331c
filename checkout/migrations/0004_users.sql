-- The people who use the till: each logs in with a PIN (kept only as an
-- argon2 hash), has a role, and is the fiscal register's operator with a
-- number, so the receipts they print name them. Repeated wrong PINs lock a
-- user out for a while; the count and the end of the lockout are kept here so
-- a restart does not reset them. Logins, lockouts, approvals and changes of
-- users go to the audit log.

CREATE TABLE users (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL,
    role             TEXT    NOT NULL CHECK (role IN ('cashier','manager','installer')),
    pin_hash         TEXT    NOT NULL,            -- argon2id, PHC string
    operator         INTEGER NOT NULL CHECK (operator BETWEEN 1 AND 30),
    language         TEXT    CHECK (language IN ('uk','ru','en')),
    -- A demo mode's training user: never accepted once devices are configured.
    training         INTEGER NOT NULL DEFAULT 0,
    active           INTEGER NOT NULL DEFAULT 1,
    failed_pins      INTEGER NOT NULL DEFAULT 0,
    locked_until     TEXT,                        -- UTC, RFC 3339
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL
);

-- Two active users never share a name (the login screen lists them by name).
CREATE UNIQUE INDEX users_active_name ON users (name) WHERE active = 1;

-- The fiscal operator each operation's documents were printed as (the
-- logged-in user's), so a receipt printed again names the same cashier.
ALTER TABLE operations ADD COLUMN operator INTEGER;
