-- Rights snapshot: every asset a track can be made from, with its licence (SPDX id).
SELECT ASSET_ID, KIND, URI, SHA256, HOLDER_ID, TITLE, SPDX_LICENSE FROM ASSETS ORDER BY ASSET_ID
