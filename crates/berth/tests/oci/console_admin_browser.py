"""The console's Administration and Usage pages in a real browser (headless Chromium over WebDriver).

Run by `console_admin.rs` against a berth it started (with a few repositories pushed and pulled):

    python3 console_admin_browser.py --base http://127.0.0.1:PORT --out DIR --admin-password P \
        --user NAME:PASSWORD

Scenarios: a user without administrative permissions sees no Administration link, and a forged form post
carrying that user's valid CSRF token is refused (403). The administrator signs in, follows Administration,
creates a user with the keyboard alone, creates an access key for them and reads its secret (shown once: not
on the user's page afterwards), finds the key's creation in the audit log filtered by action and principal,
has an invalid policy document refused with the policy engine's reason beside the editor, and opens the
groups, robot tokens, registry settings, vulnerability database and usage pages (charts beside their tables).
A screenshot of each page is saved in DIR. Exits non-zero with the reason on the first failure.
"""

import argparse
import os
import sys

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

# The browser helpers of the main walkthrough (same directory).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from console_browser import Browser, Failed, check, post_status  # noqa: E402

NEW_USER = "dana"


def non_admin(b, args):
    user, password = args.user.split(":", 1)
    b.sign_in(user, password)
    check(b.path() == "/console/", f"{user} signs in")
    check(not b.has("a[href='/console/admin']") and "Administration" not in b.text(),
          "a user without administrative permissions sees no Administration link")
    csrf = b.csrf()
    status, _ = post_status(args.base, "/console/admin/users/create",
                            {"csrf": csrf, "name": "forged", "password": "forged-password"}, b.cookies())
    check(status == 403, f"a forged create-user post with the user's own CSRF token gets 403 ({status})")
    b.open("/console/admin/users")
    check("Not allowed" in b.text(), "the users page is refused on the page too")
    b.sign_out()


def administration(b, args):
    b.sign_in("admin", args.admin_password)
    check(b.has("a[href='/console/admin']"), "the administrator's header links to Administration")
    b.follow("Administration")
    check(b.path() == "/console/admin", "the overview opens")
    for section in ("Users", "Groups", "Robot tokens", "Audit log", "Registry settings", "Vulnerability database"):
        check(b.has(f"a[href^='/console/admin']") and section in b.text(), f"it lists {section}")
    b.shot("admin-overview")

    # A user, created with the keyboard alone: type, then Enter submits the form.
    b.follow("Users")
    b.find("#name").send_keys(NEW_USER)
    b.find("#password").send_keys("dana-password-123")
    b.navigate(lambda: b.find("#password").send_keys(Keys.ENTER))
    check(b.path().startswith(f"/console/admin/user?name={NEW_USER}"), f"creating leads to the user ({b.path()})")
    check("User created." in b.text(), "the page says so")

    # An access key: its secret once.
    b.press("Create access key")
    check("Access key created" in b.text() and "only time" in b.text(), "the key is created")
    secret = b.find("#secret").get_attribute("value")
    key_id = b.driver.find_element(By.XPATH, "//dt[text()='Access key id']/following-sibling::dd[1]").text
    check(len(secret) >= 30 and key_id, f"the secret and the key id are shown ({key_id})")
    b.shot("access-key-created")
    b.follow("Back to the user")
    check(key_id in b.text(), "the user's page lists the key")
    check(secret not in b.driver.page_source, "and never shows its secret again")
    b.shot("admin-user")

    # The audit log shows it.
    b.open("/console/admin/audit")
    b.find("#action").send_keys("berth:CreateAccessKey")
    b.find("#principal").send_keys("admin")
    b.press("Filter")
    rows = [r.text for r in b.driver.find_elements(By.CSS_SELECTOR, "table.audit tbody tr")]
    check(rows and "berth:CreateAccessKey" in rows[0] and f"user/{NEW_USER}" in rows[0],
          f"the audit log shows the key's creation, newest first ({rows[:1]})")
    b.shot("audit-log")

    # An invalid policy: the engine's reason beside the document, kept as typed.
    b.open(f"/console/admin/policy?user={NEW_USER}")
    b.find("#document").send_keys('{"Version": "2012-10-17", "Statement": [{"Effect": "Sometimes", "Action": "ecr:*", "Resource": "*"}]}')
    b.press("Save policy")
    check("policy engine refused" in b.text(), "an invalid document is refused with the engine's reason")
    check("Sometimes" in b.find("#document").get_attribute("value"), "the document is kept as typed")
    check(b.find("#document").get_attribute("aria-invalid") == "true", "the editor is marked invalid")
    b.shot("policy-refused")

    for path, name, text in (
        ("/console/admin/groups", "admin-groups", "Create a group"),
        ("/console/admin/tokens", "admin-robot-tokens", "Create a robot token"),
        ("/console/admin/settings", "admin-settings", "Scanning rules"),
        ("/console/admin/vulndb", "admin-vulndb", "Imported for the registry"),
    ):
        b.open(path)
        check(text in b.text(), f"{path} opens")
        b.shot(name)

    b.follow("Usage")
    check(b.path() == "/console/usage", "the header links to the usage report")
    charts = b.driver.find_elements(By.CSS_SELECTOR, "svg.chart")
    check(len(charts) == 5, f"storage, transfer, pulls, per-repository and metered charts ({len(charts)})")
    check("usage/app" in b.text(), "the table beside them lists the repositories")
    b.shot("usage")
    # The metering report below them, grouped by principal: the administrator's requests have a line.
    Select(b.find("select#group")).select_by_value("principal")
    b.press("Group")
    check(b.path().startswith("/console/usage?") and "group=principal" in b.path(), f"grouped ({b.path()})")
    metered = b.find("table#metered-table").text
    check("arn:aws:iam::000000000000:user/admin" in metered, f"the report by principal lists the administrator ({metered!r})")
    b.shot("usage-by-principal")
    b.sign_out()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--admin-password", required=True)
    p.add_argument("--user", required=True)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    b = Browser(args.base, args.out)
    try:
        non_admin(b, args)
        administration(b, args)
    except (Failed, WebDriverException) as e:
        try:
            b.shot("failure")
            print(f"on {b.path()}:\n{b.text()}", file=sys.stderr)
        except Exception:  # noqa: BLE001 - the failure itself is what matters
            pass
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        b.quit()
    print(f"console administration scenarios passed ({b.shots} screenshots)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
