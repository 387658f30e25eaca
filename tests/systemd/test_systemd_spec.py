"""Reading unit files into service specs, Exec line splitting and environment files."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.systemd.cmdline import CommandLineError, read_environment_file, split_exec
from actors.systemd.spec import parse_timespan, service_spec
from actors.unitfile import UnitFileError


def test_defaults_are_systemds():
    spec = service_spec("a.service", "[Service]\nExecStart=/bin/true\n")
    assert spec.type == "simple"
    assert spec.restart == "no"
    assert spec.timeout_start == 90.0
    assert spec.restart_sec == pytest.approx(0.1)


@pytest.mark.parametrize(
    "text,seconds",
    [("90", 90.0), ("5s", 5.0), ("500ms", 0.5), ("1min 30s", 90.0), ("2h", 7200.0),
     ("1m30s", 90.0), ("infinity", None)],
)  # fmt: skip
def test_timespans(text, seconds):
    assert parse_timespan(text) == seconds


def test_timeout_start_sec_zero_is_no_limit():
    spec = service_spec("a.service", "[Service]\nTimeoutStartSec=0\nExecStart=/x\n")
    assert spec.timeout_start is None


def test_bad_restart_value_names_its_line():
    with pytest.raises(UnitFileError) as err:
        service_spec("a.service", "[Unit]\nDescription=x\n\n[Service]\nRestart=sometimes\n")
    assert err.value.line == 5
    assert "sometimes" in str(err.value)


def test_bad_timespan_names_its_line():
    with pytest.raises(UnitFileError) as err:
        service_spec("a.service", "[Service]\nExecStart=/x\nRestartSec=soon\n")
    assert err.value.line == 3


def test_malformed_file_is_the_parsers_error_with_line():
    with pytest.raises(UnitFileError) as err:
        service_spec("a.service", "[Service]\nExecStart /x\n")
    assert err.value.line == 2


def test_two_exec_starts_need_oneshot():
    with pytest.raises(UnitFileError):
        service_spec("a.service", "[Service]\nExecStart=/a\nExecStart=/b\n")
    assert (
        len(
            service_spec("a.service", "[Service]\nType=oneshot\nExecStart=/a\nExecStart=/b\n").start
        )
        == 2
    )


def test_prefixes_are_stripped_and_dash_remembered():
    spec = service_spec("a.service", "[Service]\nExecStartPre=-/bin/false\nExecStart=@/bin/x y\n")
    assert spec.start_pre[0].text == "/bin/false"
    assert spec.start_pre[0].ignore_failure
    assert not spec.start[0].ignore_failure


def test_empty_assignment_resets_a_command_list():
    spec = service_spec(
        "a.service", "[Service]\nExecStartPre=/a\nExecStartPre=\nExecStartPre=/b\nExecStart=/x\n"
    )
    assert [c.text for c in spec.start_pre] == ["/b"]


def test_environment_quoting_and_later_wins():
    spec = service_spec(
        "a.service", '[Service]\nEnvironment=A=1 "B=two words"\nEnvironment=A=3\nExecStart=/x\n'
    )
    assert dict(spec.environment) == {"A": "3", "B": "two words"}


def test_environment_without_equals_is_an_error():
    with pytest.raises(UnitFileError):
        service_spec("a.service", "[Service]\nEnvironment=JUSTNAME\nExecStart=/x\n")


def test_dependencies_and_specifiers():
    spec = service_spec(
        "web@2.service",
        "[Unit]\nAfter=docker.service etcd2.service\nRequires=docker.service\n"
        "[Service]\nExecStart=/bin/echo %i %n %p\n",
    )
    assert spec.after == ("docker.service", "etcd2.service")
    assert spec.requires == ("docker.service",)
    assert spec.start[0].text == "/bin/echo 2 web@2.service web"


def test_environment_file_optional_prefix():
    spec = service_spec(
        "a.service", "[Service]\nEnvironmentFile=-/etc/x\nEnvironmentFile=/etc/y\nExecStart=/x\n"
    )
    assert spec.environment_files == (("/etc/x", True), ("/etc/y", False))


@pytest.mark.parametrize(
    "line,argv",
    [
        ("/bin/echo a b", ["/bin/echo", "a", "b"]),
        ("/bin/sh -c 'echo a; echo b'", ["/bin/sh", "-c", "echo a; echo b"]),
        ('/bin/echo "x y" z', ["/bin/echo", "x y", "z"]),
        ("/bin/echo $WORDS", ["/bin/echo", "one", "two"]),
        ("/bin/echo ${WORDS}", ["/bin/echo", "one two"]),
        ("/bin/echo pre${ONE}post", ["/bin/echo", "preonepost"]),
        ("/bin/echo $MISSING end", ["/bin/echo", "end"]),
        ("/bin/echo $$HOME", ["/bin/echo", "$HOME"]),
        ("/bin/echo a\\ b", ["/bin/echo", "a b"]),
        ("/bin/echo '$WORDS'", ["/bin/echo", "one", "two"]),  # quotes go first
    ],
)
def test_split_exec(line, argv):
    assert split_exec(line, {"WORDS": "one two", "ONE": "one"}) == argv


def test_split_exec_unbalanced_quote():
    with pytest.raises(CommandLineError):
        split_exec("/bin/echo 'oops", {})


def test_environment_file():
    env = read_environment_file("# c\nA=1\nexport B=\"two words\"\n; x\nbad line\nC='3'\n")
    assert env == {"A": "1", "B": "two words", "C": "3"}


def _quote(arg: str) -> str:
    """How a unit file author writes an argument so systemd reads it back unchanged."""
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$") + '"'


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
                min_size=1, max_size=6))  # fmt: skip
def test_quoted_arguments_come_back_unchanged(args):
    assert split_exec(" ".join(_quote(a) for a in args), {"X": "y"}) == args
