-- Migration 0004 (case desk accounts) changes only the desk tables. Kept so the folders stay
-- numbered in lockstep.
SELECT 1;
