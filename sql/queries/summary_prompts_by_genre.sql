-- Prompts per genre: how many, how many active, and the moods used.
SELECT GENRE,
       COUNT(*) AS PROMPTS,
       SUM(IFF(ACTIVE, 1, 0)) AS ACTIVE,
       COUNT(DISTINCT MOOD) AS MOODS
FROM PROMPT_CATALOG
GROUP BY GENRE
ORDER BY GENRE
