"""Shared fixtures: personas as in healthchecks' tests (alice owns the board,
bob is a member, vera a viewer, charlie an outsider), and Playwright set up
for Debian's chromium."""

import os
import shutil

# pytest-django's live_server creates the database inside Playwright's running
# event loop; Django would refuse that as async-unsafe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest
from hypothesis import settings as hypothesis_settings

from tests.factories import UserFactory, make_board

CHROMIUM = "/usr/bin/chromium"
REQUIRE_SERVICES = os.environ.get("MLKANBAN_REQUIRE_SERVICES") == "1" or os.environ.get("CI") in ("true", "1")

# Hypothesis: few examples while working, more in CI; no deadline (a database
# round trip varies too much). HYPOTHESIS_PROFILE picks one explicitly. A test's
# own @settings(max_examples=...) still wins over the profile.
hypothesis_settings.register_profile("quick", max_examples=25, deadline=None)
hypothesis_settings.register_profile("ci", max_examples=150, deadline=None, print_blob=True)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") in ("true", "1") else "quick")
)


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", first_name="Alice", last_name="Owner")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", first_name="Bob", last_name="Member")


@pytest.fixture
def vera(db):
    return UserFactory(username="vera", first_name="Vera", last_name="Viewer")


@pytest.fixture
def charlie(db):
    return UserFactory(username="charlie", first_name="Charlie", last_name="Outsider")


@pytest.fixture
def board(alice, bob, vera):
    return make_board(alice, members=[bob], viewers=[vera])


@pytest.fixture
def columns(board):
    return list(board.columns.order_by("position"))


# --- Playwright with Debian's chromium (never a downloaded browser) ---------

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if REQUIRE_SERVICES:
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (see .ci/run)")
        pytest.skip(f"{CHROMIUM} is not installed")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
        ],
    }
