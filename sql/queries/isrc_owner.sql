-- Which track an ISRC is registered to.
SELECT TRACK_ID FROM ISRC_REGISTRY WHERE ISRC = :isrc
