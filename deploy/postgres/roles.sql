-- Bisik: PostgreSQL roles and grants for the production split.
--
-- Why this file exists
-- --------------------
-- On PostgreSQL the intake and the desk share one database. Invariant I3 says a compromised
-- intake must not be able to read the desk's tables (staff key material, the audit log), and I6
-- says the audit log is append-only. With one database, the only thing that enforces either is
-- the server's own permission system, so each kind of login gets its own role:
--
--   bisik_owner   runs `bisik migrate`; owns the database, both schemas and every table. No
--                 service logs in as this role; use it only for migrations and maintenance.
--   bisik_intake  the public intake. Column by column on the report tables in schema public:
--                 INSERT on what it writes, SELECT only on what follow-ups read, UPDATE only
--                 on reporter_access (re-wrap, revoke) and intake_state; nothing on
--                 report_wraps beyond adding them with a tip; no DELETE anywhere; nothing at
--                 all on schema desk. See the per-table blocks below.
--   bisik_desk    the case desk. What it needs on the report tables, plus schema desk; the
--                 audit log is INSERT and SELECT only, so no UPDATE, DELETE or TRUNCATE can
--                 rewrite history from the desk's connection.
--
-- How to run it
-- -------------
-- As a superuser, connected to the Bisik database (here called `bisik`):
--
--     createdb -U postgres bisik
--     psql -U postgres -d bisik -v ON_ERROR_STOP=1 -f deploy/postgres/roles.sql
--     # migrate as the owner (see "Logging in" below), e.g.:
--     sudo -u bisik-owner env DATABASE_URL='postgres://bisik_owner@localhost/bisik?host=/run/postgresql' bisik migrate
--     psql -U postgres -d bisik -v ON_ERROR_STOP=1 -f deploy/postgres/roles.sql   # again
--
-- The script is idempotent: run it before the first migration (it creates the roles, the
-- schema `desk` and the default privileges), after it (it grants on the tables that now exist)
-- and after every later migration. Always re-run it after `bisik migrate`: default privileges
-- cannot tell the migration bookkeeping table _sqlx_migrations from a real one, so a fresh
-- migration briefly gives the services rights on it, and each run takes them back. Every run
-- also removes rights that were granted by hand in the meantime. If `bisik migrate` was run
-- as another role (for example postgres), the script hands the tables to bisik_owner so the
-- default privileges below apply to what comes later.
--
-- Note for the case desk: the desk role gets no CREATE on the database. Today the desk's
-- connection pool runs `CREATE SCHEMA IF NOT EXISTS desk` when it connects, and PostgreSQL
-- checks CREATE on the database even when the schema already exists, so that statement fails
-- for bisik_desk ("permission denied for database"). The schema is created by `bisik migrate`
-- and by this script; the desk should not try to create it. Do not "fix" this by granting
-- CREATE: it would let the desk role create schemas of its own.
--
-- Roles are cluster-wide, so they are created only when missing; the grants are per database.
-- If several Bisik databases share a cluster, they share these three roles.
--
-- Logging in
-- ----------
-- No password is set or stored here. Prefer peer authentication over the Unix socket, which
-- needs no secret at all. The OS users are bisik-intake / bisik-desk (hyphen) and the roles
-- bisik_intake / bisik_desk (underscore), so map them in pg_ident.conf:
--
--     # pg_ident.conf   MAPNAME   SYSTEM-USERNAME   PG-USERNAME
--                       bisik     bisik-intake      bisik_intake
--                       bisik     bisik-desk        bisik_desk
--                       bisik     bisik-owner       bisik_owner
--     # pg_hba.conf
--     local   bisik   bisik_intake,bisik_desk,bisik_owner   peer map=bisik
--
-- and use database_url = "postgres://bisik_intake@localhost/bisik?host=/run/postgresql".
-- If the database is on another host, set a password interactively instead (it is then never
-- in this file, the shell history or `ps`):
--
--     psql -U postgres -d bisik -c '\password bisik_intake'
--
-- and put the URL with the password in a root-owned 0600 EnvironmentFile as DATABASE_URL,
-- never in the TOML file that is readable by the service and copied around.

\set ON_ERROR_STOP on

BEGIN;

-- Roles (cluster-wide). NOLOGIN/LOGIN only; never SUPERUSER, CREATEDB, CREATEROLE or
-- BYPASSRLS, and the flags are re-asserted on every run in case someone changed them.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bisik_owner') THEN
        CREATE ROLE bisik_owner LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bisik_intake') THEN
        CREATE ROLE bisik_intake LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bisik_desk') THEN
        CREATE ROLE bisik_desk LOGIN;
    END IF;
END
$$;
ALTER ROLE bisik_owner  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;
ALTER ROLE bisik_intake NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;
ALTER ROLE bisik_desk   NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;

-- No role is a member of another: membership would let the intake SET ROLE to the desk or
-- the owner. Remove any that was granted by hand.
DO $$
DECLARE
    m record;
BEGIN
    FOR m IN
        SELECT r.rolname AS parent, u.rolname AS member
        FROM pg_auth_members a
        JOIN pg_roles r ON r.oid = a.roleid
        JOIN pg_roles u ON u.oid = a.member
        WHERE r.rolname IN ('bisik_owner', 'bisik_intake', 'bisik_desk')
           OR u.rolname IN ('bisik_owner', 'bisik_intake', 'bisik_desk')
    LOOP
        EXECUTE format('REVOKE %I FROM %I CASCADE', m.parent, m.member);
    END LOOP;
END
$$;

-- The database: owned by bisik_owner (so it may create the schema desk and its tables), and
-- closed to every other role in the cluster.
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I OWNER TO bisik_owner', current_database());
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM bisik_intake, bisik_desk', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO bisik_intake, bisik_desk', current_database());
END
$$;

-- Schema public holds the report tables. Nobody but the owner creates objects in it (this is
-- the default from PostgreSQL 15 on; older servers let PUBLIC create there).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO bisik_owner;
GRANT USAGE ON SCHEMA public TO bisik_intake, bisik_desk;

-- Schema desk holds staff, staff_keys, staff_auth (0004) and audit_log. `bisik migrate` creates it when missing;
-- creating it here first, owned by bisik_owner, lets this script run before the first
-- migration. The intake gets nothing on it: no USAGE means it cannot even name a table in it.
CREATE SCHEMA IF NOT EXISTS desk AUTHORIZATION bisik_owner;
ALTER SCHEMA desk OWNER TO bisik_owner;
REVOKE ALL ON SCHEMA desk FROM PUBLIC;
REVOKE ALL ON SCHEMA desk FROM bisik_intake;
GRANT USAGE ON SCHEMA desk TO bisik_desk;

-- Hand every existing table (and sequence) in the two schemas to bisik_owner, in case the
-- migrations ran as another role. The database is Bisik's alone, so "every" is safe.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT n.nspname, c.relname, c.relkind
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('public', 'desk')
          AND c.relkind IN ('r', 'p', 'S', 'v', 'm')
          AND pg_get_userbyid(c.relowner) <> 'bisik_owner'
    LOOP
        IF r.relkind = 'S' THEN
            -- Sequences owned by a column follow their table; the rest are moved here.
            IF NOT EXISTS (SELECT 1 FROM pg_depend d
                           WHERE d.objid = format('%I.%I', r.nspname, r.relname)::regclass
                             AND d.deptype IN ('a', 'i')) THEN
                EXECUTE format('ALTER SEQUENCE %I.%I OWNER TO bisik_owner', r.nspname, r.relname);
            END IF;
        ELSE
            EXECUTE format('ALTER TABLE %I.%I OWNER TO bisik_owner', r.nspname, r.relname);
        END IF;
    END LOOP;
END
$$;

-- Default privileges: what tables that `bisik migrate` (as bisik_owner) creates later get
-- before this script runs again. They apply only to objects created by bisik_owner, which is
-- one more reason to migrate as that role.
--
-- Schema public (reports, wraps, reporter access, sealed items, intake state): a new table gets
-- nothing, for either service (issue 5, section 6). The intake's rights are column by column
-- (the per-table blocks further down), and a default grant would hand a new table to the intake
-- whole. A table that a service needs therefore fails loudly ("permission denied") until its
-- block is added below; it never silently opens up. The REVOKEs also undo the table-wide default
-- grants that earlier versions of this script made.
ALTER DEFAULT PRIVILEGES FOR ROLE bisik_owner IN SCHEMA public
    REVOKE ALL ON TABLES FROM bisik_intake, bisik_desk;
ALTER DEFAULT PRIVILEGES FOR ROLE bisik_owner IN SCHEMA public
    REVOKE ALL ON SEQUENCES FROM bisik_intake, bisik_desk;
-- Schema desk: the desk only, and append-only by default. A new desk table gets SELECT and
-- INSERT; UPDATE and DELETE are given table by table in the list further down. A new table
-- that holds history (like audit_log) is therefore safe without anyone remembering to lock it,
-- and a table that needs updates fails loudly until it is added to that list.
-- (A per-schema REVOKE only undoes an earlier per-schema GRANT; this script makes no global
-- default grant, so the intake ends up with nothing here.)
ALTER DEFAULT PRIVILEGES FOR ROLE bisik_owner IN SCHEMA desk
    REVOKE ALL ON TABLES FROM bisik_intake;
ALTER DEFAULT PRIVILEGES FOR ROLE bisik_owner IN SCHEMA desk
    REVOKE ALL ON SEQUENCES FROM bisik_intake;
ALTER DEFAULT PRIVILEGES FOR ROLE bisik_owner IN SCHEMA desk
    REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON TABLES FROM bisik_desk;
ALTER DEFAULT PRIVILEGES FOR ROLE bisik_owner IN SCHEMA desk
    GRANT SELECT, INSERT ON TABLES TO bisik_desk;
ALTER DEFAULT PRIVILEGES FOR ROLE bisik_owner IN SCHEMA desk
    GRANT USAGE, SELECT ON SEQUENCES TO bisik_desk;
-- Nothing created by bisik_owner anywhere is usable by PUBLIC (the default for tables, but
-- functions default to EXECUTE for PUBLIC).
ALTER DEFAULT PRIVILEGES FOR ROLE bisik_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Grants on the tables that exist now, matching the defaults above. Run before the first
-- migration, this finds no tables and the defaults cover them when they appear.
DO $$
DECLARE
    t text;
BEGIN
    -- Start from nothing on every table in both schemas, so a re-run also removes anything
    -- granted by hand since the last run, and whatever the default privileges gave the
    -- migration bookkeeping tables.
    FOR t IN
        SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
        WHERE schemaname IN ('public', 'desk')
    LOOP
        EXECUTE format('REVOKE ALL ON TABLE %s FROM PUBLIC, bisik_intake, bisik_desk', t);
    END LOOP;

    -- Schema public: one block per table (issue 5, section 6). A new table gets a block of its
    -- own here, with the intake's rights column by column: INSERT on what it writes, SELECT only
    -- on what a follow-up reads, UPDATE only where the intake really changes a row, and never
    -- DELETE or TRUNCATE. Each block skips a table that does not exist yet, so this script runs
    -- before the first migration too. The desk keeps whole-table rights on the report tables
    -- (it triages, assigns, closes and purges).

    -- reports: the intake adds a report, and a follow-up reads only its status and closed day
    -- (the delayed `closed`, I11). It never reads priority or assignee and never changes
    -- status, priority, assignee or closed_day: those are the desk's.
    IF to_regclass('public.reports') IS NOT NULL THEN
        GRANT INSERT (id, unit, category, status, priority, received_day, header, header_sig)
            ON public.reports TO bisik_intake;
        GRANT SELECT (id, status, closed_day) ON public.reports TO bisik_intake;
        GRANT SELECT, INSERT, UPDATE, DELETE ON public.reports TO bisik_desk;
    END IF;

    -- report_wraps: HPKE wraps of K_r to escrow and certified staff. The intake writes them with
    -- a new tip and has nothing else on them: it can neither read a wrap nor change or remove
    -- one (a wrap swapped for one to the attacker's key would outlive the compromise).
    IF to_regclass('public.report_wraps') IS NOT NULL THEN
        GRANT INSERT (report_id, recipient_fp, purpose, wrapped)
            ON public.report_wraps TO bisik_intake;
        GRANT SELECT, INSERT, UPDATE, DELETE ON public.report_wraps TO bisik_desk;
    END IF;

    -- desk_wraps (migration 0010): K_r sealed again by the desk for a staff key that already
    -- opened its HPKE wrap (src/desk/rewrap.rs). Only the desk's: the intake has nothing on it,
    -- and a row goes with the report_wraps row it came from (foreign key, ON DELETE CASCADE).
    IF to_regclass('public.desk_wraps') IS NOT NULL THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON public.desk_wraps TO bisik_desk;
    END IF;

    -- reporter_access: a follow-up looks its tag up and reads the row; the intake may re-wrap
    -- K_r to a newer code KDF version (kdf_version, wrapped_key) and revoke a code (revoked).
    -- It can never point a tag at another report or extend a code's life.
    IF to_regclass('public.reporter_access') IS NOT NULL THEN
        GRANT INSERT (tag, report_id, kdf_version, wrapped_key, revoked, expires_day)
            ON public.reporter_access TO bisik_intake;
        GRANT SELECT (tag, report_id, kdf_version, wrapped_key, revoked, expires_day)
            ON public.reporter_access TO bisik_intake;
        GRANT UPDATE (kdf_version, wrapped_key, revoked) ON public.reporter_access TO bisik_intake;
        GRANT SELECT, INSERT, UPDATE, DELETE ON public.reporter_access TO bisik_desk;
    END IF;

    -- items: sealed tips and messages. The intake appends and reads (a follow-up shows the
    -- conversation); it never rewrites or removes an item, not even its own.
    IF to_regclass('public.items') IS NOT NULL THEN
        -- prev (the chain link), day (the daily quota) and idem (the idempotency key) come with
        -- migration 0003.
        GRANT INSERT (id, report_id, seq, kind, direction, sealed, prev, day, idem)
            ON public.items TO bisik_intake;
        GRANT SELECT (id, report_id, seq, kind, direction, sealed, prev, day, idem)
            ON public.items TO bisik_intake;
        GRANT SELECT, INSERT, UPDATE, DELETE ON public.items TO bisik_desk;
    END IF;

    -- blobs: which blob in the blob store belongs to which report (issue 9, migration 0009).
    -- The intake records a blob before writing it and may forget one whose report failed; the
    -- desk reads them; `bisik maintenance blobs` (the owner) removes orphans.
    IF to_regclass('public.blobs') IS NOT NULL THEN
        GRANT SELECT (id, report_id, day), INSERT (id, report_id, day), DELETE
            ON public.blobs TO bisik_intake;
        GRANT SELECT ON public.blobs TO bisik_desk;
    END IF;

    -- intake_state: the intake's own durable facts (highest recipient-list epoch, heartbeat).
    IF to_regclass('public.intake_state') IS NOT NULL THEN
        GRANT SELECT (name, value), INSERT (name, value), UPDATE (value)
            ON public.intake_state TO bisik_intake;
        GRANT SELECT, INSERT, UPDATE, DELETE ON public.intake_state TO bisik_desk;
    END IF;

    -- recipient_revocations (migration 0005): supervisors the desk removed without the offline
    -- key. The intake reads them with every new tip and can neither add nor remove one; the desk
    -- adds them, and a new certification ceremony removes one.
    IF to_regclass('public.recipient_revocations') IS NOT NULL THEN
        GRANT SELECT (recipient_fp) ON public.recipient_revocations TO bisik_intake;
        GRANT SELECT, INSERT, DELETE ON public.recipient_revocations TO bisik_desk;
    END IF;

    -- staff_certificates (migration 0006): investigators certified by a supervisor, published
    -- for the intake, which reads them to trust chain heads those investigators sign. The intake
    -- can neither add nor remove one (a planted row would still need a listed supervisor's
    -- signature); the desk adds one when a supervisor first shares a report with an
    -- investigator and deletes it when the investigator is reset or disabled.
    IF to_regclass('public.staff_certificates') IS NOT NULL THEN
        GRANT SELECT (ed25519_fp, certificate, sig) ON public.staff_certificates TO bisik_intake;
        GRANT SELECT, INSERT, DELETE ON public.staff_certificates TO bisik_desk;
    END IF;

    -- Schema desk: add and read on every table, audit_log included.
    FOR t IN
        SELECT tablename FROM pg_tables
        WHERE schemaname = 'desk' AND tablename <> '_sqlx_migrations'
    LOOP
        EXECUTE format('GRANT SELECT, INSERT ON TABLE desk.%I TO bisik_desk', t);
    END LOOP;

    -- Desk tables whose rows change (accounts are disabled, keys replaced, staff_auth (migration
    -- 0004) records the last TOTP step and the back-off at every login). Add a table here
    -- when a migration needs it; never add audit_log: it is append-only (I6). Its hash chain
    -- and signatures still catch a superuser who rewrites it; this stops the desk's own
    -- connection from trying.
    FOREACH t IN ARRAY ARRAY['staff', 'staff_keys', 'staff_auth']
    LOOP
        IF to_regclass('desk.' || quote_ident(t)) IS NOT NULL THEN
            EXECUTE format('GRANT UPDATE, DELETE ON TABLE desk.%I TO bisik_desk', t);
        END IF;
    END LOOP;

    -- The migration bookkeeping (public._sqlx_migrations and desk._sqlx_migrations) stays the
    -- owner's alone: a service that could edit it could make the next `bisik migrate` skip a
    -- migration. The first loop revoked it and nothing above granted it.
END
$$;

-- Sequences that exist now (there are none in the first migration; this keeps later ones
-- usable after a re-run).
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO bisik_desk;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA desk TO bisik_desk;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA desk FROM bisik_intake;

-- ---- Migration 0003 (conversation integrity): chain heads and key statements ----
-- Insert-only for every service: a head is never changed or removed, a new one is a new row,
-- and verification uses the highest count; so neither service gets UPDATE or DELETE here.
-- The intake appends reporter messages with their heads; it never creates a K_s, so it has
-- nothing on report_key_statements. The desk will add heads of staff items and statements for
-- the K_s it creates.
DO $$
BEGIN
    IF to_regclass('public.item_heads') IS NOT NULL THEN
        REVOKE ALL ON TABLE public.item_heads FROM PUBLIC, bisik_intake, bisik_desk;
        GRANT SELECT, INSERT ON TABLE public.item_heads TO bisik_intake, bisik_desk;
    END IF;
    IF to_regclass('public.report_key_statements') IS NOT NULL THEN
        REVOKE ALL ON TABLE public.report_key_statements FROM PUBLIC, bisik_intake, bisik_desk;
        GRANT SELECT, INSERT ON TABLE public.report_key_statements TO bisik_desk;
    END IF;
END
$$;

COMMIT;

-- Check it (as a superuser, in the same database):
--     SET ROLE bisik_intake;
--     SELECT status, closed_day FROM reports; -- works
--     SELECT assignee FROM reports;          -- ERROR: permission denied for table reports
--     UPDATE reports SET status = 'closed';  -- ERROR: permission denied for table reports
--     UPDATE items SET sealed = sealed;      -- ERROR: permission denied for table items
--     SELECT * FROM report_wraps;            -- ERROR: permission denied for table report_wraps
--     SELECT * FROM desk.staff;              -- ERROR: permission denied for schema desk
--     DELETE FROM reports;                   -- ERROR: permission denied for table reports
--   (tests/integration/production_split.rs tries every forbidden statement.)
--     RESET ROLE;
--     SET ROLE bisik_desk;
--     UPDATE desk.audit_log SET seq = seq;   -- ERROR: permission denied for table audit_log
--     RESET ROLE;
