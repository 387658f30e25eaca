"""Located YAML: lines and key paths, embedded blocks, merging, problems, typed readers."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from emulator.config import yamlsource as ys
from emulator.config.yamlsource import ConfigErrors, Kind, Problem, ProblemLog, Severity


def parse(text: str) -> tuple[ys.YNode | None, ProblemLog]:
    log = ProblemLog("f.yaml")
    return ys.parse_yaml(textwrap.dedent(text), log), log


def line_of(text: str, needle: str) -> int:
    for n, line in enumerate(textwrap.dedent(text).splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in text")


def test_nodes_know_their_line_and_key_path():
    text = """\
        a:
          b:
            - x
            - {c: 3}
        d: 1
        """
    tree, log = parse(text)
    assert not log.errors
    b = tree.get("a").node.get("b")
    assert (b.line, b.path) == (2, "a.b")
    second = b.node.items[1]
    assert second.path == "a.b[1]"
    c = second.get("c")
    assert (c.line, c.path, c.node.value) == (4, "a.b[1].c", 3)
    assert tree.get("d").line == 5


def test_embedded_literal_block_keeps_outer_lines():
    text = """\
        top: 1
        inner: |
          #cloud-config
          coreos:
            update:
              group: beta
        after: 2
        """
    tree, log = parse(text)
    inner = ys.parse_embedded(tree.get("inner").node, log)
    group = inner.get("coreos").node.get("update").node.get("group")
    assert group.line == line_of(text, "group: beta")
    assert group.path == "inner.coreos.update.group"


def test_embedded_folded_text_reports_at_the_value_line():
    text = 'inner: "a: 1\\nb: [2"\n'
    tree, log = parse(text)
    assert ys.parse_embedded(tree.get("inner").node, log) is None
    assert [p.line for p in log.errors] == [1]


def test_syntax_error_line_and_embedded_syntax_error_line():
    tree, log = parse("a: 1\nb: [1, 2\nc: 3\n")
    assert tree is None
    assert log.errors[0].line == 3 and "YAML syntax error" in log.errors[0].message
    text = "x: |\n  ok: 1\n  bad: {a: 1\n  more: 2\n"
    tree, log = parse(text)
    assert ys.parse_embedded(tree.get("x").node, log) is None
    assert log.errors[0].line == 4


def test_duplicate_keys_in_either_spelling_are_errors():
    tree, log = parse("reboot-strategy: off\nother: 1\nreboot_strategy: reboot\nother: 2\n")
    assert [(p.line, p.key_path) for p in log.errors] == [
        (3, "reboot_strategy"),
        (4, "other"),
    ]
    assert "hyphen and underscore" in log.errors[0].message
    assert tree.get("reboot_strategy").node.raw == "off"  # the first one stays


def test_get_accepts_either_spelling():
    tree, _ = parse("port_offset: 1\ncloud-config: {}\n")
    assert tree.get("port-offset").node.value == 1
    assert tree.get("cloud_config").node.kind is Kind.MAP


def test_merge_keys_and_anchors_resolve():
    tree, log = parse("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n")
    assert not log.errors
    assert tree.get("other").node.to_plain() == {"x": 1, "y": 3}


def test_empty_document_is_an_empty_mapping():
    tree, log = parse("# only a comment\n")
    assert tree.kind is Kind.MAP and not tree.entries and not log.errors


def test_text_keeps_what_was_written():
    tree, _ = parse("a: 0644\nb: off\nc: 1.10\nd: '0644'\ne: on\n")
    assert [ys.text(tree.get(k).node) for k in "abcde"] == ["0644", "off", "1.10", "0644", "on"]


@pytest.mark.parametrize(
    ("reader", "value", "message"),
    [
        (ys.text, "[1]", "expected text, got a list"),
        (ys.integer, "x", "expected a whole number"),
        (ys.integer, "true", "expected a whole number, got the boolean true"),
        (ys.boolean, "yes please", "expected true or false"),
        (ys.choice("a", "b"), "c", "'c' is not one of a, b"),
        (ys.seconds, "soon", "expected a duration"),
        (ys.seconds, "0s", "must be more than zero"),
    ],
)
def test_readers_say_what_is_wrong(reader, value, message):
    tree, _ = parse(f"v: {value}\n")
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        reader(tree.get("v").node)


def test_millis_and_seconds_accept_numbers_and_durations():
    tree, _ = parse("a: 100\nb: 1s\nc: 250ms\nd: 30s\ne: 2\n")
    assert ys.millis(tree.get("a").node) == 100
    assert ys.millis(tree.get("b").node) == 1000
    assert ys.millis(tree.get("c").node) == 250
    assert ys.seconds(tree.get("d").node) == 30.0
    assert ys.seconds(tree.get("e").node) == 2.0


def test_read_section_warns_on_unknown_keys_with_a_hint():
    tree, log = parse("metdata: x\nzzz: 1\nverbosity: 2\n")
    sec = ys.read_section(tree, {"metadata": ys.text, "verbosity": ys.integer}, log)
    assert sec.get("verbosity") == 2
    assert not log.errors
    assert [(p.line, p.severity) for p in log.warnings] == [(1, "warning"), (2, "warning")]
    assert "did you mean 'metadata'?" in log.warnings[0].message
    assert "known keys: metadata, verbosity" in log.warnings[1].message


def test_read_section_errors_at_the_value_and_goes_on():
    tree, log = parse("a: x\nb: y\nc: 3\n")
    sec = ys.read_section(tree, {"a": ys.integer, "b": ys.integer, "c": ys.integer}, log)
    assert [p.line for p in log.errors] == [1, 2]
    assert sec.values == {"c": 3}


def test_problem_and_config_errors_text():
    p = Problem("c.yaml", 7, "faults[1].kill", "unknown node 'x'")
    assert str(p) == "c.yaml:7: faults[1].kill: unknown node 'x'"
    assert str(Problem("c.yaml", None, "", "cannot read")) == "c.yaml: cannot read"
    exc = ConfigErrors([p, Problem("c.yaml", 9, "seed", "bad")])
    assert str(exc).splitlines() == [str(p), "c.yaml:9: seed: bad"]
    assert p.severity == "error" and Severity.WARNING == "warning"


def test_problem_log_sorts_by_line_and_drops_repeats():
    log = ProblemLog("f")
    log.error(ys.Loc(9, "b"), "late")
    log.error(ys.Loc(2, "a"), "early")
    log.error(ys.Loc(9, "b"), "late")  # found again, e.g. for the next node
    log.warning(ys.Loc(1, "c"), "hmm")
    assert [(p.line, p.message) for p in log.errors] == [(2, "early"), (9, "late")]
    assert [p.message for p in log.warnings] == ["hmm"]
    with pytest.raises(ConfigErrors) as info:
        log.raise_if_errors()
    assert len(info.value.problems) == 2 and len(info.value.warnings) == 1


# --- properties --------------------------------------------------------------------------------

keys = st.text(alphabet="abcdefgh", min_size=1, max_size=6)
scalars = st.one_of(st.integers(-1000, 1000), st.booleans(), st.text("xyz ", max_size=5))
trees = st.recursive(
    st.dictionaries(keys, scalars, max_size=4),
    lambda children: st.dictionaries(keys, children, min_size=1, max_size=3),
    max_leaves=12,
)


@given(trees)
def test_every_key_line_points_at_that_key_in_the_text(data):
    text = yaml.safe_dump(data, default_flow_style=False, sort_keys=False)
    tree, log = parse(text)
    assert not log.errors
    lines = text.splitlines()

    def walk(node: ys.YNode) -> None:
        for e in node.entries:
            assert lines[e.line - 1].lstrip().startswith(f"{e.key}:")
            if e.node.kind is Kind.MAP:
                walk(e.node)

    if tree.kind is Kind.MAP:
        walk(tree)
        assert tree.to_plain() == data


def plain_merge(a, b):
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return b
    out = dict(a)
    for k, v in b.items():
        out[k] = plain_merge(out[k], v) if k in out else v
    return out


@given(trees, trees)
def test_merge_matches_a_plain_deep_merge(a, b):
    ta, _ = parse(yaml.safe_dump(a))
    tb, _ = parse(yaml.safe_dump(b))
    assert ys.merge(ta, tb).to_plain() == plain_merge(a, b)
