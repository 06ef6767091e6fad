"""The web console in a real browser (headless Chromium over WebDriver), driven as a person would.

Run by `console.rs` against a berth it started (with the users and repositories it set up):

    python3 console_browser.py --base http://127.0.0.1:PORT --out DIR --admin-password P \
        --reader reader:PASSWORD --berth /path/to/berth --access-key ID:SECRET

Scenarios: the administrator signs in, creates a repository, opens its push commands and runs the shown
`berth login-password | docker login`, `docker build`, `docker tag` and `docker push` lines with the real
docker CLI, sees the image on the repository page and its count and size in the filtered repository list, makes tags
immutable except `dev-*` on the Settings tab, has a second push of another image to the same tag refused by
docker while a push to `dev-1` goes through, edits the repository policy on the Permissions tab (the policy
engine's objection shown inline), deletes an image, and deletes the repository after confirming its name; a post without the CSRF
token is refused; a read-only user sees no create, delete, settings or policy controls and forged deletes,
settings and policy posts carrying that user's valid CSRF token get 403; an anonymous browser sees a public repository in the gallery and not a
private one; the administrator reads a scanned image's findings, filters and sorts them, and writes a public
repository's description, which the anonymous gallery shows and finds. A screenshot of each page is saved in DIR. Exits non-zero with the reason on the first failure.
"""

import argparse
import base64
import http.cookiejar
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

REPO = "console/demo"


class Failed(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Failed(what)
    print(f"ok: {what}", flush=True)


def replaced(element):
    """Whether the page `element` was on has been replaced. While a navigation is under way ChromeDriver may
    answer for the old element with a generic error rather than a stale reference: both mean it is gone."""
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as e:
        if "does not belong to the document" in str(e) or "No node with given id" in str(e):
            return True
        raise


class Browser:
    def __init__(self, base, out):
        self.base = base
        self.out = out
        self.shots = 0
        options = webdriver.ChromeOptions()
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    "--window-size=1280,900", "--lang=en-US"):
            options.add_argument(arg)
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if binary:
            options.binary_location = binary
        driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
        self.driver = webdriver.Chrome(service=Service(driver_path), options=options)
        self.driver.set_page_load_timeout(30)

    def quit(self):
        self.driver.quit()

    def open(self, path):
        self.driver.get(self.base + path)

    def path(self):
        parsed = urllib.parse.urlparse(self.driver.current_url)
        return parsed.path + (("?" + parsed.query) if parsed.query else "")

    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def has(self, css):
        return len(self.driver.find_elements(By.CSS_SELECTOR, css)) > 0

    def navigate(self, action):
        """Runs `action` (a click, a submit) and waits until the next page has loaded."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        action()
        WebDriverWait(self.driver, 30).until(lambda _: replaced(old))
        WebDriverWait(self.driver, 30).until(
            lambda d: d.execute_script("return document.readyState") == "complete")

    def follow(self, text):
        """Follows the link `text`."""
        link = self.driver.find_element(By.LINK_TEXT, text)
        self.navigate(link.click)

    def press(self, text):
        """Presses the button `text`, which submits its form."""
        for b in self.driver.find_elements(By.TAG_NAME, "button"):
            if b.text.strip() == text:
                self.navigate(b.click)
                return
        raise Failed(f"no button {text!r} on {self.path()}")

    def shot(self, name):
        """Saves a screenshot of the whole page."""
        self.shots += 1
        d = self.driver
        height = d.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]["height"]
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": 1280, "height": max(720, int(height)), "deviceScaleFactor": 1, "mobile": False})
        png = d.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        path = os.path.join(self.out, f"{self.shots:02d}-{name}.png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(png))
        print(f"screenshot: {path}", flush=True)

    def sign_in(self, user, password):
        self.open("/console/login")
        self.find("#user").clear()
        self.find("#user").send_keys(user)
        self.find("#password").send_keys(password)
        self.press("Sign in")

    def sign_out(self):
        self.press("Sign out")
        check("You are signed out" in self.text(), "signing out lands on the sign-in page")

    def csrf(self):
        return self.find("input[name=csrf]").get_attribute("value")

    def post_form(self, action, fields):
        """Builds and submits a form the page did not offer (as a forging page would)."""
        self.navigate(lambda: self.driver.execute_script(
            """
            const [action, fields] = arguments;
            const f = document.createElement('form');
            f.method = 'post';
            f.action = action;
            for (const [k, v] of Object.entries(fields)) {
                const i = document.createElement('input');
                i.type = 'hidden'; i.name = k; i.value = v;
                f.appendChild(i);
            }
            document.body.appendChild(f);
            f.submit();
            """,
            action,
            fields,
        ))

    def cookies(self):
        return {c["name"]: c["value"] for c in self.driver.get_cookies()}


def post_status(base, path, fields, cookies):
    """POSTs a form with the browser's cookies; returns the HTTP status and body."""
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(base + path, data=data, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    req.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def run_line(line, env, cwd):
    """Runs one line shown on the push commands page with bash; returns (exit code, output)."""
    print(f"$ {line}", flush=True)
    p = subprocess.run(["bash", "-o", "pipefail", "-c", line], env=env, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300)
    print(p.stdout, flush=True)
    return p.returncode, p.stdout


def image_context(tmp, message):
    ctx = tempfile.mkdtemp(dir=tmp)
    shutil.copy("/bin/busybox", os.path.join(ctx, "busybox"))
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(f'FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "echo", "{message}"]\n')
    return ctx


def admin_walkthrough(b, args, env, tmp):
    # An anonymous browser is sent to sign in, and comes back.
    b.open("/console/")
    check(b.path().startswith("/console/login?next="), "an anonymous browser is sent to the sign-in page")
    b.shot("sign-in")
    b.find("#user").send_keys("admin")
    b.find("#password").send_keys("not-the-password")
    b.press("Sign in")
    check("not right" in b.text(), "a wrong password is refused on the page")
    b.find("#password").send_keys(args.admin_password)
    b.press("Sign in")
    check(b.path() == "/console/", f"signed in as admin, on the repository list ({b.path()})")
    check("Signed in as admin" in b.text(), "the header names the user")

    # Create a repository.
    b.follow("Create repository")
    check(b.path() == "/console/repositories/new", "the create form opens")
    b.shot("create-repository")
    mismatch = "return document.getElementById('name').validity.patternMismatch"
    b.find("#name").send_keys("Team/App")
    check(b.driver.execute_script(mismatch), "the browser flags a name the API would refuse, as it is typed")
    b.find("#name").clear()
    b.find("#name").send_keys(REPO)
    check(not b.driver.execute_script(mismatch), "and accepts a valid one")
    # What only the server checks comes back inline, with the form as typed.
    b.find("#tags").send_keys("aws:owner=me")
    b.press("Create repository")
    check("reserved" in b.find("p.error").text, f"the API's refusal is shown on the form ({b.find('p.error').text})")
    check(b.find("#name").get_attribute("value") == REPO, "the name typed is kept")
    b.shot("create-repository-refused")
    b.find("#tags").clear()
    b.find("#tags").send_keys("team=console")
    b.press("Create repository")
    check(b.path().startswith(f"/console/repositories/{REPO}"), f"creating leads to the repository ({b.path()})")
    check("Repository created" in b.text() and "No images yet" in b.text(), "the new repository is empty")
    check(b.has("a.button.danger"), "the administrator sees the Delete button")
    b.follow("View push commands")
    b.shot("push-commands")
    lines = [c.text for c in b.driver.find_elements(By.CSS_SELECTOR, "ol.commands code")]
    host = urllib.parse.urlparse(args.base).netloc
    login = f"berth login-password | docker login --username AWS --password-stdin {host}"
    check(login in lines, f"the push commands log docker in with berth login-password ({lines})")
    build = f"docker build -t {REPO} ."
    tag = f"docker tag {REPO}:latest {host}/{REPO}:latest"
    push = f"docker push {host}/{REPO}:latest"
    check(all(line in lines for line in (build, tag, push)), "build, tag and push lines for this host")
    aws = f"aws ecr get-login-password --endpoint-url {args.base} | docker login --username AWS --password-stdin {host}"
    check(aws in lines, "the aws CLI variant")

    # Run them, as a newcomer would paste them.
    first = image_context(tmp, "first image")
    for line in (login, build, tag, push):
        code, out = run_line(line, env, first)
        check(code == 0, f"`{line}` succeeds")

    b.open(f"/console/repositories/{REPO}")
    check("latest" in [t.text for t in b.driver.find_elements(By.CSS_SELECTOR, "span.tag")], "the image appears")
    check("sha256:" in b.text() and "not scanned" in b.text(), "with its digest and scan status")
    b.shot("repository-with-image")

    # The list shows its image count, size and last push, and filters by settings.
    b.open("/console/?prefix=console/")
    row = [r.text for r in b.driver.find_elements(By.CSS_SELECTOR, "tbody tr") if r.text.startswith(REPO)]
    check(len(row) == 1 and " 1 " in f" {row[0]} " and "MiB" in row[0] and " UTC" in row[0],
          f"the repository list shows the image count, size and last push ({row})")
    Select(b.find("#f-mutability")).select_by_value("IMMUTABLE")
    b.press("Search")
    check("mutability=IMMUTABLE" in b.path() and REPO not in b.text(), "filtering by immutable tags leaves it out")

    # Tags become immutable, except dev-*, on the Settings tab; a push of another image to the same tag is
    # refused, one to a tag of the exception goes through.
    b.open(f"/console/repositories/{REPO}")
    b.follow("Settings")
    check(b.path() == f"/console/repositories/{REPO}/-/settings", "the Settings tab opens")
    b.find("input[name=tag_mutability][value=IMMUTABLE]").click()
    b.find("#exclusions").send_keys("a, b, c, d, e, f")
    b.press("Save settings")
    check("between 1 and 5" in b.find("p.error").text, "six exception filters are refused inline, as by the API")
    b.find("input[name=tag_mutability][value=IMMUTABLE]").click()
    b.find("#exclusions").clear()
    b.find("#exclusions").send_keys("dev-*")
    b.press("Save settings")
    check("Settings saved" in b.text(), "tag immutability is saved")
    check(b.find("input[name=tag_mutability][value=IMMUTABLE]").is_selected()
          and b.find("#exclusions").get_attribute("value") == "dev-*", "immutable, except dev-*")
    b.shot("settings")
    b.open("/console/?prefix=console/&mutability=IMMUTABLE")
    check(REPO in [a.text for a in b.driver.find_elements(By.CSS_SELECTOR, "td a")], "now listed as immutable")
    b.shot("repositories-filtered")
    second = image_context(tmp, "second image")
    for line in (build, tag):
        code, _ = run_line(line, env, second)
        check(code == 0, f"`{line}` succeeds for the second image")
    code, out = run_line(push, env, second)
    check(code != 0 and ("immutable" in out.lower() or "tag invalid" in out.lower()),
          "docker's push of another image to the immutable tag is refused")
    dev = f"{host}/{REPO}:dev-1"
    for line in (f"docker tag {REPO}:latest {dev}", f"docker push {dev}"):
        code, _ = run_line(line, env, second)
        check(code == 0, f"`{line}` succeeds: dev-* tags stay mutable")

    # The repository policy, on the Permissions tab: the engine's objection inline, then saved and deleted.
    b.open(f"/console/repositories/{REPO}")
    b.follow("Permissions")
    check("has no policy" in b.text(), "the Permissions tab opens on a repository without a policy")
    b.find("#policy").send_keys('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                                '"Action": "ecr:DescribeImages"}]}')
    b.press("Save policy")
    check("missing Principal" in b.find("p.error").text, f"the policy engine's objection ({b.find('p.error').text})")
    check("ecr:DescribeImages" in b.find("#policy").get_attribute("value"), "the policy typed is kept")
    b.shot("permissions-refused")
    b.find("#policy").clear()
    b.find("#policy").send_keys('{"Version": "2012-10-17", "Statement": [{"Sid": "read", "Effect": "Allow", '
                                '"Principal": {"AWS": "*"}, "Action": ["ecr:DescribeImages"]}]}')
    b.press("Save policy")
    check("Repository policy saved" in b.text() and '"Sid": "read"' in b.find("#policy").get_attribute("value"),
          "a valid policy is saved and shown")
    b.shot("permissions")
    b.press("Delete policy")
    check("Repository policy deleted" in b.text() and "has no policy" in b.text(), "and deleted")

    # Delete the image tagged latest from its page; the dev-1 image stays.
    b.open(f"/console/repositories/{REPO}")
    links = b.driver.find_elements(By.CSS_SELECTOR, "a[aria-label^='Image ']")
    latest = [a for a in links if "latest" in a.text]
    check(len(links) == 2 and len(latest) == 1, f"two images, one tagged latest ({[a.text for a in links]})")
    b.navigate(latest[0].click)
    b.press("Delete image")
    tags = [t.text for t in b.driver.find_elements(By.CSS_SELECTOR, "span.tag")]
    check("image_deleted" in b.path() and "latest" not in tags and "dev-1" in tags, f"the image is deleted ({tags})")

    # A post without the CSRF token is refused, and changes nothing.
    b.open("/console/")
    b.post_form("/console/repositories", {"name": "console/forged"})
    check("CSRF" in b.text(), "a post without a CSRF token is refused")
    status, _ = post_status(args.base, "/console/repositories", {"name": "console/forged"}, b.cookies())
    check(status == 403, f"... with 403 ({status})")
    b.open("/console/?prefix=console/forged")
    check("console/forged" not in [a.text for a in b.driver.find_elements(By.CSS_SELECTOR, "td a")],
          "nothing was created")

    # Delete, confirming the name (force: it holds an image).
    b.open(f"/console/repositories/{REPO}")
    b.follow("Delete")
    b.shot("confirm-delete")
    b.find("#confirm").send_keys("console/other")
    b.find("input[name=force]").click()
    b.press("Delete repository")
    check("exactly to confirm" in b.text(), "a wrong confirmation deletes nothing")
    b.find("#confirm").send_keys(REPO)
    b.find("input[name=force]").click()
    b.press("Delete repository")
    check(f"Deleted the repository {REPO}" in b.text(), "the repository is deleted")
    check(REPO not in [a.text for a in b.driver.find_elements(By.CSS_SELECTOR, "td a")], "and gone from the list")
    b.shot("repositories")
    b.sign_out()
    b.open("/console/")
    check(b.path().startswith("/console/login"), "after signing out the console asks to sign in again")


def reader_walkthrough(b, args):
    user, password = args.reader.split(":", 1)
    b.sign_in(user, password)
    check(b.path() == "/console/", "the read-only user signs in")
    names = [a.text for a in b.driver.find_elements(By.CSS_SELECTOR, "td a")]
    check("gallery/private-app" in names, f"and sees the repositories ({names})")
    check(not b.has("a[href='/console/repositories/new']"), "no Create repository control")
    b.open("/console/repositories/gallery/private-app")
    check("View push commands" in b.text(), "the repository page opens")
    check(not b.has("a.button.danger") and not b.has("form.settings"), "no delete or settings controls")
    b.shot("read-only-repository")
    tabs = [a.text for a in b.driver.find_elements(By.CSS_SELECTOR, "nav.tabs a")]
    check("Permissions" not in tabs and "Settings" in tabs, f"no Permissions tab for the read-only user ({tabs})")
    b.follow("Settings")
    check(not b.has("form[action$='/-/settings']") and "may not change" in b.text(),
          "the Settings tab shows the settings without controls")
    b.shot("read-only-settings")
    csrf = b.csrf()
    check(len(csrf) == 64, "the page carries the session's CSRF token")
    b.post_form("/console/repositories/gallery/private-app/-/delete", {"csrf": csrf, "confirm": "gallery/private-app"})
    check("may not ecr:DeleteRepository" in b.text(), "a forged delete with a valid CSRF token is refused")
    status, _ = post_status(args.base, "/console/repositories/gallery/private-app/-/delete",
                            {"csrf": csrf, "confirm": "gallery/private-app", "force": "true"}, b.cookies())
    check(status == 403, f"... with 403 ({status})")
    status, _ = post_status(args.base, "/console/repositories", {"csrf": csrf, "name": "gallery/made"}, b.cookies())
    check(status == 403, f"a forged create gets 403 too ({status})")
    at = "/console/repositories/gallery/private-app/-/"
    for path, fields in ((at + "settings", {"tag_mutability": "IMMUTABLE"}),
                         (at + "settings", {"pull_severity": "LOW"}),
                         (at + "permissions", {"policy": "{}"}),
                         (at + "permissions/delete", {})):
        status, _ = post_status(args.base, path, {"csrf": csrf, **fields}, b.cookies())
        check(status == 403, f"a forged post to {path} {fields} gets 403 ({status})")
    status, _ = post_status(args.base, at + "permissions", {"policy": "{}"}, b.cookies())
    check(status == 403, f"and without the CSRF token too ({status})")
    b.open("/console/repositories/gallery/private-app")
    check("View push commands" in b.text(), "the repository is still there")
    b.open("/console/repositories/gallery/scanned")
    severities = [e.text for e in b.driver.find_elements(By.CSS_SELECTOR, "span.sev")]
    check(len(severities) > 0 and "findings:" in b.text(), f"a scanned image shows its severity counts ({severities})")
    check("artifact" in b.text(), "and its SBOM is listed as an artifact")
    b.shot("scanned-image")
    b.sign_out()


DESCRIPTION = "A tiny public demo image <b>not bold</b>"


def image_and_gallery_description(b, args):
    """The administrator opens the scanned image, reads and filters its findings, downloads nothing (the
    SBOM link is checked), and writes the public repository's gallery description."""
    b.sign_in("admin", args.admin_password)
    b.open("/console/repositories/gallery/scanned")
    b.follow("v1")
    check("/-/images/sha256:" in b.path(), f"the tag links to the image page ({b.path()})")
    severities = [e.text for e in b.driver.find_elements(By.CSS_SELECTOR, "table.findings td:first-child")]
    check(len(severities) > 0, f"the image page lists its findings ({len(severities)})")
    check(b.has("table.layers") and "linux/amd64" in b.text(), "with its layers and config")
    check(b.has("a[href$='/sbom']"), "and offers its SBOM for download")
    b.shot("image")
    wanted = severities[0]
    Select(b.find("#severity")).select_by_value(wanted)
    b.press("Filter")
    shown = [e.text for e in b.driver.find_elements(By.CSS_SELECTOR, "table.findings td:first-child")]
    check(shown and all(s == wanted for s in shown), f"filtering by {wanted} shows only those ({shown})")
    b.navigate(b.find("table.findings th a[href*='sort=package']").click)
    packages = [e.text for e in b.driver.find_elements(By.CSS_SELECTOR, "table.findings td:nth-child(3)")]
    check("sort=package" in b.path() and packages == sorted(packages), f"a column heading sorts by it ({packages})")

    b.open("/console/repositories/gallery/public-app")
    b.find("#description").send_keys(DESCRIPTION)
    b.find("#about_text").send_keys("Prints a line.\n\n```\ndocker run it\n```")
    b.press("Save description")
    check("Gallery description saved" in b.text(), "the gallery description is saved")
    b.shot("repository-description")
    b.sign_out()


def gallery(b):
    b.open("/console/public")
    check(b.path() == "/console/public", "the public gallery needs no sign-in")
    names = [h.text for h in b.driver.find_elements(By.CSS_SELECTOR, "ul.gallery h2")]
    check("gallery/public-app" in names, f"it lists the public repository ({names})")
    check("gallery/private-app" not in names, "and not the private one")
    check("docker pull" in b.text() and "v1" in b.text(), "with its tags and pull command")
    check(DESCRIPTION in b.text(), "and its description, shown as text")
    scanned = [c for c in b.driver.find_elements(By.CSS_SELECTOR, "ul.gallery li")
               if c.find_element(By.TAG_NAME, "h2").text == "gallery/scanned"]
    check(scanned and scanned[0].find_elements(By.CSS_SELECTOR, "span.sev"),
          "a scanned public repository shows its scan summary")
    b.shot("public-gallery")
    b.open("/console/public?q=tiny+public+demo")
    names = [h.text for h in b.driver.find_elements(By.CSS_SELECTOR, "ul.gallery h2")]
    check(names == ["gallery/public-app"], f"the search finds it by its description ({names})")
    b.open("/console/public?prefix=nothing/")
    check("No public repositories" in b.text(), "the search narrows the list")


def headers(base):
    """The sign-in page's security headers and cookie flags."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(base + "/console/login", timeout=30) as r:
        csp = r.headers.get("Content-Security-Policy", "")
        cookie = r.headers.get("Set-Cookie", "")
    check("default-src 'self'" in csp and "script-src 'none'" in csp, f"a strict CSP ({csp})")
    check("HttpOnly" in cookie and "SameSite=Strict" in cookie, f"HttpOnly, SameSite=Strict cookies ({cookie})")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--admin-password", required=True)
    p.add_argument("--reader", required=True)
    p.add_argument("--berth", required=True)
    p.add_argument("--access-key", required=True)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="berth-console-")
    key_id, secret = args.access_key.split(":", 1)
    env = dict(os.environ)
    env.update({
        "PATH": os.path.dirname(args.berth) + os.pathsep + env.get("PATH", ""),
        "BERTH_ENDPOINT": args.base,
        "BERTH_ACCESS_KEY_ID": key_id,
        "BERTH_SECRET_ACCESS_KEY": secret,
        "BERTH_CONFIG_DIR": os.path.join(tmp, "berth-config"),
        "DOCKER_CONFIG": os.path.join(tmp, "docker-config"),
        "DOCKER_BUILDKIT": "0",
    })
    host = urllib.parse.urlparse(args.base).netloc
    headers(args.base)
    b = Browser(args.base, args.out)
    try:
        admin_walkthrough(b, args, env, tmp)
        reader_walkthrough(b, args)
        image_and_gallery_description(b, args)
        gallery(b)
    except Exception as e:  # noqa: BLE001 - any failure: say where, with the page as it was
        try:
            b.shot("failure")
            print(f"on {b.path()}:\n{b.text()}", file=sys.stderr)
        except Exception:  # noqa: BLE001 - the failure itself is what matters
            pass
        if not isinstance(e, (Failed, NoSuchElementException)):
            traceback.print_exc()
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        b.quit()
        subprocess.run(["docker", "rmi", "-f", REPO, f"{host}/{REPO}:latest", f"{host}/{REPO}:dev-1"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"console browser scenarios passed ({b.shots} screenshots)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
