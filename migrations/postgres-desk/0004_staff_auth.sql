-- Case desk, part 1: what logging in needs besides staff and staff_keys.
--
-- staff_auth holds no password hash. The password opens the account's sealed secrets
-- (staff_keys.sealed_secrets: X25519 and Ed25519 private keys and the TOTP secret) through
-- Argon2id(password, kdf_salt, secret = desk pepper); a wrong password simply does not open
-- them. Until the first login, one_time holds a verifier of the one-time password that
-- `bisik user add` / `reset` handed out (same Argon2id, same salt); it is NULL once enrolled.
-- kdf_m_kib records the memory cost the salt was used with, so a later change of the setting
-- does not lock existing accounts out. last_totp_step makes each code work once (RFC 6238
-- section 5.2). failures and next_try_at are the per-account back-off (never per IP).
CREATE TABLE staff_auth (
    staff_id TEXT PRIMARY KEY NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    kdf_salt BYTEA NOT NULL,
    kdf_m_kib BIGINT NOT NULL,
    one_time BYTEA,
    last_totp_step BIGINT NOT NULL DEFAULT 0,
    failures BIGINT NOT NULL DEFAULT 0,
    next_try_at BIGINT NOT NULL DEFAULT 0
);

-- A reset makes new keys; the old public halves stay (audit entries signed with them must
-- still verify) with active = 0 and their sealed secrets wiped.
ALTER TABLE staff_keys ADD COLUMN active SMALLINT NOT NULL DEFAULT 1;
