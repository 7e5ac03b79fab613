-- Issue 12: every asset records the licence it is used under, as an SPDX id (MIT, Apache-2.0, GPL-2.0-only, ...;
-- NOASSERTION when unknown, LicenseRef-Maestro-LICENSES for assets licensed to us only under LICENSES rows), so
-- ASSETS and provenance show the licence of every sound source a track used. `maestro seed` fills it for the
-- sample catalog; the updates below fill rows loaded before this column existed (a re-seed then refines them).
ALTER TABLE ASSETS ADD COLUMN IF NOT EXISTS SPDX_LICENSE VARCHAR;
UPDATE ASSETS SET SPDX_LICENSE = 'GPL-2.0-only' WHERE ASSET_ID = 'asset_soundfont_timgm6mb' AND SPDX_LICENSE IS NULL;
UPDATE ASSETS SET SPDX_LICENSE = 'NOASSERTION' WHERE SPDX_LICENSE IS NULL;
