"""The cluster file's images: section, checked like the rest of the config."""

from __future__ import annotations

import pytest

from emulator.config import ConfigErrors, parse_cluster_config


def test_images_as_commands_or_mappings():
    cfg = parse_cluster_config(
        "nodes: 1\nimages:\n  worker: 'sleep 1'\n  example/ticker:\n    command: date\n"
    )
    assert dict(cfg.images) == {"worker": "sleep 1", "example/ticker": "date"}


def test_no_images_section_is_empty():
    assert dict(parse_cluster_config("nodes: 1\n").images) == {}


def test_every_problem_with_its_line():
    text = (
        "nodes: 1\n"
        "images:\n"
        "  good: 'true'\n"
        "  web: {command: x, ports: 80}\n"
        "  Upper: x\n"
        "  empty: ''\n"
        "  nocmd: {}\n"
        "  tagged:1.0: x\n"
    )
    with pytest.raises(ConfigErrors) as err:
        parse_cluster_config(text, source="c.yaml")
    lines = str(err.value).splitlines()
    assert any(
        line.startswith("c.yaml:4:") and "unknown image field 'ports'" in line for line in lines
    )
    assert any(
        line.startswith("c.yaml:5:") and "not a docker repository name" in line for line in lines
    )
    assert any(line.startswith("c.yaml:6:") and "must not be empty" in line for line in lines)
    assert any(line.startswith("c.yaml:7:") and "needs a command" in line for line in lines)
    assert any(line.startswith("c.yaml:8:") for line in lines)


def test_images_must_be_a_mapping():
    with pytest.raises(ConfigErrors) as err:
        parse_cluster_config("nodes: 1\nimages: [a, b]\n", source="c.yaml")
    assert "c.yaml:2:" in str(err.value)
