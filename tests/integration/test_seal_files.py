"""Hosts on one database seal to files of their own, and the verifier reads all of them.

Two hosts cannot share one ``O_APPEND`` file over a network file system, so each writes
``audit-seals.<host_id>.log`` beside the configured seal file. The verifier takes the
highest head of all the files, allows one unwritten commit group per worker of each host,
and names the file of a line that is not a valid seal. A host of several never makes up a
secret of its own (its pseudonyms and seals would differ from the other hosts').
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from service.api import audit
from service.api.app import pseudonym_key
from service.settings import AuditSettings, PathSettings, ServiceSettings, Settings
from service.storage.database import make_session_factory
from tests.integration.test_audit_chain import SEAL_KEY, _append

pytestmark = pytest.mark.integration


def _settings(var: Path, host_id: str = "", **audit_settings: object) -> Settings:
    return Settings(
        paths=PathSettings(var_dir=var),
        service=ServiceSettings(host_id=host_id),
        audit=AuditSettings.model_validate({"seal_key": SEAL_KEY, **audit_settings}),
        database_url="sqlite://",
    )


def _verify(engine: Engine, sealer: audit.Sealer, allowed: int = 1) -> audit.ChainReport:
    with make_session_factory(engine)() as session:
        return audit.verify_chain(session, sealer, unpublished_allowed=allowed)


def test_each_host_seals_to_its_own_file_and_the_verifier_reads_all(
    migrated_engine: Engine, tmp_path: Path
) -> None:
    a = audit.Sealer.from_settings(_settings(tmp_path, "a"), create=True)
    b = audit.Sealer.from_settings(_settings(tmp_path, "b"), create=True)
    assert (a.path.name, b.path.name) == ("audit-seals.a.log", "audit-seals.b.log")
    _append(migrated_engine, a, 3)
    _append(migrated_engine, b, 2)  # b holds the highest head
    _append(migrated_engine, a, 1)  # now a does
    assert len(a.path.read_text().splitlines()) == 4
    assert len(b.path.read_text().splitlines()) == 2
    verifier = audit.Sealer.from_settings(_settings(tmp_path))  # no host id: reads them all
    assert not verifier.path.exists()
    assert verifier.files() == [a.path, b.path]
    report = _verify(migrated_engine, verifier)
    assert report.ok and report.entries == 6, report

    # Host a's last line is lost (its host crashed before writing it): the heads of b and
    # the allowance of one group per host still account for the chain.
    a.path.write_text("".join(a.path.read_text().splitlines(keepends=True)[:-1]))
    assert _verify(migrated_engine, verifier).ok

    # A forged line is reported with the file it is in.
    with b.path.open("a") as lines:
        lines.write(f"99 {'0' * 64} 99 {'0' * 64}\n")
    report = _verify(migrated_engine, verifier)
    assert not report.ok
    assert report.problem == f"line 3 of the seal file {b.path} is not a valid seal"


def test_removing_a_hosts_seal_file_is_found_beyond_the_allowance(
    migrated_engine: Engine, tmp_path: Path
) -> None:
    a = audit.Sealer.from_settings(_settings(tmp_path, "a"), create=True)
    b = audit.Sealer.from_settings(_settings(tmp_path, "b"), create=True)
    _append(migrated_engine, a, 2)
    _append(migrated_engine, b, 4)
    b.path.unlink()
    report = _verify(migrated_engine, audit.Sealer.from_settings(_settings(tmp_path)))
    assert not report.ok
    assert report.problem is not None and "not in the seal file" in str(report.problem)

    a.path.unlink()  # no seal file left at all: cannot verify, not a verdict
    with pytest.raises(audit.SealUnavailableError, match="does not exist"):
        _verify(migrated_engine, audit.Sealer.from_settings(_settings(tmp_path)))


def test_a_host_of_several_never_makes_up_a_secret(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="KOHTAANTO_SERVICE__PSEUDONYM_KEY"):
        pseudonym_key(_settings(tmp_path / "host", "a"))
    with pytest.raises(audit.SealUnavailableError, match=r"audit-seal\.key does not exist"):
        audit.Sealer.from_settings(
            _settings(tmp_path / "host", "a").model_copy(update={"audit": AuditSettings()}),
            create=True,
        )
    shared = _settings(tmp_path / "host", "a").model_copy(
        update={"service": ServiceSettings(host_id="a", pseudonym_key=SecretStr("shared secret"))}
    )
    assert pseudonym_key(shared) == b"shared secret"
    single = pseudonym_key(_settings(tmp_path / "single"))  # a single host creates its own
    assert len(single) == 32 and pseudonym_key(_settings(tmp_path / "single")) == single
