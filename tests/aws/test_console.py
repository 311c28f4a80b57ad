"""The web console under /console (issue 19): headless Chromium driven by
selenium for the pages a person uses (sign-in, keys, a key's versions, policy,
deletion, audit, the SO's principals and access keys), and `requests` for what
a browser hides (status codes, cookies, headers, forged posts).

The browser is Debian's `chromium` with `chromium-driver`; the browser tests
fail when they are missing, unless SOFTKMS_NO_BROWSER=1, which skips them.
The tests write screenshots of the main pages to docs/images/ (console-*.png).
"""

import datetime
import html.parser
import json
import os
import re
import subprocess
import uuid
from urllib.parse import urljoin, urlparse

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import (ACCOUNT, PRINCIPAL_PINS, REGION, ROOT, SO_PIN, USER_PIN,
                      _read_ready_line, audit_records, expect_error)

try:
    from selenium import webdriver
    from selenium.common.exceptions import (NoSuchElementException, TimeoutException,
                                            WebDriverException)
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError as e:  # the browser fixture reports it
    webdriver = None
    SELENIUM_IMPORT_ERROR = e

pytestmark = pytest.mark.softkms_only

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
IMAGES = ROOT / "docs" / "images"
WAIT = 15
MAX_PIN_FAILURES = 10  # docs/configuration.md, the default
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on the
    # console's own forms, which the Origin check refuses.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
ALICE = "alice"
ALICE_PIN = PRINCIPAL_PINS["alice"]
BOB_PIN = PRINCIPAL_PINS["bob"]
UUID_PATH = re.compile(
    r"^/console/keys/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
# Every PIN the tests type, and the access key secret the SO makes: none may show in a
# page (but the secret, once), a URL or the server's log.
WRONG_PIN = "wrong-pin-console-tests"
PINS = [*PRINCIPAL_PINS.values(), USER_PIN, SO_PIN, WRONG_PIN]
AK_SECRETS = []


def arn(name):
    return f"arn:aws:iam::{ACCOUNT}:" + ("root" if name == "user" else f"user/{name}")


def policy_doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": arn(who)}, "Action": action, "Resource": "*"}
        for who, action in statements]})


LOCKOUT_POLICY = policy_doc(("alice", "kms:Encrypt"))


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def console_url(server, path):
    return f"{server.endpoint}/console{path}"


def path_of(url_or_location, server):
    return urlparse(urljoin(server.endpoint + "/", url_or_location)).path


# --- HTML without a browser ----------------------------------------------------------------

class Page(html.parser.HTMLParser):
    """What the requests-based tests read from a page: the forms (attributes
    and fields, in order) and the text of every element with an id."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self, text):
        super().__init__()
        self.forms = []
        self.texts = {}
        self._stack = []  # (tag, id)
        self._in_form = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"attrs": a, "fields": {}})
            self._in_form = True
        elif tag in ("input", "textarea", "select") and self._in_form and a.get("name"):
            self.forms[-1]["fields"].setdefault(a["name"], a.get("value", ""))
        if a.get("id"):
            self.texts.setdefault(a["id"], [])
        if tag not in self.VOID:
            self._stack.append((tag, a.get("id")))

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        if any(t == tag for t, _ in self._stack):
            while self._stack and self._stack.pop()[0] != tag:
                pass

    def handle_data(self, data):
        for _, ident in self._stack:
            if ident:
                self.texts[ident].append(data)

    def text(self, ident):
        """The text of element #ident, or None when there is none."""
        parts = self.texts.get(ident)
        return None if parts is None else " ".join("".join(parts).split())

    def form(self, ident=None, cls=None):
        for f in self.forms:
            if ident is not None and f["attrs"].get("id") != ident:
                continue
            if cls is not None and cls not in f["attrs"].get("class", "").split():
                continue
            return f
        raise AssertionError(f"no form id={ident} class={cls} among "
                             f"{[f['attrs'] for f in self.forms]}")


class Http:
    """A `requests` session on the console, without following redirects; it
    keeps every response for the checks on all of them (headers, PIN leaks)."""

    def __init__(self, server, cookie=None):
        self.server = server
        self.session = requests.Session()
        self.cookie = cookie  # a session cookie value taken from the browser
        self.responses = []

    def request(self, method, path, **kwargs):
        headers = dict(kwargs.pop("headers", {}))
        if self.cookie:
            headers["Cookie"] = f"softkms_console={self.cookie}"
        r = self.session.request(method, console_url(self.server, path), headers=headers,
                                 allow_redirects=False, timeout=60, **kwargs)
        self.responses.append(r)
        return r

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, data, **kwargs):
        return self.request("POST", path, data=data, **kwargs)

    def sign_in(self, name, pin, role="principal"):
        page = self.get("/signin")
        assert page.status_code == 200, page.text
        csrf = Page(page.text).form("signin-form")["fields"]["csrf"]
        assert csrf, "empty csrf field on the sign-in form"
        return self.post("/signin", {"name": name, "pin": pin, "role": role, "csrf": csrf})

    def csrf(self, path="/keys"):
        """The session's csrf value, from the sign-out form of a page."""
        r = self.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:2000])
        return Page(r.text).form("signout-form")["fields"]["csrf"]


def signed_in(server, name, pin, role="principal"):
    h = Http(server)
    r = h.sign_in(name, pin, role)
    want = "/console/principals" if role == "so" else "/console/keys"
    assert r.status_code == 303 and path_of(r.headers["Location"], server) == want, (
        r.status_code, r.headers.get("Location"), r.text[:2000])
    return h


def error_of(r):
    return Page(r.text).text("error") or ""


def check_security_headers(r):
    for name, want in SECURITY_HEADERS.items():
        got = " ".join(r.headers.get(name, "").split())
        assert got == want, f"{r.request.method} {r.url} ({r.status_code}): {name}: {got!r}"


def check_no_pin(responses):
    for r in responses:
        for pin in PINS:
            where = f"{r.request.method} {r.url} -> {r.status_code}"
            assert pin not in r.url and pin not in r.headers.get("Location", ""), where
            assert pin not in r.text, f"a PIN in the body of {where}"


# --- the browser --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module."""
    if os.environ.get("SOFTKMS_NO_BROWSER") == "1":
        pytest.skip("SOFTKMS_NO_BROWSER=1: the browser tests are skipped")
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(f"the console's browser tests need {' and '.join(missing)}: install "
                    "Debian's chromium and chromium-driver (apt-get install chromium "
                    "chromium-driver), or set SOFTKMS_NO_BROWSER=1 to skip them",
                    pytrace=False)
    if webdriver is None:
        pytest.fail(f"selenium cannot be imported ({SELENIUM_IMPORT_ERROR}): "
                    "tests/aws/requirements.txt", pytrace=False)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def screenshot(driver, name):
    IMAGES.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(IMAGES / name)), name


def describe_page(driver):
    errors = driver.find_elements(By.ID, "error")
    main = driver.find_elements(By.TAG_NAME, "body")
    return (f"at {driver.current_url}; #error: {errors[0].text if errors else None!r}; "
            f"page: {main[0].text[:1500] if main else driver.page_source[:1500]!r}")


def find(driver, css):
    """The element matching css, or an AssertionError that shows the page."""
    try:
        return driver.find_element(By.CSS_SELECTOR, css)
    except NoSuchElementException:
        raise AssertionError(f"no {css} {describe_page(driver)}") from None


def text(driver, css):
    return find(driver, css).text.strip()


def wait_text(driver, css, want):
    """Waits until the element's text is `want` (pages are server-rendered:
    this only covers the page still loading)."""
    try:
        WebDriverWait(driver, WAIT).until(
            lambda d: [e.text.strip() for e in d.find_elements(By.CSS_SELECTOR, css)] == [want])
    except TimeoutException:
        got = [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]
        raise AssertionError(f"{css} is {got}, not {want!r} {describe_page(driver)}") from None


def gone(element):
    """A wait condition: `element`'s page has been replaced (during the
    navigation the driver may answer with another error than a stale one)."""
    def check(_driver):
        try:
            element.is_enabled()
            return False
        except WebDriverException:
            return True
    return check


def loaded(driver):
    try:
        return driver.execute_script("return document.readyState") == "complete"
    except WebDriverException:
        return False


def click_and_load(driver, css):
    """Clicks a link or button and waits for the next page."""
    old = driver.find_element(By.TAG_NAME, "html")
    find(driver, css).click()
    try:
        WebDriverWait(driver, WAIT).until(gone(old))
        WebDriverWait(driver, WAIT).until(loaded)
    except TimeoutException:
        raise AssertionError(f"no new page after clicking {css} {describe_page(driver)}") from None


def current_path(driver):
    return urlparse(driver.current_url).path


def fill(driver, css, value):
    el = find(driver, css)
    el.clear()
    el.send_keys(value)


def check_labelled(driver):
    """Every form control of the page has a label (label[for], a label around
    it, or aria-label)."""
    for el in driver.find_elements(By.CSS_SELECTOR,
                                   "input:not([type=hidden]), select, textarea"):
        ident = el.get_attribute("id")
        assert (el.get_attribute("aria-label")
                or (ident and driver.find_elements(By.CSS_SELECTOR, f'label[for="{ident}"]'))
                or el.find_elements(By.XPATH, "ancestor::label")), (
            f"no label for {el.tag_name} name={el.get_attribute('name')} {describe_page(driver)}")


def open_signin(driver, server):
    """A fresh sign-in page: no session, a new pre-session cookie."""
    driver.get(console_url(server, "/signin"))
    driver.delete_all_cookies()
    driver.get(console_url(server, "/signin"))
    find(driver, "#signin-form")


def sign_in(driver, server, name, pin, role="principal"):
    open_signin(driver, server)
    find(driver, "#role-so" if role == "so" else "#role-principal").click()
    if role != "so":
        fill(driver, "#name", name)
    fill(driver, "#pin", pin)
    click_and_load(driver, "#signin")
    want = "/console/principals" if role == "so" else "/console/keys"
    assert current_path(driver) == want, describe_page(driver)
    wait_text(driver, "#whoami", "SO" if role == "so" else name)
    assert pin not in driver.current_url and pin not in driver.page_source


def open_key(driver, server, key_id):
    driver.get(console_url(server, f"/keys/{key_id}"))
    wait_text(driver, "#key-id", key_id)


def browser_http(driver, server):
    """An Http with the browser's session cookie."""
    cookie = driver.get_cookie("softkms_console")
    assert cookie, f"no softkms_console cookie in the browser: {driver.get_cookies()}"
    return Http(server, cookie=cookie["value"])


def client_with(server, ak, sk):
    return boto3.session.Session().client(
        "kms", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id=ak,
        aws_secret_access_key=sk, config=Config(retries={"total_max_attempts": 1}))


# --- browser tests ------------------------------------------------------------------------

def test_sign_in_create_and_rotate(browser, server, kms_alice):
    """Alice signs in and lands on the keys table; creates a key through the
    form (alias, SYMMETRIC_DEFAULT), which opens its page with version 1;
    rotates it and sees version 2 as the current one in the timeline; the
    table lists and filters it."""
    d = browser
    open_signin(d, server)
    check_labelled(d)
    screenshot(d, "console-signin.png")
    sign_in(d, server, ALICE, ALICE_PIN)
    for spec, usage, team in (("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "payments"),
                              ("HMAC_256", "GENERATE_VERIFY_MAC", "web"),
                              ("ECC_NIST_P256", "SIGN_VERIFY", "releases")):
        kid = kms_alice.create_key(KeySpec=spec, KeyUsage=usage, Description=f"{team} key",
                                   Tags=[{"TagKey": "team", "TagValue": team}])[
            "KeyMetadata"]["KeyId"]
        kms_alice.create_alias(AliasName=f"alias/{unique(team)}", TargetKeyId=kid)

    alias = unique("console")
    click_and_load(d, "#create-key")
    assert current_path(d) == "/console/keys/new", describe_page(d)
    check_labelled(d)
    fill(d, "#alias", alias)
    fill(d, "#description", "made in the console")
    Select(find(d, "#spec")).select_by_value("SYMMETRIC_DEFAULT")
    Select(find(d, "#usage")).select_by_value("ENCRYPT_DECRYPT")
    click_and_load(d, "#create")
    m = UUID_PATH.match(current_path(d))
    assert m, describe_page(d)
    key_id = m.group(1)
    wait_text(d, "#key-id", key_id)
    wait_text(d, "#key-state", "Enabled")
    wait_text(d, "#current-version", "1")
    assert [v.get_attribute("data-version") for v in
            d.find_elements(By.CSS_SELECTOR, "#versions li.version")] == ["1"]
    assert alias in text(d, "#aliases")
    assert kms_alice.describe_key(KeyId=f"alias/{alias}")["KeyMetadata"]["KeyId"] == key_id

    click_and_load(d, "#rotate")
    find(d, "#notice")
    wait_text(d, "#current-version", "2")
    versions = {v.get_attribute("data-version"): v.get_attribute("class").split()
                for v in d.find_elements(By.CSS_SELECTOR, "#versions li.version")}
    assert set(versions) == {"1", "2"}, versions
    assert "current" in versions["2"] and "current" not in versions["1"], versions
    assert len(kms_alice.list_key_rotations(KeyId=key_id)["Rotations"]) == 1
    check_labelled(d)
    screenshot(d, "console-key.png")

    d.get(console_url(server, "/keys"))
    row = find(d, f'#keys tr.key[data-key-id="{key_id}"]')
    assert row.find_element(By.CSS_SELECTOR, "td.state").text.strip() == "Enabled"
    assert row.find_element(By.CSS_SELECTOR, "a.key-link").get_attribute("href").endswith(
        f"/console/keys/{key_id}")
    assert len(d.find_elements(By.CSS_SELECTOR, "#keys tr.key")) >= 4
    assert d.find_elements(By.CSS_SELECTOR, "#keys a.sort-alias")
    screenshot(d, "console-keys.png")
    fill(d, "#q", alias + "\n")
    WebDriverWait(d, WAIT).until(lambda dr: "q=" in dr.current_url)
    assert [r.get_attribute("data-key-id") for r in
            d.find_elements(By.CSS_SELECTOR, "#keys tr.key")] == [key_id], describe_page(d)


def test_disabled_key_refusal_in_audit(browser, server, kms_alice):
    """Alice disables a key in the console; her Encrypt through the API is then
    refused (DisabledException), and the key's audit page shows the refused
    kms:Encrypt as a record, a `refusal` mark in the chart by operation, and
    the chain's status; the key is enabled again through the console."""
    d = browser
    key_id = kms_alice.create_key(Description="console audit demo")["KeyMetadata"]["KeyId"]
    for i in range(3):
        kms_alice.encrypt(KeyId=key_id, Plaintext=b"before %d" % i)
    sign_in(d, server, ALICE, ALICE_PIN)
    open_key(d, server, key_id)
    click_and_load(d, "#disable")
    find(d, "#notice")
    wait_text(d, "#key-state", "Disabled")
    assert not kms_alice.describe_key(KeyId=key_id)["KeyMetadata"]["Enabled"]
    expect_error("DisabledException", kms_alice.encrypt, KeyId=key_id, Plaintext=b"x")

    click_and_load(d, "#key-audit")
    assert current_path(d) == f"/console/keys/{key_id}/audit", describe_page(d)
    refused = d.find_elements(
        By.CSS_SELECTOR, '#audit tr.record[data-outcome="refused"][data-operation="kms:Encrypt"]')
    assert refused, describe_page(d)
    assert any("alice" in r.get_attribute("data-principal") for r in refused), describe_page(d)
    assert d.find_elements(By.CSS_SELECTOR, '#audit tr.record[data-outcome="ok"]')
    assert d.find_elements(By.CSS_SELECTOR, "svg#chart-operation .refusal"), describe_page(d)
    find(d, "svg#chart-principal")
    status = text(d, "#chain-status")
    assert status.startswith(("verified", "not shown")), status
    screenshot(d, "console-audit.png")

    d.get(console_url(server, f"/keys/{key_id}/audit?outcome=refused"))
    outcomes = {r.get_attribute("data-outcome")
                for r in d.find_elements(By.CSS_SELECTOR, "#audit tr.record")}
    assert outcomes == {"refused"}, outcomes

    open_key(d, server, key_id)
    click_and_load(d, "#enable")
    wait_text(d, "#key-state", "Enabled")
    kms_alice.encrypt(KeyId=key_id, Plaintext=b"after")


def test_policy_editor_lockout_check(browser, server, kms_alice):
    """A policy that would take SetPolicy away from alice (only kms:Encrypt for
    her) is refused by the editor: 400, `#error` about the lock-out, and the
    policy is unchanged (on the page and through GetKeyPolicy)."""
    d = browser
    key_id = kms_alice.create_key(Description="console policy demo")["KeyMetadata"]["KeyId"]
    api_before = kms_alice.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    sign_in(d, server, ALICE, ALICE_PIN)
    open_key(d, server, key_id)
    before = text(d, "#policy-text")
    assert before, describe_page(d)
    click_and_load(d, "#edit-policy")
    assert current_path(d) == f"/console/keys/{key_id}/policy", describe_page(d)
    fill(d, "#policy", LOCKOUT_POLICY)
    click_and_load(d, "#policy-save")
    assert "lock" in text(d, "#error").lower(), describe_page(d)
    find(d, "#policy-form")
    screenshot(d, "console-policy-lockout.png")

    h = browser_http(d, server)
    form = Page(h.get(f"/keys/{key_id}/policy").text).form("policy-form")
    r = h.post(f"/keys/{key_id}/policy", {"csrf": form["fields"]["csrf"], "policy": LOCKOUT_POLICY})
    assert r.status_code == 400 and "lock" in error_of(r).lower(), (r.status_code, r.text[:2000])

    open_key(d, server, key_id)
    assert text(d, "#policy-text") == before
    assert kms_alice.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == api_before
    d.get(console_url(server, f"/keys/{key_id}/audit"))
    assert d.find_elements(By.CSS_SELECTOR, '#audit tr.record[data-outcome="refused"]'
                                            '[data-operation="kms:PutKeyPolicy"]'), describe_page(d)


def test_schedule_and_cancel_deletion(browser, server, kms_alice):
    """Scheduling a deletion needs the typed confirmation (a wrong one: #error);
    with 7 days the key page shows PendingDeletion and the date; cancelling
    leaves the key Disabled (as AWS does) without a deletion date."""
    d = browser
    key_id = kms_alice.create_key(Description="console deletion demo")["KeyMetadata"]["KeyId"]
    sign_in(d, server, ALICE, ALICE_PIN)
    open_key(d, server, key_id)
    click_and_load(d, "#schedule-deletion")
    assert current_path(d) == f"/console/keys/{key_id}/delete", describe_page(d)
    assert find(d, "#days").get_attribute("value") == "30"
    fill(d, "#days", "7")
    fill(d, "#confirm", "yes")
    click_and_load(d, "#schedule")
    find(d, "#error")
    assert kms_alice.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"

    d.get(console_url(server, f"/keys/{key_id}/delete"))
    fill(d, "#days", "7")
    fill(d, "#confirm", "delete")
    click_and_load(d, "#schedule")
    assert current_path(d) == f"/console/keys/{key_id}", describe_page(d)
    wait_text(d, "#key-state", "PendingDeletion")
    now = datetime.datetime.now(datetime.timezone.utc)
    days = {(now + datetime.timedelta(days=n)).date().isoformat() for n in (7, 8)}
    shown = text(d, "#deletion-date")
    assert any(day in shown for day in days), (shown, days)
    md = kms_alice.describe_key(KeyId=key_id)["KeyMetadata"]
    assert md["KeyState"] == "PendingDeletion" and md["DeletionDate"].date().isoformat() in days

    click_and_load(d, "#cancel-deletion")
    wait_text(d, "#key-state", "Disabled")
    assert not d.find_elements(By.CSS_SELECTOR, "#deletion-date"), describe_page(d)
    assert kms_alice.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"


def test_rotation_settings_aliases_and_tags(browser, server, kms_alice):
    """The key page's other actions: automatic rotation every 90 days (shown,
    and seen by GetKeyRotationStatus), an alias and a tag added and removed."""
    d = browser
    key_id = kms_alice.create_key(Description="console settings demo")["KeyMetadata"]["KeyId"]
    sign_in(d, server, ALICE, ALICE_PIN)
    open_key(d, server, key_id)
    wait_text(d, "#rotation-status", "off")
    if not find(d, "#rotation-enabled").is_selected():
        find(d, "#rotation-enabled").click()
    fill(d, "#rotation-period", "90")
    click_and_load(d, "#rotation-save")
    find(d, "#notice")
    assert "every 90 days" in text(d, "#rotation-status"), describe_page(d)
    status = kms_alice.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] and status["RotationPeriodInDays"] == 90, status

    alias = unique("extra")
    fill(d, "#new-alias", alias)
    click_and_load(d, "#alias-add")
    assert alias in text(d, "#aliases"), describe_page(d)
    names = {a["AliasName"] for a in kms_alice.list_aliases(KeyId=key_id)["Aliases"]}
    assert f"alias/{alias}" in names, names
    click_and_load(d, "#aliases form.alias-remove .alias-remove-button")
    assert alias not in text(d, "#aliases"), describe_page(d)
    assert kms_alice.list_aliases(KeyId=key_id)["Aliases"] == []

    fill(d, "#tag-key", "owner")
    fill(d, "#tag-value", "team-blue")
    click_and_load(d, "#tag-add")
    assert "team-blue" in text(d, "#tags"), describe_page(d)
    assert kms_alice.list_resource_tags(KeyId=key_id)["Tags"] == [
        {"TagKey": "owner", "TagValue": "team-blue"}]
    click_and_load(d, "#tags form.tag-remove :is(button, input[type=submit])")
    assert "team-blue" not in text(d, "#tags"), describe_page(d)
    assert kms_alice.list_resource_tags(KeyId=key_id)["Tags"] == []


def test_sign_out_ends_session(browser, server):
    """Sign-out returns to the sign-in page and ends the session on the server:
    the old cookie no longer opens /console/keys (303 to the sign-in page)."""
    d = browser
    sign_in(d, server, ALICE, ALICE_PIN)
    cookie = d.get_cookie("softkms_console")
    assert cookie and cookie["httpOnly"] and cookie.get("sameSite") == "Strict", cookie
    assert Http(server, cookie=cookie["value"]).get("/keys").status_code == 200
    click_and_load(d, "#signout")
    assert current_path(d) == "/console/signin", describe_page(d)
    find(d, "#signin-form")
    r = Http(server, cookie=cookie["value"]).get("/keys")
    assert r.status_code == 303 and path_of(r.headers["Location"], server) == "/console/signin"
    d.get(console_url(server, "/keys"))
    assert current_path(d) == "/console/signin", describe_page(d)


def test_no_rights_no_actions_and_forged_post(browser, server, kms):
    """Bob, whose only right on the owner's key is kms:Encrypt, sees its page
    without any action form and without the policy editor link; a forged
    rotate (his cookie, his valid csrf) is refused with 403 and the key keeps
    one version."""
    d = browser
    key_id = kms.create_key(Description="owner's key", Policy=policy_doc(
        ("user", "kms:*"), ("bob", "kms:Encrypt")))["KeyMetadata"]["KeyId"]
    sign_in(d, server, "bob", BOB_PIN)
    open_key(d, server, key_id)
    assert d.find_elements(By.CSS_SELECTOR, "form.action") == [], describe_page(d)
    assert d.find_elements(By.CSS_SELECTOR, "#edit-policy") == []
    assert d.find_elements(By.CSS_SELECTOR, "#schedule-deletion") == []
    assert d.find_elements(By.CSS_SELECTOR, "#key-audit") == []

    csrf = find(d, '#signout-form input[name="csrf"]').get_attribute("value")
    h = browser_http(d, server)
    for action in ("rotate", "disable"):
        r = h.post(f"/keys/{key_id}/{action}", {"csrf": csrf})
        assert r.status_code == 403, (action, r.status_code, r.text[:2000])
        assert error_of(r), r.text[:2000]
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    # The same csrf value is good: the refusal is the policy's, not the token's.
    assert h.post("/signout", {"csrf": csrf}).status_code == 303


def test_so_principals_and_access_keys(browser, server):
    """The SO signs in to the principals page (alice and bob listed), creates
    an access key for bob (its secret shown once), which works with boto3;
    disabled in the console it is refused, enabled again it works."""
    d = browser
    sign_in(d, server, "", SO_PIN, role="so")
    for nav in ("#nav-principals", "#nav-access-keys", "#nav-audit"):
        find(d, nav)
    names = {r.get_attribute("data-name")
             for r in d.find_elements(By.CSS_SELECTOR, "#principals tr.principal")}
    assert {"alice", "bob"} <= names, names
    screenshot(d, "console-principals.png")

    click_and_load(d, "#nav-access-keys")
    assert current_path(d) == "/console/access-keys", describe_page(d)
    check_labelled(d)
    Select(find(d, "#ak-principal")).select_by_value("bob")
    # Without the SO PIN again, no key is made.
    find(d, "#ak-so-pin").send_keys("not-the-so-pin")
    click_and_load(d, "#ak-create")
    assert "SO PIN is wrong" in text(d, "#error"), describe_page(d)
    assert not d.find_elements(By.CSS_SELECTOR, "#new-ak-id")
    Select(find(d, "#ak-principal")).select_by_value("bob")
    find(d, "#ak-so-pin").send_keys(SO_PIN)
    click_and_load(d, "#ak-create")
    ak, sk = text(d, "#new-ak-id"), text(d, "#new-ak-secret")
    assert ak and sk, describe_page(d)
    AK_SECRETS.append(sk)
    d.get(console_url(server, "/access-keys"))
    assert sk not in d.page_source, "the secret is shown again"
    row = f'#access-keys tr.access-key[data-id="{ak}"]'
    wait_text(d, f"{row} td.status", "Active")
    client_with(server, ak, sk).list_keys()

    click_and_load(d, f"{row} form.ak-disable :is(button, input[type=submit])")
    wait_text(d, f"{row} td.status", "Inactive")
    with pytest.raises(ClientError) as ei:
        client_with(server, ak, sk).list_keys()
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, ei.value.response

    click_and_load(d, f"{row} form.ak-enable :is(button, input[type=submit])")
    wait_text(d, f"{row} td.status", "Active")
    client_with(server, ak, sk).list_keys()


# --- HTTP tests ---------------------------------------------------------------------------

def test_csrf_and_origin_checks(server, kms_alice):
    """A signed-in action without csrf, with a wrong csrf, or from another
    site's Origin is refused (403, #error) and changes nothing; the same post
    with the right csrf and this server's Origin is done (303). The sign-in
    form's double submit is checked too."""
    key_id = kms_alice.create_key()["KeyMetadata"]["KeyId"]
    h = signed_in(server, ALICE, ALICE_PIN)
    csrf = h.csrf()
    wrong = ("0" if csrf[0] != "0" else "1") + csrf[1:]
    for data, headers in (({}, {}), ({"csrf": ""}, {}), ({"csrf": wrong}, {}),
                          ({"csrf": csrf}, {"Origin": "https://evil.example"}),
                          ({"csrf": csrf}, {"Origin": "http://127.0.0.1:1"})):
        r = h.post(f"/keys/{key_id}/rotate", data, headers=headers)
        assert r.status_code == 403, (data, headers, r.status_code, r.text[:2000])
        assert error_of(r), r.text[:2000]
    assert kms_alice.list_key_rotations(KeyId=key_id)["Rotations"] == []
    r = h.post(f"/keys/{key_id}/rotate", {"csrf": csrf}, headers={"Origin": server.endpoint})
    assert r.status_code == 303, (r.status_code, r.text[:2000])
    assert path_of(r.headers["Location"], server) == f"/console/keys/{key_id}"
    assert len(kms_alice.list_key_rotations(KeyId=key_id)["Rotations"]) == 1

    fresh, other = Http(server), Http(server)
    csrf = Page(fresh.get("/signin").text).form("signin-form")["fields"]["csrf"]
    wrong = ("0" if csrf[0] != "0" else "1") + csrf[1:]
    creds = {"name": ALICE, "pin": ALICE_PIN, "role": "principal"}
    for data in (creds, dict(creds, csrf=wrong)):
        r = fresh.post("/signin", data)
        assert r.status_code == 403, (r.status_code, r.text[:2000])
    r = other.post("/signin", dict(creds, csrf=csrf))
    assert r.status_code == 403, "a csrf without its pre-session cookie"
    check_no_pin(h.responses + fresh.responses + other.responses)


def test_cookie_and_security_headers(server):
    """The session cookie and the sign-in form's are HttpOnly, SameSite=Strict,
    Path=/console and not Secure on plain HTTP; every console response (pages, redirects,
    refusals, the stylesheet) has the CSP and the other security headers."""
    def cookie_attrs(r, name):
        cookies = [c for c in r.raw.headers.getlist("Set-Cookie") if c.startswith(name + "=")]
        assert len(cookies) == 1, r.raw.headers.getlist("Set-Cookie")
        attrs = [a.strip().lower() for a in cookies[0].split(";")[1:]]
        assert "httponly" in attrs and "samesite=strict" in attrs, cookies
        assert "path=/console" in attrs and "secure" not in attrs, cookies

    h = Http(server)
    cookie_attrs(h.get("/signin"), "softkms_console_signin")
    r = h.sign_in("bob", BOB_PIN)
    assert r.status_code == 303, r.text[:2000]
    cookie_attrs(r, "softkms_console")
    for path in ("/keys", "/keys/new", "/audit", "/static/console.css", "/principals",
                 "/keys/00000000-0000-0000-0000-000000000000"):
        h.get(path)
    assert h.get("/static/console.css").status_code == 200
    assert h.get("/principals").status_code == 403
    h.post("/keys/00000000-0000-0000-0000-000000000000/rotate", {})
    anonymous = Http(server)
    anonymous.get("/keys")
    anonymous.sign_in("no-such-principal", WRONG_PIN)
    anonymous.post("/keys", {"csrf": "x"})
    for resp in h.responses + anonymous.responses:
        check_security_headers(resp)
    check_no_pin(h.responses + anonymous.responses)


def test_not_signed_in(server, kms):
    """Without a session a GET is sent to the sign-in page (303) and a POST is
    refused (403)."""
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    h = Http(server)
    for path in ("/keys", f"/keys/{key_id}", "/keys/new", "/audit", "/principals"):
        r = h.get(path)
        assert r.status_code == 303, (path, r.status_code)
        assert path_of(r.headers["Location"], server) == "/console/signin", r.headers
    for path in (f"/keys/{key_id}/rotate", "/keys", "/access-keys"):
        r = h.post(path, {"csrf": "x"})
        assert r.status_code == 403, (path, r.status_code)
    r = Http(server, cookie="0" * 43).get("/keys")
    assert r.status_code == 303, "a made-up session cookie"
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []


def test_principal_refused_on_so_pages(server):
    """A principal gets 403 on the SO's pages and actions (a PIN reset of a
    throw-away principal, whose PIN then still works)."""
    victim, victim_pin = unique("victim"), unique("pin-v")
    PINS.append(victim_pin)
    server.softkms("user", "add", victim, pin=None,
                   extra_env={"SOFTKMS_SO_PIN": SO_PIN, "SOFTKMS_NEW_PIN": victim_pin})
    h = signed_in(server, ALICE, ALICE_PIN)
    csrf = h.csrf()
    for path in ("/principals", "/access-keys"):
        r = h.get(path)
        assert r.status_code == 403 and error_of(r), (path, r.status_code, r.text[:2000])
    for path, data in (("/access-keys", {"principal": ALICE, "so_pin": SO_PIN}),
                       (f"/principals/{victim}/pin", {"new_pin": "x" * 12, "new_pin2": "x" * 12,
                                                      "so_pin": SO_PIN})):
        r = h.post(path, dict(data, csrf=csrf))
        assert r.status_code == 403, (path, r.status_code, r.text[:2000])
    signed_in(server, victim, victim_pin)


def wrong_pins(server, name):
    """Signs in as `name` with wrong PINs until the console stops trying; the
    error texts of the 401s and of the final 429."""
    texts = []
    for i in range(MAX_PIN_FAILURES - 1):
        r = Http(server).sign_in(name, WRONG_PIN)
        assert r.status_code == 401, (i, r.status_code, error_of(r))
        assert "sign-in failed" in error_of(r).lower(), error_of(r)
        texts.append(error_of(r))
    r = Http(server).sign_in(name, WRONG_PIN)
    assert r.status_code == 429 and "lock" in error_of(r).lower(), (r.status_code, r.text)
    return texts + [error_of(r)]


def test_wrong_pins_lockout_and_so_reset(server):
    """On a throw-away principal: a wrong PIN is 401 "sign-in failed"; the
    console never makes the try that would lock the PIN (after
    max_pin_failures - 1 wrong ones: 429 without a PIN check, even for the
    right PIN), and a name the token does not know gets the same answers.
    Locked out through the CLI, the right PIN is 401 "locked"; the SO sees it
    locked on the principals page and resets its PIN there; the new PIN signs
    in."""
    name, pin, new_pin = unique("lock"), unique("pin-a"), unique("pin-b")
    PINS.extend([pin, new_pin])
    server.softkms("user", "add", name, pin=None,
                   extra_env={"SOFTKMS_SO_PIN": SO_PIN, "SOFTKMS_NEW_PIN": pin})
    seen = [signed_in(server, name, pin)]
    texts = wrong_pins(server, name)
    assert wrong_pins(server, unique("ghost")) == texts, "an unknown name answers otherwise"
    seen.append(Http(server))
    assert seen[-1].sign_in(name, pin).status_code == 429

    so = signed_in(server, "", SO_PIN, role="so")
    row = re.compile(rf'<tr[^>]*data-name="{re.escape(name)}"[^>]*>.*?</tr>', re.S)
    locked = re.compile(r'<td[^>]*class="[^"]*\blocked\b[^"]*"[^>]*>\s*(\w+)')

    def locked_on_page():
        return locked.search(row.search(so.get("/principals").text).group(0)).group(1)

    assert locked_on_page() == "no"
    lock = server.softkms("--user", name, "key", "list", pin=WRONG_PIN, check=False)
    assert lock.returncode != 0, lock.stdout
    seen.append(Http(server))
    r = seen[-1].sign_in(name, pin)
    assert r.status_code == 401 and "locked" in error_of(r).lower(), (r.status_code, r.text)
    assert locked_on_page() == "yes"

    form = Page(row.search(so.get("/principals").text).group(0)).form(cls="pin-reset")
    fields = dict(form["fields"], new_pin=new_pin, new_pin2=new_pin, so_pin=SO_PIN)
    r = so.post(path_of(form["attrs"]["action"], server).removeprefix("/console"), fields)
    assert r.status_code == 303, (r.status_code, r.text[:2000])
    assert locked_on_page() == "no"
    seen.append(signed_in(server, name, new_pin))
    check_no_pin([resp for h in [*seen, so] for resp in h.responses])


def test_no_console_flag(server, tmp_path):
    """`softkms serve --no-console` serves the AWS API but no console: 404."""
    from test_serve import _fresh_token
    env = dict(_fresh_token(tmp_path, server), SOFTKMS_PIN=USER_PIN)
    proc = subprocess.Popen(
        [server.bin, "serve", "--listen", "127.0.0.1:0", "--region", REGION, "--account",
         ACCOUNT, "--no-console"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)
    try:
        m, _ = _read_ready_line(proc, r"listening on (http://127\.0\.0\.1:\d+)", proc.stdout, 60)
        for path in ("/console/signin", "/console/keys", "/console/static/console.css"):
            r = requests.get(m.group(1) + path, allow_redirects=False, timeout=30)
            assert r.status_code == 404, (path, r.status_code)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_no_pin_in_server_log_or_audit(server):
    """After the tests above (sign-ins, wrong PINs, PIN resets, an access key
    made by the SO), no PIN and no secret access key is in the server's log or
    the audit records, which have the console's sign-ins."""
    log = (server.workdir / "serve.stderr").read_text()
    audit = json.dumps(audit_records(server))
    assert "console:SignIn" in audit
    for secret in PINS + AK_SECRETS:
        assert secret not in log, "a PIN or a secret access key in the server's log"
        assert secret not in audit, "a PIN or a secret access key in the audit records"
