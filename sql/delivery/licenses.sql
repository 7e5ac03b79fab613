-- The LICENSES rows a delivery's deals are made of. TERRITORIES and USAGES are VARIANT arrays, returned as JSON text.
-- Placeholder {ids: :l#}: one bind per license id (l0, l1, ...).
SELECT LICENSE_ID, TO_JSON(TERRITORIES) AS TERRITORIES, TO_JSON(USAGES) AS USAGES, VALID_FROM, VALID_TO
FROM LICENSES
WHERE LICENSE_ID IN ({ids: :l#})
ORDER BY LICENSE_ID
