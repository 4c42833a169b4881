"""pytest-cutover: go/no-go gates for moving live traffic from a legacy system to a new one."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pytest-cutover")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
