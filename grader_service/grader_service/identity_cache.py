"""Resolved hub tokens shared by the service's processes and replicas (a database table).

Each process keeps its own short in-memory cache in front of this one; this tier saves a
second process (or replica) the two JupyterHub API calls when a student's request
lands on it after another process has already identified them.
"""

import datetime
import itertools
import logging

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from .db import CachedIdentity, as_utc, utcnow
from .identity import Identity

log = logging.getLogger(__name__)


class SharedIdentityCache:
    """``get(key)`` / ``put(key, identity, seconds)`` over the ``identity_cache`` table;
    ``key`` is the token's SHA-256. Database trouble only costs a hub lookup."""

    PRUNE_EVERY = 200  # puts between deletions of expired rows

    def __init__(self, sessions):
        self.sessions = sessions
        self._puts = itertools.count()

    def get(self, key):
        """``(identity, seconds left)`` or None."""

        table = CachedIdentity.__table__
        query = (select(table.c.username, table.c.groups, table.c.roll_number,
                        table.c.expires_at)
                 .where(table.c.token_sha256 == key, table.c.expires_at > utcnow()))
        try:
            with self.sessions() as session:
                row = session.execute(query).first()
        except Exception:
            log.exception("identity cache read failed")
            return None
        if row is None:
            return None
        identity = Identity(username=row.username, groups=frozenset(row.groups or ()),
                            roll_number=row.roll_number)
        left = (as_utc(row.expires_at) - utcnow()).total_seconds()
        return identity, left

    def put(self, key, identity, seconds):
        now = utcnow()
        values = {"username": identity.username, "groups": sorted(identity.groups),
                  "roll_number": identity.roll_number,
                  "expires_at": now + datetime.timedelta(seconds=seconds)}
        try:
            with self.sessions() as session:
                row = session.get(CachedIdentity, key)
                if row is None:
                    session.add(CachedIdentity(token_sha256=key, **values))
                else:
                    for name, value in values.items():
                        setattr(row, name, value)
                if next(self._puts) % self.PRUNE_EVERY == 0:
                    session.execute(delete(CachedIdentity).where(CachedIdentity.expires_at < now))
                session.commit()
        except IntegrityError:  # another process stored the same token meanwhile
            pass
        except Exception:
            log.exception("identity cache write failed")

