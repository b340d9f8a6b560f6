-- Issue 7, triage. The statuses become new / in_review / actioned / closed: whether a reporter
-- owes an answer is read from the conversation (its last message is staff's), not stored, so
-- the intake never updates a report row. A closed report records why; a duplicate names the
-- report it repeats; the day a report left `new` is kept for the SLA and for the figures of
-- issue 10 (days only, never a time).
UPDATE reports SET status = 'in_review' WHERE status IN ('triaged', 'needs_info');
UPDATE reports SET status = 'actioned' WHERE status = 'investigating';
ALTER TABLE reports ADD COLUMN closed_reason TEXT;
ALTER TABLE reports ADD COLUMN duplicate_of TEXT;
ALTER TABLE reports ADD COLUMN triaged_day BIGINT;
UPDATE reports SET triaged_day = received_day WHERE status <> 'new';
