-- Issue 9, attachments. One row per blob in the blob store, written *before* the blob so that
-- a crash between the blob and its report leaves a row `bisik maintenance blobs` can find:
-- a row whose report never committed, from before yesterday, is an orphan, and so is a blob
-- with no row at all. Only the random blob id, the random report id and the day: the name, type
-- and size are sealed in the item that refers to the blob (I1). Keyed by the random id, so the
-- reshuffle leaves no upload order behind.
CREATE TABLE blobs (
    id TEXT PRIMARY KEY NOT NULL,
    report_id TEXT NOT NULL,
    day BIGINT NOT NULL
) WITHOUT ROWID;
CREATE INDEX blobs_by_report ON blobs (report_id, id);
