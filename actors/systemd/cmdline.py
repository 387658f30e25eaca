"""Exec lines and environments as systemd reads them: quoting, ``$VAR``/``${VAR}``, env files.

- words are split at whitespace; ``"…"`` and ``'…'`` quote, backslash escapes (``\\n``, ``\\t``,
  ``\\\\``, ``\\"``, ``\\'``, ``\\ ``);
- ``$NAME`` standing alone as a word becomes the variable's value split at whitespace (zero or
  more words); ``${NAME}`` anywhere becomes the value as is; ``$$`` is a literal ``$``;
- an EnvironmentFile= holds ``KEY=VALUE`` lines, ``#``/``;`` comments, optional quotes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", " ": " "}
_BRACED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_BARE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")


class CommandLineError(ValueError):
    pass


def split_exec(text: str, env: Mapping[str, str]) -> list[str]:
    """An Exec= line's argv, variables substituted from ``env``."""
    argv: list[str] = []
    for word, _quoted in _words(text):
        bare = _BARE.match(word)  # quotes were removed first, as in systemd's replace_env_argv
        if bare:
            argv.extend(env.get(bare.group(1), "").split())
            continue
        argv.append(_BRACED.sub(lambda m: env.get(m.group(1), ""), word).replace("\0", "$"))
    if not argv:
        raise CommandLineError(f"no command in {text!r}")
    return argv


def _words(text: str) -> list[tuple[str, bool]]:
    """(word, whether any part of it was quoted); ``$$`` kept as NUL to survive substitution."""
    words: list[tuple[str, bool]] = []
    cur: list[str] = []
    quoted = in_word = False
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            cur.append(_ESCAPES.get(nxt, "\\" + nxt))
            in_word = True
            i += 2
            continue
        if ch == "$" and text[i + 1 : i + 2] == "$":
            cur.append("\0")
            in_word = True
            i += 2
            continue
        if quote:
            if ch == quote:
                quote = None
            else:
                cur.append(ch)
        elif ch in "\"'":
            quote, quoted, in_word = ch, True, True
        elif ch.isspace():
            if in_word:
                words.append(("".join(cur), quoted))
            cur, quoted, in_word = [], False, False
        else:
            cur.append(ch)
            in_word = True
        i += 1
    if quote:
        raise CommandLineError(f"unbalanced quote in {text!r}")
    if in_word:
        words.append(("".join(cur), quoted))
    return words


def read_environment_file(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines of an EnvironmentFile=; malformed lines are skipped, as systemd does."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("export "):
            line = line[7:].lstrip()
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key] = value
    return out
