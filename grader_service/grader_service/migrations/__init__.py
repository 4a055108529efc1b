"""Alembic migrations of the service's database; ``db.init_app`` runs ``upgrade head``."""
