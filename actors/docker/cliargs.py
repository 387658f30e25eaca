"""The docker command line, read as docker reads it: pure parsing, docker's own error words.

``parse(argv)`` gives one request (a plain dict the daemon understands) or raises
:class:`UsageError` with docker's message and exit code (125 for ``run``, 1 otherwise).
Flags may be clustered (``-dit``), take ``--flag=value`` or ``--flag value``, and end at the first
non-flag word (the image for ``run``, whose remaining words are the container's command).
"""

from __future__ import annotations

from dataclasses import dataclass

COMMANDS = ("run", "kill", "rm", "stop", "pull", "ps", "logs", "inspect", "images")


class UsageError(Exception):
    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(frozen=True)
class _Flag:
    names: tuple[str, ...]
    key: str
    takes_value: bool = False
    repeat: bool = False


_RUN_FLAGS = (
    _Flag(("--rm",), "rm"),
    _Flag(("-d", "--detach"), "detach"),
    _Flag(("-i", "--interactive"), "interactive"),
    _Flag(("-t", "--tty"), "tty"),
    _Flag(("--name",), "name", True),
    _Flag(("-p", "--publish"), "publish", True, True),
    _Flag(("-e", "--env"), "env", True, True),
    _Flag(("-v", "--volume"), "volume", True, True),  # accepted, not emulated
    _Flag(("--restart",), "restart", True),  # accepted, not emulated
    _Flag(("--net", "--network"), "network", True),  # accepted, not emulated
    _Flag(("-h", "--hostname"), "hostname", True),
    _Flag(("-w", "--workdir"), "workdir", True),
)
_FLAGS: dict[str, tuple[_Flag, ...]] = {
    "run": _RUN_FLAGS,
    "kill": (_Flag(("-s", "--signal"), "signal", True),),
    "rm": (_Flag(("-f", "--force"), "force"), _Flag(("-v", "--volumes"), "volumes")),
    "stop": (_Flag(("-t", "--time"), "time", True),),
    "pull": (_Flag(("-q", "--quiet"), "quiet"), _Flag(("-a", "--all-tags"), "all_tags")),
    "ps": (
        _Flag(("-a", "--all"), "all"),
        _Flag(("-q", "--quiet"), "quiet"),
        _Flag(("--no-trunc",), "no_trunc"),
    ),
    "logs": (
        _Flag(("-f", "--follow"), "follow"),
        _Flag(("--tail", "-n"), "tail", True),
        _Flag(("-t", "--timestamps"), "timestamps"),
    ),
    "inspect": (),
    "images": (_Flag(("-q", "--quiet"), "quiet"),),
}
# how many positional words each command needs (min, max; None = any)
_ARITY = {"run": (1, None), "kill": (1, None), "rm": (1, None), "stop": (1, None),
          "pull": (1, 1), "ps": (0, 0), "logs": (1, 1),
          "inspect": (1, None), "images": (0, 1)}  # fmt: skip


def parse(argv: list[str]) -> dict:
    """``["run", "--rm", "-p", "80:80", "nginx"]`` → ``{"op": "run", "rm": True, …}``."""
    if not argv or argv[0] in ("-h", "--help", "help"):
        raise UsageError("Usage:  docker [OPTIONS] COMMAND\n\nCommands: " + " ".join(COMMANDS), 0)
    op, rest = argv[0], argv[1:]
    if op not in _FLAGS:
        raise UsageError(f"docker: '{op}' is not a docker command.\nSee 'docker --help'")
    code = 125 if op == "run" else 1
    by_name = {n: f for f in _FLAGS[op] for n in f.names}
    out: dict = {"op": op, **{f.key: [] for f in _FLAGS[op] if f.repeat}}
    args: list[str] = []
    i = 0
    while i < len(rest):
        word = rest[i]
        i += 1
        if args and op == "run":
            args.append(word)  # after the image: the container's command, flags and all
            continue
        if word == "--":
            args.extend(rest[i:])
            break
        if not word.startswith("-") or word == "-":
            args.append(word)
            continue
        if word.startswith("--"):
            name, eq, value = word.partition("=")
            flag = by_name.get(name)
            if flag is None:
                raise UsageError(f"unknown flag: {name}\nSee 'docker {op} --help'.", code)
            if flag.takes_value and not eq:
                if i >= len(rest):
                    raise UsageError(
                        f"flag needs an argument: {name}\nSee 'docker {op} --help'.", code
                    )
                value = rest[i]
                i += 1
            _set(out, flag, value if flag.takes_value else True)
            continue
        j = 1  # a cluster of short flags: -dit, -p80:80
        while j < len(word):
            flag = by_name.get("-" + word[j])
            if flag is None:
                raise UsageError(
                    f"unknown shorthand flag: '{word[j]}' in {word}\nSee 'docker {op} --help'.",
                    code,
                )
            if flag.takes_value:
                value = word[j + 1 :]
                if not value:
                    if i >= len(rest):
                        raise UsageError(
                            f"flag needs an argument: '{word[j]}' in -{word[j]}\n"
                            f"See 'docker {op} --help'.",
                            code,
                        )
                    value = rest[i]
                    i += 1
                _set(out, flag, value)
                break
            _set(out, flag, True)
            j += 1
    low, high = _ARITY[op]
    if len(args) < low or (high is not None and len(args) > high):
        want = (
            f"at least {low}"
            if high is None
            else f"exactly {low}"
            if low == high
            else f"at most {high}"
        )
        raise UsageError(
            f'"docker {op}" requires {want} argument{"s" if (high or low) != 1 else ""}.\n'
            f"See 'docker {op} --help'.",
            code,
        )
    if op == "run":
        out["image"], out["cmd"] = args[0], args[1:]
        out["ports"] = [parse_publish(p) for p in out["publish"]]
        out["env"] = [e for e in out["env"]]
    else:
        out["args"] = args
    return out


def _set(out: dict, flag: _Flag, value) -> None:
    if flag.repeat:
        out[flag.key].append(value)
    else:
        out[flag.key] = value


def parse_publish(text: str) -> tuple[str | None, int, int]:
    """``-p`` value → (host address or None, host port (0: any), container port)."""
    spec = text
    for proto in ("/tcp", "/udp", "/sctp"):
        spec = spec.removesuffix(proto)
    if text.endswith(("/udp", "/sctp")):
        raise UsageError(f"docker: only tcp ports are emulated: {text!r}.", 125)
    parts = spec.rsplit(":", 2)
    if len(parts) == 3:
        addr, host, cont = parts
        addr = addr.strip("[]") or None
    elif len(parts) == 2:
        addr, (host, cont) = None, parts
    else:
        addr, host, cont = None, "", parts[0]
    try:
        cport = int(cont)
        hport = int(host) if host else 0
    except ValueError:
        raise UsageError(
            f"docker: Invalid containerPort: {cont}.\nSee 'docker run --help'.", 125
        ) from None
    for port in (cport, hport):
        if not 0 <= port <= 65535 or cport == 0:
            raise UsageError(f"docker: Invalid port specification: {text!r}.", 125)
    return addr, hport, cport
