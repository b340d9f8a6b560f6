-- Issue 6, investigators certified by a supervisor (I5). The desk publishes each investigator
-- certification here as a StaffCertificate (src/crypto/certificate.rs) signed by the certifying
-- supervisor's Ed25519 key, because the intake cannot read the desk's audit log and still has
-- to decide whether a chain head signed by that investigator may be extended by the reporter's
-- next message. The intake trusts a row only when its signer is a supervisor on the recipient
-- list that the organisation key signed, so a row written straight into this table certifies
-- nothing. Resetting or disabling the investigator deletes the row and records the revocation.
CREATE TABLE staff_certificates (
    ed25519_fp TEXT PRIMARY KEY NOT NULL,   -- hex fingerprint of the certified Ed25519 key
    certificate BYTEA NOT NULL,                -- canonical StaffCertificate
    sig BYTEA NOT NULL                         -- Ed25519 by the supervisor its signer field names
)
;

-- The desk's inbox lists the reports wrapped to one staff key: without this index that is a
-- scan of every wrap (issue 7 targets 100,000 reports).
CREATE INDEX report_wraps_by_recipient ON report_wraps (recipient_fp, purpose);
