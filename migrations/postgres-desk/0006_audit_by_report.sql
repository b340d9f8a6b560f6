-- Issue 7, a report's history on its page: the report an audit entry is about, beside the
-- entry, so the page reads its history without scanning the whole log. Not signed: the page
-- decodes each entry and shows it only when the signed event names this report, so a changed
-- column can hide history from the page but never put a false line in it; `bisik audit
-- verify` still covers every entry. Entries written before this migration have none.
ALTER TABLE audit_log ADD COLUMN report_id TEXT;
CREATE INDEX audit_log_by_report ON audit_log (report_id, seq);
