"""Smoke gate: is each system up, ready, alive, and do its key endpoints answer as declared?

config.py (the [smoke] section) is imported by pytest_cutover.config, so this package imports
nothing at load time; the gate itself is pytest_cutover.gates.smoke.gate.
"""
