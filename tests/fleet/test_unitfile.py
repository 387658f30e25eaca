"""The unit-file parser: go-systemd's rules, errors with line numbers, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.unitfile import UnitFileError, UnitOption, parse_unit, serialize

TALK = """[Unit]
Description=My Apache Frontend
After=docker.service
Requires=docker.service

[Service]
TimeoutStartSec=0
ExecStartPre=-/usr/bin/docker kill apache1
ExecStart=/usr/bin/docker run --rm --name apache1 -p 80:80 coreos/apache /usr/sbin/apache2ctl -D FOREGROUND
ExecStop=/usr/bin/docker stop apache1

[X-Fleet]
Conflicts=apache@*.service
"""


def test_options_in_file_order_and_sections_first_seen():
    unit = parse_unit(TALK)
    assert unit.sections() == ["Unit", "Service", "X-Fleet"]
    assert unit.options[0] == UnitOption("Unit", "Description", "My Apache Frontend")
    assert unit.get("X-Fleet", "Conflicts") == ["apache@*.service"]
    assert unit.get("Service", "Nope") == []


def test_repeated_keys_keep_every_value_in_order():
    unit = parse_unit("[X-Fleet]\nConflicts=a*\nMachineMetadata=x=1\nConflicts=b*\n")
    assert unit.get("X-Fleet", "Conflicts") == ["a*", "b*"]
    assert unit.get("X-Fleet", "MachineMetadata") == ["x=1"]  # split at the first '=' only


def test_comments_blank_lines_and_whitespace():
    text = "# top\n; also\n\n  [Unit]\n\t# indented comment\n  Description  =  hi there  \n"
    assert parse_unit(text).options == (UnitOption("Unit", "Description", "hi there"),)


def test_hash_inside_a_value_is_kept():
    assert parse_unit("[S]\nA=b # c\n").get("S", "A") == ["b # c"]


def test_continuation_replaces_backslash_with_a_space():
    unit = parse_unit("[Service]\nExecStart=/bin/sh -c \\\n  'echo hi'\nUser=x\n")
    assert unit.get("Service", "ExecStart") == ["/bin/sh -c    'echo hi'"]
    assert unit.get("Service", "User") == ["x"]


def test_continuation_at_end_of_file():
    assert parse_unit("[S]\nA=b\\").get("S", "A") == ["b"]


def test_comment_ending_in_backslash_swallows_next_line():
    assert parse_unit("[S]\n# c \\\nA=1\nB=2\n").options == (UnitOption("S", "B", "2"),)


def test_crlf_line_endings():
    assert parse_unit("[S]\r\nA=1\r\n").options == (UnitOption("S", "A", "1"),)


def test_empty_value_allowed():
    assert parse_unit("[S]\nA=\n").get("S", "A") == [""]


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("A=1\n[S]\n", 1, "outside any section"),
        ("[S]\nA=1\njunk\n", 3, "expected 'Name=Value'"),
        ("[S]\n\n\n[T\n", 4, "end of section"),
        ("[S] x\n", 1, "garbage after section name"),
        ("[]\n", 1, "empty section name"),
        ("[S]\n =v\n", 2, "without a name"),
        ("# c\n[S]\nA=1 \\\nB=2\nC\n", 5, "expected"),
    ],
)
def test_errors_name_their_line(text, line, words):
    with pytest.raises(UnitFileError) as info:
        parse_unit(text, source="u.service")
    assert info.value.line == line
    assert words in str(info.value)
    assert str(info.value).startswith(f"u.service:{line}: ")


def test_serialize_canonical_form():
    unit = parse_unit("[B]\nx=1\n[A]\ny=2\n[B]\nz=3\n")
    assert serialize(unit.options) == "[B]\nx=1\nz=3\n\n[A]\ny=2\n"
    assert serialize(()) == ""


# --- properties ---------------------------------------------------------------------------------
_section = st.text(
    st.characters(blacklist_characters="]\n\r[", blacklist_categories=("Cs",)), min_size=1
)
_name = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,15}", fullmatch=True)
_value = (
    st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=30)
    .map(str.strip)
    .filter(lambda v: not v.endswith("\\"))
)
_options = st.lists(st.builds(UnitOption, _section, _name, _value), max_size=12)


def _grouped(options):
    order = list(dict.fromkeys(o.section for o in options))
    return [o for s in order for o in options if o.section == s]


@given(_options)
def test_serialize_then_parse_gives_the_options_grouped_by_section(options):
    assert list(parse_unit(serialize(options)).options) == _grouped(options)


@given(_options)
def test_canonical_text_is_a_fixed_point(options):
    text = serialize(options)
    assert serialize(parse_unit(text).options) == text


@given(st.text(max_size=200))
def test_any_text_parses_or_fails_with_a_line_inside_it(text):
    try:
        unit = parse_unit(text)
    except UnitFileError as exc:
        assert 1 <= exc.line <= text.count("\n") + 1
    else:
        assert all("\n" not in o.value and o.name == o.name.strip() for o in unit.options)


# --- fleet's reading: continuations kept as go-systemd keeps them --------------------------------
def test_kept_continuation_holds_backslash_and_newline():
    unit = parse_unit("[Service]\nExecStart=/bin/sh -c \\\n  'echo hi'\n", keep_continuations=True)
    assert unit.get("Service", "ExecStart") == ["/bin/sh -c \\\n  'echo hi'"]
    assert serialize(unit.options) == "[Service]\nExecStart=/bin/sh -c \\\n  'echo hi'\n"


def test_kept_continuation_ended_by_a_blank_line_keeps_one_newline():
    unit = parse_unit("[S]\nB=x \\\n\nC=1\n", keep_continuations=True)
    assert unit.options == (UnitOption("S", "B", "x \\\n"), UnitOption("S", "C", "1"))


def test_line_too_long_for_go_systemd():
    with pytest.raises(UnitFileError, match="line too long") as info:
        parse_unit("[S]\nA=" + "x" * 3000 + "\n", keep_continuations=True)
    assert info.value.line == 2
    parse_unit("[S]\nA=" + "x" * 3000 + "\n")  # systemd's reading has no such limit here


_cont_value = st.lists(_value.filter(bool), min_size=1, max_size=3).map(
    lambda parts: " \\\n".join(parts)
)


@given(st.lists(st.builds(UnitOption, _section, _name, _cont_value), max_size=8))
def test_kept_continuations_round_trip(options):
    text = serialize(options)
    assert list(parse_unit(text, keep_continuations=True).options) == _grouped(options)
