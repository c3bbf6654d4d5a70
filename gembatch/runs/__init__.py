"""Runs: the store, the chunk state machine, the scheduler, the drivers and the ``Run`` facade."""
