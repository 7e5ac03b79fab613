-- Rights snapshot: every asset a track can be made from.
SELECT ASSET_ID, KIND, URI, SHA256, HOLDER_ID, TITLE FROM ASSETS ORDER BY ASSET_ID
