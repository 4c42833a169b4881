"""Gate library code: each gate answers one go/no-go question and returns GateResults.

Nothing here imports pytest, so the CLI, the suites and other tools call the same functions.
registry.py lists the built-in gates; base.py is the interface each one implements.
"""
