-- The shop's day: fiscal shifts (a business day is the shop-local date on
-- which the open shift began), the day close and its settlements per
-- merchant, the tamper-evident audit log, and the indexes the manager's
-- journal queries run on.

CREATE TABLE shifts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    business_day     TEXT    NOT NULL,            -- YYYY-MM-DD, the shop's date when it opened
    opened_at        TEXT    NOT NULL,            -- UTC, RFC 3339
    closed_at        TEXT,
    -- The day close that closed it.
    close_operation  INTEGER,
    z_number         INTEGER,
    -- JSON: the register's Z totals; the terminal's totals per merchant;
    -- the three-way reconciliation.
    fiscal_totals    TEXT,
    terminal_totals  TEXT,
    reconciliation   TEXT,
    -- The audit chain's head hash printed on the Z report.
    audit_head       TEXT
);

-- At most one shift is open.
CREATE UNIQUE INDEX shifts_one_open ON shifts ((closed_at IS NULL)) WHERE closed_at IS NULL;
CREATE INDEX shifts_by_day ON shifts (business_day);

-- Operations gain the day close among their kinds and the shift they
-- belong to: the table is rebuilt (SQLite cannot change a CHECK).
CREATE TABLE operations_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    key              TEXT    NOT NULL UNIQUE,
    kind             TEXT    NOT NULL CHECK (kind IN
                     ('sale','refund','void','cash_refund','cash_in','cash_out','x_report','day_close')),
    state            TEXT    NOT NULL CHECK (state IN
                     ('running','awaiting_payment','done','declined','cancelled','failed','needs_attention')),
    request          TEXT    NOT NULL,
    request_hash     TEXT    NOT NULL,
    actor            TEXT    NOT NULL,
    merchant         INTEGER NOT NULL DEFAULT 0,
    business_day     TEXT    NOT NULL,
    shift_id         INTEGER REFERENCES shifts (id),
    total            INTEGER NOT NULL CHECK (total >= 0),
    original_id      INTEGER REFERENCES operations (id),
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error_code       TEXT,
    error_message    TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL
);

INSERT INTO operations_new (id, key, kind, state, request, request_hash, actor, merchant,
                            business_day, total, original_id, cancel_requested, error_code,
                            error_message, created_at, updated_at)
SELECT id, key, kind, state, request, request_hash, actor, merchant, business_day, total,
       original_id, cancel_requested, error_code, error_message, created_at, updated_at
FROM operations;

DROP TABLE operations;
ALTER TABLE operations_new RENAME TO operations;

CREATE INDEX operations_by_state ON operations (state);
CREATE INDEX operations_by_day ON operations (business_day, kind, state);
CREATE INDEX operations_by_original ON operations (original_id);
CREATE INDEX operations_by_shift ON operations (shift_id, id);
CREATE INDEX operations_by_created ON operations (created_at);
CREATE INDEX operations_by_kind_day ON operations (kind, business_day);

-- Fiscal documents gain the Z report among their kinds (rebuilt, as above).
CREATE TABLE fiscal_documents_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    operation_id     INTEGER NOT NULL REFERENCES operations (id),
    kind             TEXT    NOT NULL CHECK (kind IN
                     ('sale_receipt','return_receipt','cash_in','cash_out','x_report','z_report','copy')),
    number           INTEGER,
    amount           INTEGER NOT NULL DEFAULT 0,
    text             TEXT,
    created_at       TEXT    NOT NULL
);
INSERT INTO fiscal_documents_new SELECT id, operation_id, kind, number, amount, text, created_at
FROM fiscal_documents;
DROP TABLE fiscal_documents;
ALTER TABLE fiscal_documents_new RENAME TO fiscal_documents;
CREATE INDEX fiscal_documents_by_operation ON fiscal_documents (operation_id);
CREATE INDEX fiscal_documents_by_number ON fiscal_documents (number);

-- Whether a payment gives money back (it belongs to a refund, a void or a
-- cash refund), so a search's totals need not read the operation.
ALTER TABLE payments ADD COLUMN returns INTEGER NOT NULL DEFAULT 0;
UPDATE payments SET returns = 1 WHERE operation_id IN
    (SELECT id FROM operations WHERE kind IN ('refund','void','cash_refund'));

-- The card number's last four digits, for the manager's search.
ALTER TABLE payments ADD COLUMN pan_last4 TEXT
    GENERATED ALWAYS AS (CASE WHEN length(masked_pan) >= 4 THEN substr(masked_pan, -4) END) VIRTUAL;
CREATE INDEX payments_by_last4 ON payments (pan_last4) WHERE pan_last4 IS NOT NULL;
CREATE INDEX payments_by_approved ON payments (approved);
CREATE INDEX payments_by_requested ON payments (requested);
-- A time range with its totals, read from the index alone.
CREATE INDEX payments_by_created ON payments (created_at, state, method, returns, approved, merchant);
CREATE INDEX payments_by_batch ON payments (merchant, batch) WHERE batch IS NOT NULL;

-- A settlement per merchant at a day close; one that could not run (no
-- host link, terminal off) stays pending and runs later.
CREATE TABLE settlements (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    shift_id         INTEGER NOT NULL REFERENCES shifts (id),
    merchant         INTEGER NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('pending','done','empty')),
    totals           TEXT,                        -- JSON: the terminal's batch totals
    receipt          TEXT,                        -- the terminal's slip text
    error_code       TEXT,
    requested_at     TEXT    NOT NULL,
    done_at          TEXT,
    UNIQUE (shift_id, merchant)
);

CREATE INDEX settlements_pending ON settlements (state) WHERE state = 'pending';

-- The audit log: append-only, each row hash-chained to the one before, so
-- an edited, inserted or deleted row shows (`kasa audit verify`).
CREATE TABLE audit (
    id               INTEGER PRIMARY KEY,
    at               TEXT    NOT NULL,
    actor            TEXT    NOT NULL,
    action           TEXT    NOT NULL,
    operation_id     INTEGER,
    reason           TEXT,
    change           TEXT,                        -- JSON: what it changed
    prev_hash        TEXT    NOT NULL,
    hash             TEXT    NOT NULL
);

CREATE INDEX audit_by_operation ON audit (operation_id) WHERE operation_id IS NOT NULL;

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
