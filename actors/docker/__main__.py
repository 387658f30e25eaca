"""``python -m actors.docker ARGS…``: the emulated docker CLI (see :mod:`actors.docker.cli`)."""

from actors.docker.cli import main

main()
