-- Why a run closed the way it did: the failure budget's verdict, or the error that stopped it ("" on success).
ALTER TABLE GENERATION_RUNS ADD COLUMN IF NOT EXISTS REASON VARCHAR;
