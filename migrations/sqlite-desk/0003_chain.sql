-- Migration 0003 (conversation integrity) changes only the reports tables; the desk's tables
-- are untouched. Kept so the folders stay numbered in lockstep.
SELECT 1;
