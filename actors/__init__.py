"""The parts of a CoreOS machine, each a sans-IO core with a thin Pykka actor shell."""
