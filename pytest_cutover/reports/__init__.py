"""Report writers: every form a decision is shown in (file, console), each in its own module."""
