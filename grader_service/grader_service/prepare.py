"""What the service's storage needs before any process serves: done by
``dl-grader migrate`` (a deploy step) and by ``dl-grader serve`` before it starts its
processes, never by the app factory. On Kubernetes each replica's ``serve`` does it; the
schema upgrade holds a PostgreSQL advisory lock (:mod:`.migrate`), so replicas that
start together do not race.

* the data folder (``DATA_DIR``);
* the database schema at the latest revision (Alembic, :mod:`.migrate`);
* the stamp signing key, created (Ed25519, mode 0600) when the file does not exist;
* the results page's session secret likewise;
* with the ``lti-ags`` exporter, the tool's RSA key likewise.
"""

import os

from . import db, stamp
from .config import comma_names
from .exporters.lti_ags import create_tool_key
from .migrate import upgrade
from .results import create_session_secret


def prepare(config) -> dict:
    """Prepare the storage ``config`` names; return what was found or made."""
    os.makedirs(config["DATA_DIR"], exist_ok=True)
    database_url = db.database_url(config)
    engine = db.make_engine(database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    key_path = stamp.signing_key_path(config)
    existed = os.path.exists(key_path)
    stamp.load_or_create_key(key_path)
    create_session_secret(config)
    if "lti-ags" in comma_names(config["EXPORTERS"]):
        create_tool_key(config)
    return {"database": database_url.split("://")[0], "signing_key": key_path,
            "signing_key_created": not existed}
