-- Issue 6, the signed audit log (I6) and certification (I5).
--
-- audit_log keeps the columns of 0001 (seq, entry, prev_hash, entry_hash, signature); `entry` is
-- the canonical encoding of src/desk/audit.rs. On PostgreSQL it is append-only through the
-- grants: the desk role has INSERT and SELECT on it and nothing else
-- (deploy/postgres/roles.sql). `bisik audit verify` catches whoever has more.

-- Every signed recipient list the desk has seen, in its JSON file form, by epoch: a report
-- header names the epoch it was wrapped under, and this is where that list can still be read
-- and its signature checked after keys/recipients.json has moved on.
CREATE TABLE recipient_lists (
    epoch BIGINT PRIMARY KEY NOT NULL,
    list TEXT NOT NULL
);
