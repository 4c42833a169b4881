"""Acting on a decision: traffic-split drivers, the rollback helper, the audit log and the lock.

Library code only (no pytest): the plugin's default hooks (pytest_cutover.actions_plugin) and the
`cutover` command call the same functions, so a manual `cutover rollback` is audited and locked
exactly like the one a NO-GO triggers.
"""
