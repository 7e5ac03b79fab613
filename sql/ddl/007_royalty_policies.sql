-- Royalty policies (issue 14, section 5). STREAM_EVENTS.LISTENER_ID: who played the stream, for the user_centric
-- policy (NULL on events recorded before it existed; docs/royalties.md says how they are treated).
-- ROYALTY_RUNS.POLICY: the policy a period was computed with (pro_rata, streaming_2024 or user_centric; NULL on
-- rows written before policies existed, which were all pro_rata).
ALTER TABLE STREAM_EVENTS ADD COLUMN IF NOT EXISTS LISTENER_ID VARCHAR;
ALTER TABLE ROYALTY_RUNS ADD COLUMN IF NOT EXISTS POLICY VARCHAR;
