"""What every browser test does first."""

import re

from playwright.sync_api import expect

PASSWORD = "pw-for-tests"  # tests.factories.UserFactory's password


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
