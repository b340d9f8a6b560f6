-- Issue 7, the inbox at 100,000 reports (docs/BENCHMARKS.md). The first page walks the reports
-- newest first and stops after a page instead of joining and sorting every wrap; the triage
-- flag counts read the new reports by day; the answer flag starts from the reporter's messages
-- (a tenth of the reports have any) instead of probing the items of every report. Each index
-- is keyed by stored columns and the random id only, and the reshuffle rebuilds it in key order
-- like the tables (I1).
CREATE INDEX reports_by_day ON reports (received_day, id);
CREATE INDEX reports_by_status_day ON reports (status, received_day, id);
CREATE INDEX items_by_kind_day ON items (kind, direction, day);
-- A report's unanswered reporter messages (the page's markers, the SLA filters): without it,
-- SQLite answers MIN(day) from the index above and reads every reporter message of every
-- report once per report on the page.
CREATE INDEX items_by_report_kind_day ON items (report_id, kind, direction, day);
