"""docker's command line words (pure parsing), image names and the ps table."""

from __future__ import annotations

import pytest

from actors.docker.cliargs import UsageError, parse, parse_publish
from actors.docker.containers import human_duration, ps_table
from actors.docker.images import ImageSet, pull_denied, split_ref


def test_the_talks_run_line():
    req = parse(
        "run --rm --name apache1 -p 80:80 coreos/apache /usr/sbin/apache2ctl -D FOREGROUND".split()
    )
    assert req["op"] == "run" and req["rm"] and req["name"] == "apache1"
    assert req["ports"] == [(None, 80, 80)]
    assert req["image"] == "coreos/apache"
    assert req["cmd"] == ["/usr/sbin/apache2ctl", "-D", "FOREGROUND"]  # flags after the image


def test_clustered_and_equals_flags():
    req = parse(["run", "-dit", "--name=web", "-e", "A=1", "--env=B=2", "-p8080:80", "nginx"])
    assert req["detach"] and req["interactive"] and req["tty"]
    assert req["name"] == "web"
    assert req["env"] == ["A=1", "B=2"]
    assert req["ports"] == [(None, 8080, 80)]


@pytest.mark.parametrize(
    "text,want",
    [("80:80", (None, 80, 80)), ("127.0.62.5:8080:80", ("127.0.62.5", 8080, 80)),
     ("80", (None, 0, 80)), ("8080:80/tcp", (None, 8080, 80)), ("127.0.62.5::80", ("127.0.62.5", 0, 80))],
)  # fmt: skip
def test_publish(text, want):
    assert parse_publish(text) == want


@pytest.mark.parametrize("text", ["x:80", "80:http", "99999:80", "53:53/udp"])
def test_bad_publish_is_a_run_error(text):
    with pytest.raises(UsageError) as err:
        parse(["run", "-p", text, "busybox"])
    assert err.value.code == 125


def test_unknown_flag_and_command():
    with pytest.raises(UsageError) as err:
        parse(["run", "--privileged", "busybox"])
    assert (err.value.code, err.value.message.splitlines()[0]) == (
        125,
        "unknown flag: --privileged",
    )
    with pytest.raises(UsageError) as err:
        parse(["kill", "-z", "x"])
    assert err.value.code == 1
    with pytest.raises(UsageError) as err:
        parse(["exec", "x"])
    assert "'exec' is not a docker command" in err.value.message


def test_arity():
    with pytest.raises(UsageError) as err:
        parse(["run"])
    assert '"docker run" requires at least 1 argument.' in err.value.message
    with pytest.raises(UsageError):
        parse(["logs", "a", "b"])
    assert parse(["stop", "-t", "3", "a", "b"]) == {"op": "stop", "time": "3", "args": ["a", "b"]}


def test_flag_missing_its_value():
    assert parse(["run", "busybox", "--name"])["cmd"] == [
        "--name"
    ]  # after the image: the command's
    with pytest.raises(UsageError) as err:
        parse(["run", "--name"])
    assert "flag needs an argument" in err.value.message


@pytest.mark.parametrize(
    "name,repo,tag",
    [("nginx", "nginx", "latest"), ("nginx:1.25", "nginx", "1.25"),
     ("docker.io/library/nginx:latest", "nginx", "latest"), ("library/busybox", "busybox", "latest"),
     ("coreos/apache", "coreos/apache", "latest"), ("localhost:5000/x", "localhost:5000/x", "latest")],
)  # fmt: skip
def test_image_names(name, repo, tag):
    assert split_ref(name) == (repo, tag)


def test_image_kinds():
    images = ImageSet({"worker": "sleep 1", "nginx": "echo mine"})
    assert images.resolve("busybox:1.36").kind == "busybox"
    assert images.resolve("coreos/apache").kind == "web"
    assert images.resolve("worker").command == "sleep 1"
    assert images.resolve("nginx").kind == "command"  # the config replaces a built-in
    assert images.resolve("redis") is None
    assert "pull access denied for redis" in pull_denied("redis:7")


@pytest.mark.parametrize(
    "secs,text",
    [(0.2, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (61, "About a minute"),
     (600, "10 minutes"), (3600, "About an hour"), (7200, "2 hours"), (3 * 86400, "3 days")],
)  # fmt: skip
def test_human_durations(secs, text):
    assert human_duration(secs) == text


def test_ps_table_columns():
    row = {
        "id": "a" * 64, "image": "coreos/apache", "cmd": ["/usr/sbin/apache2ctl", "-D", "FOREGROUND"],
        "default_cmd": "", "created": 100.0, "started": 100.0, "finished": 0.0, "status": "running",
        "exit_code": 0, "ports": [("127.0.62.1", 80, 80)], "name": "apache1",
    }  # fmt: skip
    lines = ps_table([row], now=130.0).splitlines()
    assert lines[0].startswith("CONTAINER ID   IMAGE           COMMAND")
    assert "aaaaaaaaaaaa" in lines[1] and '"/usr/sbin/apache2ct…"' in lines[1]
    assert "Up 30 seconds" in lines[1] and "127.0.62.1:80->80/tcp" in lines[1]
    assert lines[1].endswith("apache1")
