"""The store's operation counters, as ``/v2/stats/store`` shows them (etcd's ``store.Stats``)."""

from __future__ import annotations

from collections.abc import Iterable

# JSON names, in etcd's order; "watchers" is appended from the hub when rendering.
COUNTERS = (
    "getsSuccess",
    "getsFail",
    "setsSuccess",
    "setsFail",
    "deleteSuccess",
    "deleteFail",
    "updateSuccess",
    "updateFail",
    "createSuccess",
    "createFail",
    "compareAndSwapSuccess",
    "compareAndSwapFail",
    "compareAndDeleteSuccess",
    "compareAndDeleteFail",
    "expireCount",
)

GET_SUCCESS, GET_FAIL = "getsSuccess", "getsFail"
SET_SUCCESS, SET_FAIL = "setsSuccess", "setsFail"
DELETE_SUCCESS, DELETE_FAIL = "deleteSuccess", "deleteFail"
UPDATE_SUCCESS, UPDATE_FAIL = "updateSuccess", "updateFail"
CREATE_SUCCESS, CREATE_FAIL = "createSuccess", "createFail"
CAS_SUCCESS, CAS_FAIL = "compareAndSwapSuccess", "compareAndSwapFail"
CAD_SUCCESS, CAD_FAIL = "compareAndDeleteSuccess", "compareAndDeleteFail"
EXPIRE_COUNT = "expireCount"


class StoreStats:
    def __init__(self, values: Iterable[int] = ()):
        self.counts: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        for name, value in zip(COUNTERS, values, strict=False):
            self.counts[name] = int(value)

    def inc(self, name: str) -> None:
        self.counts[name] += 1

    def __getitem__(self, name: str) -> int:
        return self.counts[name]

    def values(self) -> tuple[int, ...]:
        return tuple(self.counts[n] for n in COUNTERS)

    def to_dict(self, watchers: int) -> dict[str, int]:
        """The ``/v2/stats/store`` object, keys in etcd's order."""
        out = dict(self.counts)
        out["watchers"] = watchers
        return out
