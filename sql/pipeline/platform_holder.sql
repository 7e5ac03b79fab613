-- The HOLDER_ID of the RIGHTS_HOLDERS row of KIND 'platform' (the first by id; NULL when there is none). No binds.
SELECT MIN(HOLDER_ID) FROM RIGHTS_HOLDERS WHERE KIND = 'platform'
