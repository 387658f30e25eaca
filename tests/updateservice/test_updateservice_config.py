import pytest

from emulator.config import ConfigErrors, parse_cluster_config
from emulator.config.updateservice import GroupPolicy

BASE = "cluster: x\nnodes: 1\n"


def test_default_groups_are_the_channels():
    cfg = parse_cluster_config(BASE).update_service
    assert [(g.name, g.channel) for g in cfg.groups] == [
        ("alpha", "alpha"),
        ("beta", "beta"),
        ("stable", "stable"),
    ]
    assert cfg.group("stable").policy == GroupPolicy()


def test_policy_overrides_and_new_groups():
    cfg = parse_cluster_config(
        BASE + "update-service:\n  payload-size: 4096\n  groups:\n"
        "    stable: {max-updates-per-period: 1, period: 30s, safe-mode: false}\n"
        "    canary: {channel: beta, update-timeout: 2m, updates-enabled: no}\n"
    ).update_service
    assert cfg.payload_size == 4096
    stable = cfg.group("stable")
    assert stable.channel == "stable"
    assert (stable.policy.max_updates_per_period, stable.policy.period_s) == (1, 30.0)
    assert not stable.policy.safe_mode
    canary = cfg.group("canary")
    assert canary.channel == "beta" and canary.policy.update_timeout_s == 120.0
    assert not canary.policy.updates_enabled


@pytest.mark.parametrize(
    "section, message",
    [
        ("  groups:\n    web: {safe-mode: true}\n", "needs a channel"),
        ("  groups:\n    web: {channel: nightly}\n", "'nightly' is not one of alpha, beta, stable"),
        ("  groups:\n    stable: {period: soon}\n", "duration"),
        ("  groups:\n    stable: {max-updates-per-period: -1}\n", "-1"),
        ("  groups:\n    'bad group': {channel: beta}\n", "not a group name"),
        ("  groups: [stable]\n", "mapping of group name"),
        ("  payload-size: 10\n", "10"),
    ],
)
def test_bad_sections_are_located_errors(section, message):
    with pytest.raises(ConfigErrors) as info:
        parse_cluster_config(BASE + "update-service:\n" + section)
    text = str(info.value)
    assert message in text and "update" in text


def test_unknown_key_is_a_warning():
    cfg = parse_cluster_config(BASE + "update-service:\n  groups:\n    stable: {safemode: true}\n")
    assert any("safemode" in str(w) for w in cfg.warnings)
