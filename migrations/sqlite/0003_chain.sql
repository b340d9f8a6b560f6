-- Conversation integrity and growth (issue 5, sections 2-4). Written as ALTER TABLE and new
-- tables only, so it applies whether or not 0002 rebuilt the tables before it.
--
-- Items are hash-chained: each item's AAD binds the hash of the previous item, stored here so
-- an item can be opened without reading the items before it (the reporter's page reads only
-- what the reporter may see).
ALTER TABLE items ADD COLUMN prev BLOB;
-- The day an item was written (days since 1970-01-01 UTC): counts the per-report daily message
-- quota. A day, never a time or an order (I1).
ALTER TABLE items ADD COLUMN day BIGINT;
-- A reporter message's idempotency key, as a keyed hash under a key derived from K_r: it links
-- nothing across reports and tells no time.
ALTER TABLE items ADD COLUMN idem BLOB;
CREATE UNIQUE INDEX items_idem ON items (report_id, idem);

-- Adding a message no longer updates reports: the counter was a timeline at rest.
ALTER TABLE reports DROP COLUMN item_seq;

-- Signed chain heads: (item count, last item hash), signed by whoever appended. Insert-only:
-- a new head is a new row, and verification uses the highest count.
CREATE TABLE item_heads (
    report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    item_count BIGINT NOT NULL,
    head BLOB NOT NULL,                     -- canonical ChainHead (src/crypto/chain.rs)
    sig BLOB NOT NULL,                      -- Ed25519 by the key the head's signer field names
    PRIMARY KEY (report_id, item_count)
) WITHOUT ROWID;

-- Signed statements vouching for a report key the desk creates (K_s), by a staff key.
CREATE TABLE report_key_statements (
    report_id TEXT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    purpose SMALLINT NOT NULL,             -- 2 = K_s
    statement BLOB NOT NULL,                -- canonical KeyStatement (src/crypto/chain.rs)
    sig BLOB NOT NULL,
    PRIMARY KEY (report_id, purpose)
) WITHOUT ROWID;
