-- Issue 5, section 2: the SQLite twin rebuilds its tables WITHOUT ROWID. PostgreSQL has no rowid;
-- its physical order (ctid, xmin, pg_dump order) is undone by the reshuffle instead
-- (src/store/reshuffle.rs). Nothing to change here; the file keeps the numbers in lockstep.
SELECT 1;
