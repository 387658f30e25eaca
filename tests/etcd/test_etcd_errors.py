"""etcd's v2 error table: codes, messages, statuses, JSON."""

from __future__ import annotations

import json

import pytest

from actors.etcd import errors as E
from actors.etcd.errors import EtcdError


@pytest.mark.parametrize(
    ("code", "message", "status"),
    [
        (100, "Key not found", 404),
        (101, "Compare failed", 412),
        (102, "Not a file", 403),
        (104, "Not a directory", 400),
        (105, "Key already exists", 412),
        (106, "The prefix of given key is a keyword in etcd", 400),
        (107, "Root is read only", 400),
        (108, "Directory not empty", 403),
        (110, "The request requires user authentication", 401),
        (200, "Value is Required in POST form", 400),
        (201, "PrevValue is Required in POST form", 400),
        (202, "The given TTL in POST form is not a number", 400),
        (203, "The given index in POST form is not a number", 400),
        (209, "Invalid field", 400),
        (210, "Invalid POST form", 400),
        (211, "Value provided on refresh", 400),
        (212, "A TTL must be provided on refresh", 400),
        (300, "Raft Internal Error", 500),
        (301, "During Leader Election", 500),
        (400, "watcher is cleared due to etcd recovery", 400),
        (401, "The event in requested index is outdated and cleared", 400),
    ],
)
def test_codes(code, message, status):
    err = EtcdError(code, "c", 3)
    assert (err.message, err.status) == (message, status)
    assert json.loads(err.to_json()) == {
        "errorCode": code,
        "message": message,
        "cause": "c",
        "index": 3,
    }


def test_empty_cause_is_omitted_and_values_compare():
    assert (
        EtcdError(100, "", 1).to_json() == '{"errorCode":100,"message":"Key not found","index":1}'
    )
    assert EtcdError(100, "/a", 1) == EtcdError(100, "/a", 1) != EtcdError(100, "/a", 2)
    assert len({EtcdError(100, "/a", 1), EtcdError(100, "/a", 1)}) == 1
    assert EtcdError(100, "/a", 1).with_index(9).index == 9
    assert "Key not found" in str(EtcdError(100, "/a", 1))


def test_member_side_errors():
    timeout = EtcdError.timeout(4)
    assert (timeout.code, timeout.cause, timeout.index, timeout.status) == (
        300,
        E.CAUSE_TIMEOUT,
        4,
        500,
    )
    assert EtcdError.leader_election(2).code == E.LEADER_ELECT
