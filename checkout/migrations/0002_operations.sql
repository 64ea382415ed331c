-- The operation engine's journal. Everything that moves money or prints a
-- fiscal document is an operation; an operation runs as steps, and each step
-- is written here (with what its recovery needs) before its device call.
-- Payments and fiscal documents are rows of their own: one operation has zero
-- or more of each. The walking skeleton's `sales` rows are carried over.

CREATE TABLE operations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The client's idempotency key: the same key is the same operation.
    key              TEXT    NOT NULL UNIQUE,
    kind             TEXT    NOT NULL CHECK (kind IN
                     ('sale','refund','void','cash_refund','cash_in','cash_out','x_report')),
    state            TEXT    NOT NULL CHECK (state IN
                     ('running','awaiting_payment','done','declined','cancelled','failed','needs_attention')),
    -- The validated request as JSON, and its fingerprint (a key reused for
    -- another request is refused).
    request          TEXT    NOT NULL,
    request_hash     TEXT    NOT NULL,
    actor            TEXT    NOT NULL,
    merchant         INTEGER NOT NULL DEFAULT 0,
    business_day     TEXT    NOT NULL,            -- the shop's day, YYYY-MM-DD
    total            INTEGER NOT NULL CHECK (total >= 0),   -- minor units
    -- A refund, void or cash refund names the sale it gives money back for.
    original_id      INTEGER REFERENCES operations (id),
    -- The cashier asked to cancel: approved card payments are given back.
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error_code       TEXT,                        -- why it declined, failed or needs attention
    error_message    TEXT,
    created_at       TEXT    NOT NULL,            -- UTC, RFC 3339
    updated_at       TEXT    NOT NULL
);

CREATE INDEX operations_by_state ON operations (state);
CREATE INDEX operations_by_day ON operations (business_day);
CREATE INDEX operations_by_original ON operations (original_id);

-- One attempt of one step of an operation. Written `started` (with what
-- recovery needs) before the device call, then `done` or `failed` with the
-- result. A step run again (print again, a receipt restarted after the
-- register lost it) gets a new attempt; the newest one counts.
CREATE TABLE steps (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    operation_id     INTEGER NOT NULL REFERENCES operations (id),
    name             TEXT    NOT NULL,            -- charge:12, open, pay:12, close, drawer, report...
    attempt          INTEGER NOT NULL DEFAULT 1,
    state            TEXT    NOT NULL CHECK (state IN ('started','done','failed','superseded')),
    recovery         TEXT,                        -- JSON: what `recover` needs
    result           TEXT,                        -- JSON
    error_code       TEXT,
    started_at       TEXT    NOT NULL,
    finished_at      TEXT,
    UNIQUE (operation_id, name, attempt)
);

CREATE INDEX steps_by_operation ON steps (operation_id, id);
CREATE INDEX steps_started ON steps (state) WHERE state = 'started';

CREATE TABLE payments (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    operation_id     INTEGER NOT NULL REFERENCES operations (id),
    -- The key of the request that added this payment (a sale's own payments
    -- carry the sale's key and their position).
    key              TEXT    NOT NULL UNIQUE,
    method           TEXT    NOT NULL CHECK (method IN ('card','cash')),
    -- What the payment does on the card terminal: purchase, refund, void;
    -- `none` for cash.
    card_action      TEXT    NOT NULL CHECK (card_action IN ('none','purchase','refund','void')),
    state            TEXT    NOT NULL CHECK (state IN
                     ('pending','approved','declined','cancelled','reversed','unknown')),
    requested        INTEGER NOT NULL CHECK (requested > 0),
    approved         INTEGER NOT NULL DEFAULT 0 CHECK (approved >= 0),
    tendered         INTEGER,                     -- cash handed over
    change_given     INTEGER,
    -- The payment (card) this one gives money back for: a refund or void.
    refund_of        INTEGER REFERENCES payments (id),
    merchant         INTEGER NOT NULL DEFAULT 0,
    rrn              TEXT,
    auth_code        TEXT,
    masked_pan       TEXT,
    card_scheme      TEXT,
    terminal_id      TEXT,
    merchant_id      TEXT,
    invoice          TEXT,
    batch            TEXT,
    response_code    TEXT,
    card_time        TEXT,
    request_id       TEXT,
    signature_required INTEGER NOT NULL DEFAULT 0,
    decline_code     TEXT,
    decline_message  TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL
);

CREATE INDEX payments_by_operation ON payments (operation_id, id);
CREATE INDEX payments_by_rrn ON payments (rrn) WHERE rrn IS NOT NULL;
CREATE INDEX payments_by_invoice ON payments (invoice) WHERE invoice IS NOT NULL;
CREATE INDEX payments_by_refund_of ON payments (refund_of) WHERE refund_of IS NOT NULL;

-- A masked card number never shows more than the first 6 and the last 4
-- digits: on INSERT and on UPDATE.
CREATE TRIGGER payments_pan_masked_insert
BEFORE INSERT ON payments
WHEN NEW.masked_pan IS NOT NULL
 AND (length(NEW.masked_pan) > 10 AND substr(NEW.masked_pan, 7, length(NEW.masked_pan) - 10) GLOB '*[0-9]*'
      OR length(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
             NEW.masked_pan, '0', ''), '1', ''), '2', ''), '3', ''), '4', ''), '5', ''), '6', ''),
             '7', ''), '8', ''), '9', '')) < length(NEW.masked_pan) - 10)
BEGIN
    SELECT RAISE(ABORT, 'unmasked card number refused');
END;

CREATE TRIGGER payments_pan_masked_update
BEFORE UPDATE OF masked_pan ON payments
WHEN NEW.masked_pan IS NOT NULL
 AND (length(NEW.masked_pan) > 10 AND substr(NEW.masked_pan, 7, length(NEW.masked_pan) - 10) GLOB '*[0-9]*'
      OR length(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
             NEW.masked_pan, '0', ''), '1', ''), '2', ''), '3', ''), '4', ''), '5', ''), '6', ''),
             '7', ''), '8', ''), '9', '')) < length(NEW.masked_pan) - 10)
BEGIN
    SELECT RAISE(ABORT, 'unmasked card number refused');
END;

CREATE TABLE fiscal_documents (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    operation_id     INTEGER NOT NULL REFERENCES operations (id),
    kind             TEXT    NOT NULL CHECK (kind IN
                     ('sale_receipt','return_receipt','cash_in','cash_out','x_report','copy')),
    number           INTEGER,                     -- the register's document number
    amount           INTEGER NOT NULL DEFAULT 0,
    -- The document as the register's electronic journal holds it (read back).
    text             TEXT,
    created_at       TEXT    NOT NULL
);

CREATE INDEX fiscal_documents_by_operation ON fiscal_documents (operation_id);
CREATE INDEX fiscal_documents_by_number ON fiscal_documents (number);

-- Every change of an operation, oldest first: its history for the UI and
-- for support.
CREATE TABLE operation_events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    operation_id     INTEGER NOT NULL REFERENCES operations (id),
    at               TEXT    NOT NULL,
    what             TEXT    NOT NULL,            -- a state, or a step and how it ended
    detail           TEXT
);

CREATE INDEX operation_events_by_operation ON operation_events (operation_id, id);

-- What a person did to an operation (print again, resolve by hand...), with
-- who and why; the request key makes a retried action happen once.
CREATE TABLE actions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    key              TEXT    NOT NULL UNIQUE,
    operation_id     INTEGER NOT NULL REFERENCES operations (id),
    action           TEXT    NOT NULL,
    actor            TEXT    NOT NULL,
    reason           TEXT,
    at               TEXT    NOT NULL
);

-- The skeleton's card sales become operations with one card payment each.
INSERT INTO operations (id, key, kind, state, request, request_hash, actor, merchant,
                        business_day, total, error_code, error_message, created_at, updated_at)
SELECT id, 'legacy-sale-' || id, 'sale',
       CASE state
           WHEN 'done' THEN 'done'
           WHEN 'declined' THEN 'declined'
           WHEN 'cancelled' THEN 'cancelled'
           ELSE 'needs_attention'
       END,
       json_object('legacy', 1, 'amount', amount), 'legacy', 'legacy', merchant,
       business_day, amount,
       CASE WHEN state IN ('done','declined','cancelled') THEN decline_code
            ELSE coalesce(attention_code, 'legacy.unfinished') END,
       CASE WHEN state IN ('done','declined','cancelled') THEN decline_message
            ELSE coalesce(attention_reason, 'left unfinished by an earlier version') END,
       created_at, updated_at
FROM sales;

INSERT INTO payments (operation_id, key, method, card_action, state, requested, approved,
                      merchant, rrn, auth_code, masked_pan, card_scheme, terminal_id, merchant_id,
                      invoice, batch, response_code, card_time, request_id, decline_code,
                      decline_message, created_at, updated_at)
SELECT id, 'legacy-sale-' || id || '-1', 'card', 'purchase',
       CASE WHEN rrn IS NOT NULL THEN 'approved'
            WHEN state = 'declined' THEN 'declined'
            WHEN state = 'cancelled' THEN 'cancelled'
            ELSE 'unknown' END,
       amount, coalesce(approved_amount, 0), merchant, rrn, auth_code, masked_pan, card_scheme,
       terminal_id, merchant_id, invoice, batch, response_code, card_time, request_id,
       decline_code, decline_message, created_at, updated_at
FROM sales;

INSERT INTO fiscal_documents (operation_id, kind, number, amount, created_at)
SELECT id, 'sale_receipt', fiscal_number, amount, updated_at FROM sales WHERE fiscal_number IS NOT NULL;

INSERT INTO operation_events (operation_id, at, what, detail)
SELECT sale_id, at, state, detail FROM sale_events ORDER BY id;

DROP TABLE sale_events;
DROP TABLE sales;
