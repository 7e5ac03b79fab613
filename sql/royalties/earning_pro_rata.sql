-- The tracks that earn under pro_rata (an EARNING relation of royalties/ledger.sql): every track with splits.
-- No binds.
SELECT DISTINCT s.TRACK_ID FROM ROYALTY_SPLITS AS s
