"""The node's emulated container runtime: a docker daemon in the node and a docker CLI for units.

from actors.docker.daemon import DockerDaemon
"""
