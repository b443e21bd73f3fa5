"""Notebook runs (``pytest --nbmake notebooks``): a notebook whose Jupyter kernel fails
to start is run again, up to twice.

Two workers (``-n 2``) each start a kernel, and jupyter_client picks the kernel's ports
by binding to free ones and releasing them before the kernel binds them; a port taken
in between makes the kernel die before it replies ("Kernel died before replying to
kernel_info", "Address already in use"). Only those start-up errors are retried: a
failing cell fails the run as before."""

import pytest

KERNEL_START_ERRORS = [r"Kernel died before replying", r"Address already in use"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if str(item.path).endswith(".ipynb"):
            item.add_marker(pytest.mark.flaky(reruns=2, only_rerun=KERNEL_START_ERRORS))
