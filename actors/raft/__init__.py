"""Raft consensus: a sans-IO core (``core``), its log, messages and durable storage."""
