"""Jobs between units: After= ordering, Requires= pulling and failing, external units."""

from __future__ import annotations

import signal

from actors.systemd.core import Log, Spawn
from actors.systemd.spec import service_spec
from actors.systemd.table import UnitTable


def table(**units: str) -> UnitTable:
    t = UnitTable()
    for name, body in units.items():
        name = name.replace("_", "-") + ".service"
        t.load(service_spec(name, body))
    return t


def spawned(fx) -> list[tuple[str, str]]:
    return [(n, e.command.text) for n, e in fx if isinstance(e, Spawn)]


def token(fx, unit: str) -> int:
    return next(e.token for n, e in fx if isinstance(e, Spawn) and n == unit)


DB = "[Service]\nExecStartPre=/db-pre\nExecStart=/db\n"
WEB = "[Unit]\nAfter=db.service\nRequires=db.service\n[Service]\nExecStart=/web\n"


def test_requires_pulls_the_dependency_and_after_waits_for_it():
    t = table(db=DB, web=WEB)
    fx = t.start("web.service", 0)
    assert spawned(fx) == [("db.service", "/db-pre")]  # web waits: db is still starting
    fx = t.exited("db.service", token(fx, "db.service"), 0, None, 0)
    assert spawned(fx) == [("db.service", "/db"), ("web.service", "/web")]
    assert t.state("web.service") == ("active", "running")


def test_failed_required_unit_fails_the_dependents_job():
    t = table(db=DB, web=WEB)
    fx = t.start("web.service", 0)
    fx = t.exited("db.service", token(fx, "db.service"), 1, None, 0)
    assert ("web.service", Log("Dependency failed for web.service.")) in fx
    assert t.state("web.service") == ("inactive", "dead")
    assert t.state("db.service") == ("failed", "failed")


def test_requires_without_after_starts_both_at_once():
    t = table(db=DB, web="[Unit]\nRequires=db.service\n[Service]\nExecStart=/web\n")
    fx = t.start("web.service", 0)
    assert set(spawned(fx)) == {("db.service", "/db-pre"), ("web.service", "/web")}


def test_after_alone_orders_but_does_not_pull():
    t = table(db=DB, web="[Unit]\nAfter=db.service\n[Service]\nExecStart=/web\n")
    fx = t.start("web.service", 0)
    assert spawned(fx) == [("web.service", "/web")]
    assert t.state("db.service") == ("inactive", "dead")


def test_missing_required_unit_fails_the_job():
    t = table(web="[Unit]\nRequires=nope.service\n[Service]\nExecStart=/web\n")
    fx = t.start("web.service", 0)
    assert spawned(fx) == []
    assert ("web.service", Log("web.service: Unit nope.service not found.")) in fx


def test_external_docker_service_satisfies_requires_when_active():
    body = "[Unit]\nAfter=docker.service\nRequires=docker.service\n[Service]\nExecStart=/web\n"
    t = table(web=body)
    t.set_external("docker.service", True)
    assert spawned(t.start("web.service", 0)) == [("web.service", "/web")]
    assert t.state("docker.service") == ("active", "running")


def test_external_unit_down_fails_the_dependent():
    body = "[Unit]\nAfter=docker.service\nRequires=docker.service\n[Service]\nExecStart=/web\n"
    t = table(web=body)
    t.set_external("docker.service", False)
    fx = t.start("web.service", 0)
    assert spawned(fx) == []
    assert t.state("web.service") == ("inactive", "dead")


def test_stopping_a_required_unit_stops_its_dependents():
    t = table(db="[Service]\nExecStart=/db\n", web=WEB)
    t.start("web.service", 0)
    fx = t.stop("db.service", 0)
    assert {n for n, _ in fx} >= {"web.service", "db.service"}
    assert t.state("web.service") == ("deactivating", "stop-sigterm")


def test_before_orders_like_after_from_the_other_side():
    t = table(
        first="[Unit]\nBefore=second.service\n[Service]\nExecStartPre=/p\nExecStart=/f\n",
        second="[Unit]\nWants=first.service\n[Service]\nExecStart=/s\n",
    )
    fx = t.start("second.service", 0)
    assert spawned(fx) == [("first.service", "/p")]
    fx = t.exited("first.service", token(fx, "first.service"), 0, None, 0)
    assert ("second.service", "/s") in spawned(fx)


def test_unload_forgets_a_unit():
    t = table(db=DB)
    t.unload("db.service")
    assert not t.known("db.service")
    assert t.start("db.service", 0) == [
        ("db.service", Log("Failed to start db.service: Unit db.service not found."))
    ]


def test_reload_keeps_a_running_unit_running():
    t = table(db="[Service]\nExecStart=/db\n")
    fx = t.start("db.service", 0)
    t.load(service_spec("db.service", "[Service]\nExecStart=/db2\n"))
    assert t.state("db.service") == ("active", "running")
    t.exited("db.service", token(fx, "db.service"), None, signal.SIGKILL, 0)
    assert t.state("db.service") == ("failed", "failed")
