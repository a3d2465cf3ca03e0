"""The append-only, hash-chained, sealed audit log of every matches and shortlist response.

Each entry's hash is sha256 over the previous entry's hash and the entry's canonical JSON
(sorted keys, no whitespace), so changing, removing or reordering any entry breaks every hash
after it: :func:`verify_chain` finds the first broken link. Writers serialise on the chain's
head (PostgreSQL: a transaction-scoped advisory lock; SQLite: its single writer), so two
workers never append two entries with the same predecessor.

A hash chain alone cannot tell a shorter chain from a longer one, nor a chain recomputed
after a change from the original. So every commit group of entries (one transaction: a
worker's :class:`~service.api.audit_committer.AuditCommitter` appends the entries of all
the requests waiting at once) also **seals** its new head: an HMAC over (seq, entry hash,
number of entries) with a key the database does not hold (settings or a key file, see
:class:`Sealer`), written (a) as a row of ``audit_seals`` in the group's own transaction
and (b), once that transaction has committed, as a line appended to the seal file outside
the database. A seal covers every entry up to it, so the group's earlier entries need none.
Whoever can rewrite the database but not read the key cannot seal a recomputed chain;
whoever can also delete rows cannot shorten the chain below the head the seal file
remembers. The database refuses UPDATE, DELETE, TRUNCATE and SQLite's INSERT OR REPLACE on
both tables (migrations 0001 and 0002), so all of this needs owner rights to begin with.

Personal ids never enter an entry: a person is named by a keyed pseudonym (HMAC with a
random key of their own, in ``person_keys``). Erasure deletes the key; the entries keep
verifying, and nobody can say any more whom they named (crypto-shredding).

The entries are also the exposure log: what was shown, to whom (by pseudonym), by which
model and at which rank, which the training set's propensity weights need.
"""

from __future__ import annotations

import glob
import hashlib
import hmac
import itertools
import json
import logging
import os
import secrets
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Table, bindparam, event, func, insert, select, text
from sqlalchemy.orm import Session

from service.settings import Settings
from service.storage.tables import AuditLogEntry, AuditSeal, PersonKey

log = logging.getLogger(__name__)

GENESIS = "0" * 64
#: Any fixed 64-bit key; serialises appends across processes on PostgreSQL.
_ADVISORY_LOCK_KEY = 0x6B6F6875  # not the change feed's key: the two never wait on each other


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _stored_float(text: str) -> float:
    """A JSON number as the database gives it back: PostgreSQL's ``jsonb`` has no negative
    zero, so a score rounded to ``-0.0`` is read back as ``0.0``; hashed as ``-0.0`` the
    entry would never verify again."""
    return float(text) + 0.0  # -0.0 + 0.0 is 0.0; every other number is unchanged


def _as_stored(value: Any) -> Any:
    """``value`` as plain JSON values exactly as they survive a round trip through the log."""
    return json.loads(canonical(value), parse_float=_stored_float)


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


def _fields(entry: AuditLogEntry) -> dict[str, Any]:
    recorded = entry.recorded_at
    if recorded.tzinfo is None:
        recorded = recorded.replace(tzinfo=UTC)
    return {
        "recorded_at": recorded.astimezone(UTC).isoformat(timespec="microseconds"),
        "user_id": entry.user_id,
        "role": entry.role,
        "organisation_id": entry.organisation_id,
        "route": entry.route,
        "query": entry.query,
        "model_version": entry.model_version,
        "results": entry.results,
        "explanation_digest": entry.explanation_digest,
    }


def explanation_digest(explanations: Iterable[Any]) -> str:
    """sha256 of the canonical JSON (sorted keys) of plain explanation values."""
    return hashlib.sha256(canonical(list(explanations)).encode("utf-8")).hexdigest()


def response_digest(items: Sequence[BaseModel]) -> str:
    """sha256 of response models as the API serialises them: a JSON array of their bodies.

    pydantic writes each model's JSON (fields in schema order) in Rust; with the canonical
    ``json.dumps`` of :func:`explanation_digest` the digest of 20 explanations took a tenth of
    a matches request.
    """
    body = b"[" + b",".join(item.__pydantic_serializer__.to_json(item) for item in items) + b"]"
    return hashlib.sha256(body).hexdigest()


class SealUnavailableError(Exception):
    """The seals cannot be checked or written: the key or the seal file is missing or
    unreadable. Not a verdict on the log (``kohtaanto audit verify`` exits 2)."""


@dataclass(frozen=True)
class SealedHead:
    """The chain's head after one commit group, with its HMAC."""

    seq: int
    entry_hash: str
    entries: int
    mac: str

    def line(self) -> bytes:
        return f"{self.seq} {self.entry_hash} {self.entries} {self.mac}\n".encode("ascii")


@dataclass(frozen=True)
class PublishedHeads:
    """What the seal files hold: the highest valid head of all of them, the first line that
    is not a valid seal (its file and line number), and how many files there are."""

    head: SealedHead | None
    bad_line: tuple[Path, int] | None
    files: int


@dataclass(frozen=True)
class Sealer:
    """The sealing key and the seal files: both outside the database.

    A host appends only to its own file, ``path``. The file is only ever opened with
    ``O_APPEND`` (each line one ``write``, so lines of the host's concurrent workers never
    interleave) and is not fsynced per line: a line is in the page cache when ``write``
    returns, so a crashed process loses none; only an operating system crash can lose the
    last lines, and a fsync per request would cost the matches path far more than the 0.3 ms
    it may spend on sealing. Such a loss shows up in :func:`verify_chain` as database heads
    beyond the file (reported, never silently accepted beyond the allowance).

    Several hosts on one database each append to a file of their own,
    ``<stem>.<host_id><suffix>`` beside ``family`` (the configured seal file): ``O_APPEND``
    is atomic only on a local file system, and over a network file system two hosts'
    lines could overwrite each other. The verifier reads every such file (see
    :meth:`published_heads`).
    """

    key: bytes
    path: Path
    #: The seal file the hosts' files are named after; None: ``path`` itself.
    family: Path | None = None

    def mac(self, seq: int, entry_hash: str, entries: int) -> str:
        message = f"audit-seal:{seq}:{entry_hash}:{entries}".encode("ascii")
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def seal(self, seq: int, entry_hash: str, entries: int) -> SealedHead:
        return SealedHead(seq, entry_hash, entries, self.mac(seq, entry_hash, entries))

    def valid(self, seq: int, entry_hash: str, entries: int, mac: str) -> bool:
        return hmac.compare_digest(self.mac(seq, entry_hash, entries), mac)

    def create_file(self) -> None:
        """Create the (empty) seal file when missing: from then on, a missing file is news."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))

    def publish(self, heads: Sequence[SealedHead]) -> None:
        """Append ``heads`` to the seal file (after their transaction committed)."""
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, b"".join(head.line() for head in heads))
        finally:
            os.close(descriptor)

    def files(self) -> list[Path]:
        """Every host's seal file that exists: ``family`` and ``<stem>.*<suffix>`` beside it.

        Raises :class:`SealUnavailableError` when there is none (nor this host's own).
        """
        base = self.family or self.path
        pattern = f"{glob.escape(base.stem)}.*{glob.escape(base.suffix)}"
        try:
            found = {base, self.path, *base.parent.glob(pattern)}
            files = sorted(path for path in found if path.is_file())
        except OSError as error:
            raise SealUnavailableError(
                f"the seal files in {base.parent} cannot be listed: {error}"
            ) from None
        if not files:
            raise SealUnavailableError(f"the seal file {self.path} does not exist")
        return files

    def published_heads(self) -> PublishedHeads:
        """The highest head in all hosts' seal files, and the first line that is not a
        valid seal.

        Workers append in commit order but may write their lines out of it (each after its
        own commit), and hosts write to files of their own, so the highest ``seq`` wins, not
        the last line. A last line without its newline is a write cut short by a crash and
        is ignored.
        """
        files = self.files()
        highest: SealedHead | None = None
        for path in files:
            head, bad_line = self._published_in(path)
            if head is not None and (highest is None or head.seq > highest.seq):
                highest = head
            if bad_line is not None:
                return PublishedHeads(highest, (path, bad_line), len(files))
        return PublishedHeads(highest, None, len(files))

    def _published_in(self, path: Path) -> tuple[SealedHead | None, int | None]:
        try:
            content = path.read_bytes()
        except OSError as error:
            raise SealUnavailableError(f"the seal file {path} cannot be read: {error}") from None
        lines = content.split(b"\n")
        highest: SealedHead | None = None
        for number, raw in enumerate(lines[:-1], start=1):  # lines[-1]: after the last newline
            head = _parse_line(raw)
            if head is None or not self.valid(head.seq, head.entry_hash, head.entries, head.mac):
                return highest, number
            if highest is None or head.seq > highest.seq:
                highest = head
        return highest, None

    @classmethod
    def from_settings(cls, settings: Settings, *, create: bool = False) -> Sealer:
        """The sealer the settings describe; ``create`` (the service) makes a missing key file
        and seal file, the verifier never does (a missing key or file means "cannot verify").
        """
        var = settings.paths.var_dir
        family = settings.audit.seal_file or var / "audit-seals.log"
        host = settings.service.host_id
        path = family.with_name(f"{family.stem}.{host}{family.suffix}") if host else family
        if settings.audit.seal_key is not None:
            key = settings.audit.seal_key.get_secret_value().encode("utf-8")
            if not key:
                raise SealUnavailableError("the audit seal key in the settings is empty")
        else:
            # A host of several never makes up a key: the others' seals would not verify.
            key = _key_file(
                settings.audit.seal_key_file or var / "audit-seal.key", create and not host
            )
        sealer = cls(key, path, family)
        if create:
            sealer.create_file()
        return sealer


def _key_file(path: Path, create: bool) -> bytes:
    """The key in ``path``; with ``create``, 32 random bytes written there first if missing
    (atomically, owner-readable only: every worker must seal with the same key)."""
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(secrets.token_bytes(32))
        os.chmod(temporary, 0o600)
        try:
            os.link(temporary, path)  # the first worker's key wins
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        raise SealUnavailableError(f"the audit seal key file {path} does not exist") from None
    except OSError as error:
        raise SealUnavailableError(
            f"the audit seal key file {path} cannot be read: {error}"
        ) from None
    if not key:
        raise SealUnavailableError(f"the audit seal key file {path} is empty")
    return key


def _parse_line(raw: bytes) -> SealedHead | None:
    parts = raw.split(b" ")
    if len(parts) != 4 or not parts[0].isdigit() or not parts[2].isdigit():
        return None
    try:
        return SealedHead(
            int(parts[0]), parts[1].decode("ascii"), int(parts[2]), parts[3].decode("ascii")
        )
    except UnicodeDecodeError:
        return None


#: Where a session keeps the heads it sealed until its transaction commits.
_PENDING = "kohtaanto.audit.sealed_heads"


@event.listens_for(Session, "after_commit")
def _publish_sealed_heads(session: Session) -> None:
    """Write the heads of a committed transaction to the seal file.

    Only now: a head of a transaction that rolls back must never be in the file. A failure
    here cannot undo the commit, so it is logged (verify then reports the file behind).
    """
    pending: list[tuple[Sealer, SealedHead]] | None = session.info.pop(_PENDING, None)
    by_sealer: dict[Sealer, list[SealedHead]] = {}
    for sealer, head in pending or ():
        by_sealer.setdefault(sealer, []).append(head)
    for sealer, heads in by_sealer.items():
        publish(sealer, heads)


@event.listens_for(Session, "after_rollback")
def _forget_sealed_heads(session: Session) -> None:
    session.info.pop(_PENDING, None)


# ---- pseudonyms ------------------------------------------------------------------------------

_KEYS: Table = PersonKey.__table__  # type: ignore[assignment]


#: Statements built once: building and cache-keying them per request cost more than running
#: them (on SQLite, about 0.1 ms each on the matches path).
_SELECT_PSEUDONYMS = select(_KEYS.c.jobseeker_id, _KEYS.c.pseudonym).where(
    _KEYS.c.jobseeker_id.in_(bindparam("ids", expanding=True))
)


def _pseudonym(key: str, jobseeker_id: str) -> str:
    digest = hmac.new(bytes.fromhex(key), jobseeker_id.encode("utf-8"), hashlib.sha256)
    return "P" + digest.hexdigest()[:40]


#: A worker remembers at most this many pseudonyms (about 10 MB), then starts afresh.
PSEUDONYM_CACHE_LIMIT = 50_000


def pseudonyms(
    connection: Connection,
    jobseeker_ids: Collection[str],
    cache: dict[str, str] | None = None,
) -> dict[str, str]:
    """The audit pseudonym of each person, creating their key at the first entry naming them.

    Created lazily so that loading a world of 300,000 people writes no keys. Writers hold
    the chain's lock (PostgreSQL) or the only write lock (SQLite) while they append, so two
    workers never create two keys for one person; a key is only created inside an append.

    ``cache`` (a worker's) saves the look-up, a round trip on PostgreSQL, for people named
    before. A worker drops a person from it when it applies their erasure; until then it
    could only write the old pseudonym again, whose key is gone, so that names nobody.
    """
    wanted = list(dict.fromkeys(jobseeker_ids))
    if not wanted:
        return {}
    known = cache if cache is not None else {}
    found = {person: known[person] for person in wanted if person in known}
    if len(found) < len(wanted):
        unknown = [person for person in wanted if person not in found]
        found.update(connection.execute(_SELECT_PSEUDONYMS, {"ids": unknown}).all())
    if cache is not None:
        # Only keys already committed: a key created below is rolled back with the entry
        # if the append fails, and its pseudonym must not outlive it here.
        if len(cache) + len(found) > PSEUDONYM_CACHE_LIMIT:
            cache.clear()
        cache.update(found)
    missing = [person for person in wanted if person not in found]
    if missing:
        rows = []
        for person in missing:
            key = secrets.token_hex(32)
            found[person] = _pseudonym(key, person)
            rows.append({"jobseeker_id": person, "key": key, "pseudonym": found[person]})
        connection.execute(insert(_KEYS), rows)
    return found


def people(connection: Connection, named: Collection[str]) -> dict[str, str]:
    """Pseudonym -> jobseeker id, for the pseudonyms whose person was not erased."""
    if not named:
        return {}
    return {
        str(pseudonym): str(person)
        for pseudonym, person in connection.execute(
            select(_KEYS.c.pseudonym, _KEYS.c.jobseeker_id).where(
                _KEYS.c.pseudonym.in_(list(set(named)))
            )
        )
    }


def all_people(connection: Connection) -> dict[str, str]:
    """Pseudonym -> jobseeker id of everyone an entry names and who was not erased."""
    return {
        str(pseudonym): str(person)
        for pseudonym, person in connection.execute(select(_KEYS.c.pseudonym, _KEYS.c.jobseeker_id))
    }


def shred(connection: Connection, jobseeker_id: str) -> None:
    """Destroy the person's key: their entries stay and verify, but name nobody any more."""
    connection.execute(_KEYS.delete().where(_KEYS.c.jobseeker_id == jobseeker_id))


# ---- appending ------------------------------------------------------------------------------


def lock_chain(session: Session) -> None:
    """Serialise on the chain's head until the transaction ends (PostgreSQL; SQLite's write
    lock does it there). Take it before :func:`pseudonyms` in a writer that appends."""
    if session.get_bind().dialect.name == "postgresql" and not session.info.get(_LOCKED):
        session.execute(_LOCK_CHAIN, {"key": _ADVISORY_LOCK_KEY})
        session.info[_LOCKED] = True


def lock_chain_on(connection: Connection) -> None:
    """:func:`lock_chain` on a Core connection in its transaction (the committer's)."""
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK_CHAIN, {"key": _ADVISORY_LOCK_KEY})


_LOCK_CHAIN = text("SELECT pg_advisory_xact_lock(:key)")


_LOCKED = "kohtaanto.audit.locked"


@event.listens_for(Session, "after_transaction_end")
def _unlocked(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction: the xact lock is gone
        session.info.pop(_LOCKED, None)


@dataclass(frozen=True)
class EntryFields:
    """What one entry records, before the chain places it (its time, hashes and ``seq``).

    Personal ids must already be pseudonyms (:func:`pseudonyms`).
    """

    user_id: int | None
    role: str | None
    organisation_id: str | None
    route: str
    query: dict[str, Any]
    model_version: str | None
    results: Sequence[Any]
    explanation_digest: str | None


def append(
    session: Session,
    *,
    sealer: Sealer,
    user_id: int | None,
    role: str | None,
    organisation_id: str | None,
    route: str,
    query: dict[str, Any],
    model_version: str | None,
    results: Sequence[Any],
    explanation_digest: str | None,
) -> AuditLogEntry:
    """Add one entry to the chain and seal the new head inside ``session``'s transaction
    (the caller commits; the seal file gets the head once the commit succeeded).

    Personal ids must already be pseudonyms (:func:`pseudonyms`).
    """
    fields = EntryFields(
        user_id, role, organisation_id, route, query, model_version, results, explanation_digest
    )
    return AuditLogEntry(**_append_rows(session, sealer, [fields])[0])


def append_group(session: Session, *, sealer: Sealer, entries: Sequence[EntryFields]) -> list[int]:
    """Add ``entries`` to the chain in order, each chained to the one before, and seal only
    the last: one seal row for the group, and one seal-file line once the caller commits.
    Returns their sequence numbers.

    A seal covers every entry up to it (it names the number of entries), so the entries
    before the group's head need no seal of their own (see :func:`verify_chain`). The
    group is one transaction: it is in the log whole, or not at all.
    """
    return [row["seq"] for row in _append_rows(session, sealer, entries)] if entries else []


def _append_rows(
    session: Session, sealer: Sealer, entries: Sequence[EntryFields]
) -> list[dict[str, Any]]:
    """The work of :func:`append_group`; the entries' columns, ``seq`` included."""
    lock_chain(session)
    # Core statements on the session's connection: the ORM's per-statement machinery (bulk
    # insert planning, identity map) cost more than the statements on every matches and
    # shortlist request.
    rows, sealed = _append_on(session.connection(), sealer, entries)
    session.info.setdefault(_PENDING, []).append((sealer, sealed))
    return rows


def append_group_on(
    connection: Connection, *, sealer: Sealer, entries: Sequence[EntryFields]
) -> SealedHead | None:
    """:func:`append_group` on a Core connection whose transaction holds the chain's lock
    (:func:`lock_chain_on`). Returns the group's sealed head, which the caller publishes
    (:func:`publish`) once the transaction committed; None when ``entries`` is empty.

    What the worker's committer uses: a Session's transaction, events and commit machinery
    cost it more CPU than the group's statements on SQLite.
    """
    return _append_on(connection, sealer, entries)[1] if entries else None


def publish(sealer: Sealer, heads: Sequence[SealedHead]) -> None:
    """Write committed heads to the seal file; a failure cannot undo the commit, so it is
    logged (verify then reports the file behind)."""
    try:
        sealer.publish(heads)
    except OSError as error:
        log.error("audit seal file %s not written: %s", sealer.path, error)


def _append_on(
    connection: Connection, sealer: Sealer, entries: Sequence[EntryFields]
) -> tuple[list[dict[str, Any]], SealedHead]:
    """Insert the entries and the seal row of their head; the rows and the sealed head."""
    head = connection.execute(_SELECT_HEAD).first()
    if head is None:
        previous, count = GENESIS, 0
    elif head.entries is not None:
        previous, count = head.entry_hash, int(head.entries)
    else:
        # Entries from before the seals existed (revision 0001): counted once, then sealed.
        previous = head.entry_hash
        count = int(connection.scalar(select(func.count()).select_from(_TABLE)) or 0)
    rows: list[dict[str, Any]] = []
    for fields in entries:
        recorded = datetime.now(UTC)
        row = {
            "recorded_at": recorded,
            "user_id": fields.user_id,
            "role": fields.role,
            "organisation_id": fields.organisation_id,
            "route": fields.route,
            "query": _as_stored(fields.query),
            "model_version": fields.model_version,
            "results": _as_stored(list(fields.results)),
            "explanation_digest": fields.explanation_digest,
            "prev_hash": previous,
        }
        # What _fields reads back from the stored entry: its time in UTC, to the microsecond.
        hashed = row | {"recorded_at": recorded.isoformat(timespec="microseconds")}
        del hashed["prev_hash"]
        row["entry_hash"] = previous = entry_hash(row["prev_hash"], hashed)
        rows.append(row)
    # One statement for the group; its sequence numbers come back in the rows' order and
    # must rise with it, or the chain (read back by seq) would not be the one just hashed.
    seqs = list(connection.execute(_INSERT_ENTRIES, rows).scalars())
    if len(seqs) != len(rows) or any(a >= b for a, b in itertools.pairwise(seqs)):
        raise RuntimeError(f"the audit entries were numbered out of order: {seqs}")
    for seq, row in zip(seqs, rows, strict=True):
        row["seq"] = seq
    sealed = sealer.seal(seqs[-1], rows[-1]["entry_hash"], count + len(rows))
    connection.execute(
        _INSERT_SEAL,
        {
            "seq": sealed.seq,
            "entry_hash": sealed.entry_hash,
            "entries": sealed.entries,
            "mac": sealed.mac,
        },
    )
    return rows, sealed


_TABLE: Table = AuditLogEntry.__table__  # type: ignore[assignment]


_SEALS: Table = AuditSeal.__table__  # type: ignore[assignment]
#: The head of the chain and, when it is sealed, how many entries the chain holds.
_SELECT_HEAD = (
    select(_TABLE.c.seq, _TABLE.c.entry_hash, _SEALS.c.entries)
    .select_from(_TABLE.outerjoin(_SEALS, _SEALS.c.seq == _TABLE.c.seq))
    .order_by(_TABLE.c.seq.desc())
    .limit(1)
)
_INSERT_ENTRIES = insert(_TABLE).returning(_TABLE.c.seq, sort_by_parameter_order=True)
_INSERT_SEAL = insert(_SEALS)


@dataclass(frozen=True)
class ChainReport:
    entries: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None
    #: Commit groups sealed in the database whose line the seal file does not have yet.
    unpublished: int = 0


def _seals_between(session: Session, after: int, upto: int) -> dict[int, AuditSeal]:
    rows = session.scalars(
        select(AuditSeal).where(AuditSeal.seq > after, AuditSeal.seq <= upto)
    ).all()
    return {row.seq: row for row in rows}


def _entries(session: Session, batch: int) -> Iterator[list[AuditLogEntry]]:
    last_seq = 0
    while True:
        rows = list(
            session.scalars(
                select(AuditLogEntry)
                .where(AuditLogEntry.seq > last_seq)
                .order_by(AuditLogEntry.seq)
                .limit(batch)
            ).all()
        )
        if not rows:
            return
        yield rows
        last_seq = rows[-1].seq


class _BrokenError(Exception):
    """The first thing found that does not fit (internal to :func:`verify_chain`)."""

    def __init__(self, entries: int, seq: int | None, problem: str) -> None:
        super().__init__(problem)
        self.report = ChainReport(entries, False, seq, problem)


@dataclass
class _Walk:
    """What :func:`verify_chain` has seen so far."""

    previous: str = GENESIS
    count: int = 0
    last_seq: int = 0
    #: From the first sealed entry on, every entry must be covered by a seal at or after it.
    sealing: bool = False
    #: The first entry no seal covers yet (its seq, and the entries verified before it).
    uncovered: tuple[int, int] | None = None
    seals_seen: int = 0
    unpublished: int = 0
    reached_published: bool = False


def _check_entry(
    walk: _Walk,
    entry: AuditLogEntry,
    seal: AuditSeal | None,
    sealer: Sealer,
    published: SealedHead | None,
) -> None:
    if entry.prev_hash != walk.previous:
        raise _BrokenError(walk.count, entry.seq, "its previous hash is not the entry before it")
    if entry_hash(entry.prev_hash, _fields(entry)) != entry.entry_hash:
        raise _BrokenError(walk.count, entry.seq, "its contents do not match its hash")
    before = walk.count
    walk.count += 1
    walk.previous = entry.entry_hash
    walk.last_seq = entry.seq
    if published is not None and entry.seq == published.seq:
        if (published.entry_hash, published.entries) != (entry.entry_hash, walk.count):
            raise _BrokenError(before, entry.seq, "it differs from its seal in the seal file")
        walk.reached_published = True
    if seal is None:
        # A seal covers every entry up to it: the entries of a commit group before its head
        # have none (nor do entries written before revision 0002, nor any whose older seal
        # was deleted, which costs nothing). But the file's head must be sealed here too, and
        # an entry after the last seal is covered by none (checked when the walk ends).
        if published is not None and entry.seq == published.seq:
            raise _BrokenError(before, entry.seq, "it has no seal")
        if walk.uncovered is None:
            walk.uncovered = (entry.seq, before)
        return
    walk.uncovered = None
    walk.sealing = True
    walk.seals_seen += 1
    if not sealer.valid(seal.seq, seal.entry_hash, seal.entries, seal.mac):
        raise _BrokenError(before, entry.seq, "its seal is not valid")
    if seal.entry_hash != entry.entry_hash or seal.entries != walk.count:
        raise _BrokenError(before, entry.seq, "the chain up to it is not the one that was sealed")
    if published is None or entry.seq > published.seq:
        walk.unpublished += 1


def verify_chain(
    session: Session, sealer: Sealer, *, unpublished_allowed: int = 1, batch: int = 5000
) -> ChainReport:
    """Recompute every hash in order and check every seal; report the first thing that does
    not fit. Raises :class:`SealUnavailableError` when the seal file cannot be read.

    The log is intact when all of these hold:

    * every entry's ``prev_hash`` is the hash of the entry before it, and its hash fits its
      contents (the chain);
    * every seal row carries a valid HMAC and names an entry that exists, with that entry's
      hash and the number of entries up to it; once sealing began, every entry is covered
      by a seal at or after it (a commit group seals only its last entry; entries from
      before revision 0002 have none), so the chain ends on a sealed head;
    * the seal file's lines are valid seals, and the entry at the file's highest head exists
      and matches it: the chain was not cut back below what the file remembers (deleting
      the tail, or every row, is found here);
    * at most ``unpublished_allowed`` commit groups lie beyond that head. A head reaches the
      file only after its transaction committed, so a worker that crashed between its commit
      and its ``write``, or one still between the two while this runs, leaves its group
      sealed in the database alone. Each worker commits its groups on one thread (its
      :class:`~service.api.audit_committer.AuditCommitter`), which writes a group's line
      before it begins the next, so there is at most one such group per worker: callers
      pass the number of service workers. A worker killed in between leaves its group
      beyond the file only until any later group's line reaches it (the file's highest head
      then lies beyond it). Beyond that, the file was cut or the database grew without it.
    """
    heads = sealer.published_heads()
    published = heads.head
    # Each host's workers may each have one group beyond its own file (see above).
    unpublished_allowed *= max(1, heads.files)
    if heads.bad_line is not None:
        path, line = heads.bad_line
        problem = f"line {line} of the seal file {path} is not a valid seal"
        return ChainReport(0, False, None, problem)
    walk = _Walk()
    try:
        for rows in _entries(session, batch):
            seals = _seals_between(session, rows[0].seq - 1, rows[-1].seq)
            for entry in rows:
                _check_entry(walk, entry, seals.get(entry.seq), sealer, published)
        if walk.uncovered is not None and (walk.sealing or published is not None):
            seq, before = walk.uncovered
            raise _BrokenError(before, seq, "it has no seal")
    except _BrokenError as broken:
        return broken.report
    total_seals = session.scalar(select(func.count()).select_from(AuditSeal)) or 0
    if total_seals != walk.seals_seen:
        problem = f"{total_seals - walk.seals_seen} seal(s) name entries that are gone"
        return ChainReport(walk.count, False, None, problem)
    if published is not None and not walk.reached_published:
        problem = (
            f"the chain ends at entry {walk.last_seq} after {walk.count} entries, but the seal "
            f"file has a head at entry {published.seq} after {published.entries}: entries "
            "were removed"
        )
        return ChainReport(walk.count, False, published.seq, problem)
    if walk.unpublished > unpublished_allowed:
        problem = (
            f"{walk.unpublished} commit groups are sealed in the database but not in the seal "
            f"file (at most {unpublished_allowed} may be): the file was cut or replaced"
        )
        return ChainReport(walk.count, False, None, problem, walk.unpublished)
    return ChainReport(walk.count, True, unpublished=walk.unpublished)
