"""The ``composer`` engine: rule-based composition from genre, mood, key phrases and an optional melody seed.

Modules, in the order a request flows through them: ``midi_input`` (seed parsing) -> ``plan`` (tempo, key,
form, harmony, instruments; uses ``presets``, ``theory``, ``form``, ``harmony``) -> ``arrangement`` (parts;
uses ``melody`` and ``accompaniment``) -> ``midi_output``; ``engine`` adds rendering, effects and mastering.
"""
