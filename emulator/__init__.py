"""coreemu: a CoreOS Container Linux cluster emulator (the machinery: config, processes, transport)."""

__version__ = "0.1.0"
