-- Issue 6, the signed audit log (I6) and certification (I5).
--
-- audit_log keeps the columns of 0001 (seq, entry, prev_hash, entry_hash, signature); `entry` is
-- the canonical encoding of src/desk/audit.rs. It is append-only: these triggers refuse UPDATE
-- and DELETE from every connection, so a bug or a stray statement in the desk cannot rewrite
-- history. Someone who can write the file can drop them; `bisik audit verify` (the hash chain,
-- the signatures, the office logbook's checkpoints) is what catches them. The names are listed
-- in src/store/schema_check.rs, so the start-up check accepts them.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- Every signed recipient list the desk has seen, in its JSON file form, by epoch: a report
-- header names the epoch it was wrapped under, and this is where that list can still be read
-- and its signature checked after keys/recipients.json has moved on.
CREATE TABLE recipient_lists (
    epoch BIGINT PRIMARY KEY NOT NULL,
    list TEXT NOT NULL
) WITHOUT ROWID;
