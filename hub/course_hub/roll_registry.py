"""One hub account per roll number: the first login with a roll number binds it.

A roll number comes from the identity provider, so two accounts carrying the same one
mean a mistake at the provider (a recycled account, a typo in the SIS, a second LMS
identity). Moving the roll number silently would hand one student's configuration,
submissions and grades to another account; so a login whose roll number is bound to a
different account is refused with a message that sends the student to the course staff,
and the staff release the binding once they know which account is right::

    python -m course_hub.roll_registry list
    python -m course_hub.roll_registry release CS21B001

The bindings live in a table of their own (``course_roll_bindings``) in the hub's
database, beside JupyterHub's tables (whose migrations never touch it), so they follow
the hub's backups. The grading service keeps its own per-course bindings as well
(``dl-grader rolls``) and refuses submissions; this one stops the login itself.
"""

import argparse
import datetime
import os
import sys

from sqlalchemy import Column, DateTime, MetaData, String, Table, create_engine, delete, select
from sqlalchemy.exc import IntegrityError
from tornado import web
from traitlets import HasTraits, Unicode

ROLL_TAKEN_MESSAGE = (
    "Your university login sent roll number {roll}, but that roll number already belongs "
    "to another account on this course hub, so you cannot be logged in with it. Please "
    "contact the course staff with your username and roll number: they can check which "
    "account is right and release the roll number."
)

metadata = MetaData()
bindings = Table(
    "course_roll_bindings", metadata,
    Column("roll_number", String(64), primary_key=True),
    Column("username", String(255), nullable=False),
    Column("bound_at", DateTime, nullable=False),
)


class RollTaken(Exception):
    """The roll number is bound to ``owner``, not to the account logging in."""

    def __init__(self, roll_number, owner):
        super().__init__(f"roll number {roll_number} is bound to {owner}")
        self.roll_number = roll_number
        self.owner = owner


class RollRegistry:
    """The roll number -> username table in a database given by URL."""

    def __init__(self, db_url: str):
        self.engine = create_engine(db_url)
        metadata.create_all(self.engine, tables=[bindings])

    def owner(self, roll_number: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(bindings.c.username)
                                .where(bindings.c.roll_number == roll_number)).scalar()

    def bind(self, roll_number: str, username: str) -> None:
        """Bind ``roll_number`` to ``username`` on first use; raise :class:`RollTaken`
        if it is bound to another account (two first logins at once: one wins)."""
        owner = self.owner(roll_number)
        if owner is None:
            try:
                with self.engine.begin() as conn:
                    conn.execute(bindings.insert().values(
                        roll_number=roll_number, username=username,
                        bound_at=datetime.datetime.now(datetime.UTC)
                        .replace(tzinfo=None)))
                return
            except IntegrityError:
                owner = self.owner(roll_number)
        if owner != username:
            raise RollTaken(roll_number, owner)

    def release(self, roll_number: str) -> str | None:
        """Forget the binding; return the account it named (None: there was none)."""
        owner = self.owner(roll_number)
        with self.engine.begin() as conn:
            conn.execute(delete(bindings).where(bindings.c.roll_number == roll_number))
        return owner

    def all(self) -> list[tuple[str, str, datetime.datetime]]:
        with self.engine.connect() as conn:
            return [tuple(row) for row in
                    conn.execute(select(bindings).order_by(bindings.c.roll_number))]


class OneAccountPerRoll(HasTraits):
    """Authenticator mixin: a login whose roll number another account holds is refused.

    Put it before the authenticator class; the login's ``auth_state["roll_number"]`` is
    bound to the login's (normalised) username after every other check has passed.
    """

    roll_registry_url = Unicode(
        "",
        config=True,
        help="""Database of the roll-number bindings (SQLAlchemy URL). Empty: the hub's
        own database (``JupyterHub.db_url``).""",
    )

    @property
    def roll_registry(self) -> RollRegistry:
        if getattr(self, "_roll_registry", None) is None:
            url = self.roll_registry_url or getattr(self.parent, "db_url", "")
            if not url:
                raise RuntimeError("no database for the roll-number bindings: set "
                                   "roll_registry_url or run inside JupyterHub")
            self._roll_registry = RollRegistry(url)
        return self._roll_registry

    async def get_authenticated_user(self, handler, data):
        authenticated = await super().get_authenticated_user(handler, data)
        roll_number = ((authenticated or {}).get("auth_state") or {}).get("roll_number")
        if roll_number:
            try:
                self.roll_registry.bind(roll_number, authenticated["name"])
            except RollTaken as taken:
                self.log.warning("login of %s refused: roll number %s belongs to %s "
                                 "(release it with python -m course_hub.roll_registry "
                                 "release %s once the right account is known)",
                                 authenticated["name"], roll_number, taken.owner, roll_number)
                raise web.HTTPError(403, ROLL_TAKEN_MESSAGE.format(roll=roll_number)) from None
        return authenticated


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_hub.roll_registry",
                                     description="The hub's roll-number bindings.")
    parser.add_argument("--db-url", default=os.environ.get(
        "JUPYTERHUB_DB_URL", "sqlite:////srv/jupyterhub/jupyterhub.sqlite"),
        help="the hub's database (default: $JUPYTERHUB_DB_URL or the image's SQLite file)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every roll number and its account")
    release = commands.add_parser("release", help="let the next login take a roll number")
    release.add_argument("roll_number")
    args = parser.parse_args(argv)
    registry = RollRegistry(args.db_url)
    if args.command == "list":
        for roll_number, username, bound_at in registry.all():
            print(f"{roll_number}\t{username}\t{bound_at:%Y-%m-%d %H:%M}")
        return 0
    from dlcourse.roll import normalize_roll_number

    try:
        roll_number = normalize_roll_number(args.roll_number)
    except ValueError as err:
        parser.error(str(err))
    owner = registry.release(roll_number)
    if owner is None:
        print(f"{roll_number} was not bound to any account", file=sys.stderr)
        return 1
    print(f"released {roll_number} (was {owner}); the next login with it takes it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
