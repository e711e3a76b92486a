"""The web desktop in a real headless Chromium (Debian's chromium and chromedriver, driven by
selenium). Run by WebDesktopTests: it prints `STEP <name>` when it needs the test to act on the
telephony side (place the call, make agent 1002 ready, hang up) and waits for a file
`<control>/<name>` the test creates when done. Exits 0 when every check held; screenshots of
each page go to the screenshots folder.

usage: desktop.py BASE_URL CONTROL_DIR SCREENSHOT_DIR
"""
import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE, CONTROL, SHOTS = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(SHOTS, exist_ok=True)


def step(name, timeout=90):
    print(f"STEP {name}", flush=True)
    path = os.path.join(CONTROL, name)
    deadline = time.time() + timeout
    while not os.path.exists(path):
        if time.time() > deadline:
            raise SystemExit(f"the test did not finish step {name}")
        time.sleep(0.1)


def browser():
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000", "--disable-gpu"):
        o.add_argument(a)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    d.set_page_load_timeout(30)
    return d


def wait(d, cond, timeout=30, what=""):
    try:
        # The pages re-render their tables as events arrive: an element read as it is replaced is retried.
        return WebDriverWait(d, timeout, poll_frequency=0.2,
                             ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(cond)
    except Exception:
        shot(d, "failure")
        raise SystemExit(f"timed out: {what}\n{d.current_url}\n{d.find_element(By.TAG_NAME, 'body').text[:3000]}")


def text_is(element_id, value):
    return lambda d: d.find_element(By.ID, element_id).text.strip() == value


def shot(d, name):
    d.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def login(d, code, password, extension=""):
    d.get(BASE + "login")
    wait(d, lambda d: d.execute_script("return typeof token !== 'undefined' && token.length > 0"), what="login token")
    d.find_element(By.ID, "code").send_keys(code)
    d.find_element(By.ID, "password").send_keys(password)
    if extension:
        d.find_element(By.ID, "extension").send_keys(extension)


def submit(d):
    d.find_element(By.ID, "submit").click()


def status_of(d, method, path, with_token):
    """An in-page fetch: its HTTP status (with or without the session's CSRF token)."""
    return d.execute_async_script("""
        const [method, path, withToken, done] = arguments;
        const headers = {'Content-Type': 'application/json'};
        const go = () => fetch(path, {method, credentials: 'same-origin', headers,
                                      body: method === 'POST' ? JSON.stringify({action: 'operator-list'}) : undefined})
            .then(r => done(r.status)).catch(e => done(String(e)));
        if (!withToken) return go();
        fetch('/api/session').then(r => r.json()).then(s => { headers['X-CSRF-Token'] = s.csrf; go(); });
    """, method, path, with_token)


checks = []


def check(ok, what):
    checks.append((ok, what))
    print(("ok   " if ok else "FAIL ") + what, flush=True)


sup = browser()
agent = browser()
other = browser()
try:
    # The supervisor's wallboard first, so that its changes are seen live (no reload).
    login(sup, "2001", "secret-2001")
    shot(sup, "login")
    submit(sup)
    wait(sup, EC.url_contains("/supervisor"), what="supervisor home")
    wait(sup, lambda d: d.find_elements(By.ID, "q-sales-waiting"), what="the sales queue on the board")
    answered_before = wait(sup, lambda d: d.find_element(By.ID, "q-sales-answered").text, what="answered today")

    # A wrong password is refused, then the agent logs in (console mode: the phone answers by itself).
    login(agent, "1001", "not-the-password")
    submit(agent)
    wait(agent, lambda d: "wrong work code or password" in d.find_element(By.ID, "error").text, what="wrong password refused")
    check(True, "a wrong password is refused with its reason")
    login(agent, "1001", "secret-1001")
    submit(agent)
    wait(agent, EC.url_contains("/agent"), what="agent home")
    wait(agent, lambda d: d.find_element(By.ID, "state").text not in ("", "…"), what="agent state")

    step("call")   # the test places a SIPp call through the sample flow (the agent is not ready yet)
    wait(sup, text_is("q-sales-waiting", "1"), 40, "the wallboard shows the caller waiting")
    check(True, "the wallboard shows 1 waiting without a reload")
    shot(sup, "supervisor")

    agent.find_element(By.ID, "ready").click()
    wait(agent, lambda d: d.find_element(By.ID, "pop-caller").text == "13900001111", 30, "the pop shows the caller")
    wait(agent, lambda d: d.find_element(By.ID, "pop-customer").text == "Grace Hopper", 15, "the pop shows the customer's name")
    wait(agent, lambda d: d.find_element(By.ID, "cust-name").get_attribute("value") == "Grace Hopper", 15, "the customer record")
    check(True, "the pop shows the caller 13900001111 and the customer Grace Hopper")
    shot(agent, "agent-pop")
    agent.find_element(By.ID, "answer").click()
    wait(agent, text_is("state", "talking"), 30, "talking after answer")
    wait(sup, text_is("q-sales-waiting", "0"), 20, "the wallboard shows nobody waiting")
    check(True, "answered in the browser: the agent is talking, nobody waits")
    # The customer record is editable: a note saved from the desktop.
    notes = agent.find_element(By.ID, "cust-notes")
    notes.clear()
    notes.send_keys("asked about the invoice")
    agent.find_element(By.ID, "cust-save").click()
    wait(agent, lambda d: d.find_element(By.ID, "cust-status").text.startswith("saved"), 15, "customer saved")
    shot(agent, "agent")

    step("second-agent-ready")
    agent.find_element(By.ID, "transfer-to").send_keys("agent:1002")
    agent.find_element(By.ID, "transfer").click()
    wait(agent, lambda d: d.find_element(By.ID, "state").text in ("wrap-up", "ready", "not-ready"), 30, "the agent is off the call after transferring")
    check(True, "transferred to agent 1002")
    step("transferred")   # the test checks 1002 has the caller, then hangs up
    wait(sup, lambda d: d.find_element(By.ID, "q-sales-answered").text != answered_before, 40, "answered changes on the wallboard")
    check(True, f"the wallboard's answered went from {answered_before} without a reload")
    wait(agent, lambda d: "13900001111" in d.find_element(By.ID, "history").text, 30, "the call in the agent's calls today")
    check(True, "the agent's calls today list the call")

    # An agent opening an administration page gets 403.
    check(status_of(agent, "GET", "/admin", False) == 403, "an agent opening /admin gets 403")
    agent.get(BASE + "admin")
    wait(agent, lambda d: d.find_elements(By.ID, "forbidden"), 10, "the 403 page")
    shot(agent, "forbidden")

    # The admin creates an operator, who then logs in.
    login(other, "3001", "secret-3001")
    submit(other)
    wait(other, EC.url_contains("/admin"), what="admin home")
    wait(other, lambda d: "1001" in d.find_element(By.ID, "operators").text, 20, "operators listed")
    for field, value in (("op-code", "1005"), ("op-name", "Eve Newcomer"), ("op-skills", "sales:4"), ("op-queues", "sales"),
                         ("op-extension", "1003"), ("op-password", "first-pass-1005")):
        e = other.find_element(By.ID, field)
        e.clear()
        e.send_keys(value)
    other.find_element(By.ID, "op-add").click()
    wait(other, lambda d: "Eve Newcomer" in d.find_element(By.ID, "operators").text, 20, "the new operator listed")
    check(status_of(other, "POST", "/api/admin", False) == 403, "a POST without the CSRF token is refused (403)")
    check(status_of(other, "POST", "/api/admin", True) == 200, "the same POST with the token is accepted")
    wait(other, lambda d: "sales" in d.find_element(By.ID, "queues").text, 20, "queues shown")
    shot(other, "admin")
    # The flow's graph, drawn from the Flow-Server's Graphviz text.
    other.find_element(By.ID, "f-name").send_keys("support")
    other.find_element(By.ID, "f-graph").click()
    wait(other, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#f-output svg rect")) >= 4, 20, "the flow's graph")
    check(True, "the support flow's graph is drawn")
    other.execute_script("document.getElementById('f-output').scrollIntoView()")
    shot(other, "admin-flow-graph")
    other.find_element(By.ID, "logout").click()
    wait(other, EC.url_contains("/login"), what="logged out")
    login(other, "1005", "first-pass-1005")
    submit(other)
    wait(other, EC.url_contains("/agent"), 20, "the new operator's desktop")
    wait(other, lambda d: "Eve Newcomer (1005)" in d.find_element(By.ID, "who").text, 20, "the new operator's name")
    check(True, "the operator the admin created logs in")
finally:
    for d in (sup, agent, other):
        d.quit()

failed = [w for ok, w in checks if not ok]
print(json.dumps({"checks": len(checks), "failed": failed}), flush=True)
sys.exit(1 if failed else 0)
