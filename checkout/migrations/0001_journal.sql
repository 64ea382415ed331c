-- The sale journal: one row per card or cash sale, written ahead of every
-- device call, plus an append-only log of each state the sale went through.

CREATE TABLE sales (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at       TEXT    NOT NULL,              -- UTC, RFC 3339
    business_day     TEXT    NOT NULL,              -- the shop's day, YYYY-MM-DD
    kind             TEXT    NOT NULL CHECK (kind IN ('card')),
    amount           INTEGER NOT NULL CHECK (amount > 0),   -- minor units
    merchant         INTEGER NOT NULL DEFAULT 0,
    state            TEXT    NOT NULL,
    terminal_request TEXT,                          -- what recovery needs (JSON), written before sending
    rrn              TEXT,
    auth_code        TEXT,
    masked_pan       TEXT,
    card_scheme      TEXT,
    terminal_id      TEXT,
    merchant_id      TEXT,
    invoice          TEXT,
    batch            TEXT,
    response_code    TEXT,
    card_time        TEXT,                          -- the terminal's local time
    request_id       TEXT,
    approved_amount  INTEGER,
    fiscal_number    INTEGER,
    decline_code     TEXT,
    decline_message  TEXT,
    attention_code   TEXT,                          -- e.g. fiscal.paper_out
    attention_reason TEXT,
    updated_at       TEXT    NOT NULL
);

CREATE INDEX sales_by_day ON sales (business_day);
CREATE INDEX sales_by_state ON sales (state);
CREATE INDEX sales_by_rrn ON sales (rrn);

CREATE TABLE sale_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    sale_id  INTEGER NOT NULL REFERENCES sales (id),
    at       TEXT    NOT NULL,
    state    TEXT    NOT NULL,
    detail   TEXT
);

CREATE INDEX sale_events_by_sale ON sale_events (sale_id, id);

-- A masked card number never holds more than the first 6 and last 4 digits.
CREATE TRIGGER sales_pan_masked
BEFORE UPDATE OF masked_pan ON sales
WHEN NEW.masked_pan IS NOT NULL
 AND length(NEW.masked_pan) >= 12
 AND substr(NEW.masked_pan, 7, length(NEW.masked_pan) - 10) GLOB '*[0-9]*'
BEGIN
    SELECT RAISE(ABORT, 'unmasked card number refused');
END;
