-- Issue 6, certification (I5): revocation without the offline key. A supervisor who is reset or
-- disabled is recorded here by the desk, and the intake, which reads this table with every new
-- report, wraps nothing to that key from then on, whatever the signed recipient list still says.
-- Removing a recipient can only narrow access, so no offline signature is needed; putting one
-- back takes a new certification ceremony, which deletes the row. A row here is only as strong
-- as the database and its backups: restoring a backup from before the revocation undoes it
-- until the next ceremony re-signs the list without that key (docs/DESIGN-NOTES.md).
CREATE TABLE recipient_revocations (
    recipient_fp TEXT PRIMARY KEY NOT NULL,  -- hex fingerprint of the X25519 key
    day BIGINT NOT NULL                      -- day of the revocation; never a time
)
;
