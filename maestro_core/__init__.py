"""The core: the domain and the warehouse, with no engine, no orchestration and none of Ray, Spark, Airflow or torch.

Rights and licenses, splits, identity, royalty rules, provenance and Content Credentials, storage, the warehouse
schema and its backends, settings. Every other package imports this one; it imports none of them (``make lint``
enforces it with import-linter).
"""
