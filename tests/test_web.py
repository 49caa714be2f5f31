"""The web chat and the admin page in a real browser: headless Debian chromium driven by
Selenium, against the real server (uvicorn in a thread) on a workspace with the fake
generator and the hashing embedder. Screenshots go to tests/artifacts/.

Needs /usr/bin/chromium and /usr/bin/chromedriver (Debian's chromium and chromium-driver);
scripts/test.sh installs them.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from fiable.generators.fake import FakeGenerator
from fiable.server import create_app
from fiable.server.auth import hash_key, new_key

from .helpers import copy_handbook, fake_workspace, serve_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).parent / "artifacts"

LEAVE_QUESTION = "How many days of annual leave do employees get?"
# The hashing embedder gives this question a best similarity of about 0.21 to the handbook,
# under the min_relevance of 0.3 set below (the leave question scores about 0.47).
OFF_TOPIC_QUESTION = "Who painted Guernica?"
# The scripted generator's answer: one sentence from the handbook, one made up.
MADE_UP_ANSWER = ("Every employee receives 27 working days of paid annual leave per calendar "
                  "year [1]. Staff on Mars receive 90 days of extra leave for zero-gravity "
                  "recovery [2].")
# A draft the model streams and verification (verify = abstain) then refuses.
MADE_UP_DRAFT = "Staff on Mars receive 90 days of extra leave for zero-gravity recovery."
UNIQUE_FACT = ("Every employee who cycles to work receives a bicycle allowance of 317 euros "
               "per year.")


# -- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("web")
    ws = fake_workspace(root / "ws", min_relevance=0.3)
    ws.ingest([copy_handbook(root)], collection="hr")
    yield ws
    ws.close()


def serve(ws: Any, *, auth: bool) -> Any:
    """The real server on 127.0.0.1 and a free port; a context manager yielding its URL."""
    return serve_app(create_app(ws, auth=auth))


@pytest.fixture(scope="module")
def server(workspace: Any) -> Iterator[str]:
    """The server of ``workspace``, auth off."""
    with serve(workspace, auth=False) as url:
        yield url


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A second server, API keys required, whose generator answers with a made-up sentence;
    yields (URL, a valid key)."""
    root = tmp_path_factory.mktemp("web-keyed")
    ws = fake_workspace(root / "ws", min_relevance=0.3,
                        generator=FakeGenerator([MADE_UP_ANSWER] * 5))
    ws.ingest([copy_handbook(root)], collection="hr")
    key = new_key()
    ws.store.add_api_key("web-test", hash_key(key))
    with serve(ws, auth=True) as url:
        yield url, key
    ws.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not found: the web UI tests need Debian's chromium "
                    "and chromium-driver; run scripts/test.sh (it installs them) or "
                    "`apt-get install chromium chromium-driver`", pytrace=False)
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--lang=en-GB", "--force-color-profile=srgb"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


@pytest.fixture()
def page(browser: WebDriver, server: str) -> Iterator[Callable[..., WebDriver]]:
    """Open a page (a path of ``server``, or a full URL); after the test, fail on the
    JavaScript errors the browser logged."""
    browser.get_log("browser")  # drop what earlier tests logged

    def open_page(path: str) -> WebDriver:
        browser.get(path if path.startswith("http") else server + path)
        wait(browser, lambda d: d.execute_script("return document.readyState") == "complete")
        return browser

    yield open_page
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"
              and not _expected_console_error(e["message"])]
    assert not errors, f"JavaScript errors in the browser console: {errors}"


def _expected_console_error(message: str) -> bool:
    # the drift endpoint answers 404 until there is enough history (the page says so);
    # the 401s that make the page ask for an API key
    return ("/v1/admin/drift" in message and "404" in message) or "401" in message


# -- helpers --------------------------------------------------------------------------------
def wait(driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = 30,
         message: str = "") -> Any:
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)
    except TimeoutException:
        raise AssertionError(f"timed out after {timeout}s waiting: {message}") from None


def by_id(driver: WebDriver, element_id: str) -> WebElement:
    return driver.find_element(By.ID, element_id)


def ask(driver: WebDriver, question: str, collection: str = "") -> WebElement:
    """Ask through the form; return the answer's <article> once the stream is done."""
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#collection option")) > 1,
         message="the collection picker to load")
    if collection:
        by_id(driver, "collection").find_element(
            By.CSS_SELECTOR, f"option[value='{collection}']").click()
    before = len(driver.find_elements(By.CSS_SELECTOR, "#conversation .turn"))
    box = by_id(driver, "question")
    box.clear()
    box.send_keys(question)
    by_id(driver, "ask-button").click()
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#conversation .turn")) > before,
         message="the answer to appear")
    turn = driver.find_element(By.CSS_SELECTOR, "#conversation .turn")  # newest first
    assert turn.find_element(By.CSS_SELECTOR, ".turn-question").text == question
    wait(driver, lambda d: turn.find_element(By.CSS_SELECTOR, ".answer-body")
         .get_attribute("aria-busy") == "false", message=f"the answer to {question!r}")
    return turn


def screenshot(driver: WebDriver, name: str) -> None:
    """Save the whole page (not only the viewport) as tests/artifacts/NAME."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    ARTIFACTS.mkdir(exist_ok=True)  # a test run on its own has no browser fixture made it
    (ARTIFACTS / name).write_bytes(base64.b64decode(shot["data"]))


def record_streaming(driver: WebDriver) -> None:
    """Record every state of the streamed answer text (to prove it arrives in pieces)."""
    driver.execute_script("""
        window.__streamed = [];
        new MutationObserver(() => {
          const p = document.querySelector('#conversation .turn .answer-text.streaming');
          if (p && p.isConnected) window.__streamed.push(p.textContent);
        }).observe(document.getElementById('conversation'),
                   {subtree: true, childList: true, characterData: true});
    """)


# -- tests ----------------------------------------------------------------------------------
def test_ask_streams_cites_and_takes_feedback(page, workspace):
    driver = page("/")
    assert driver.title == "Fiable"
    record_streaming(driver)
    turn = ask(driver, LEAVE_QUESTION, collection="hr")

    answer = turn.find_element(By.CSS_SELECTOR, ".answer-text").text
    assert "27 working days of paid annual leave" in answer
    streamed = [s for s in driver.execute_script("return window.__streamed") if s]
    assert streamed, "no token was shown before the final answer"
    assert len(set(streamed)) > 1 and len(streamed[0]) < len(streamed[-1]), (
        f"the answer did not stream in pieces: {streamed}")
    notices = turn.find_elements(By.CSS_SELECTOR, ".ai-notice")  # one disclosure line
    assert [n.text for n in notices] == [
        "AI-generated by fake-extractive from your documents; retrieval by hashing-64."]
    assert turn.find_elements(By.CSS_SELECTOR, ".sources .source-link"), "no source list"

    # citation [1] opens the passage; Esc closes it and focus returns to the citation
    cite = turn.find_element(By.CSS_SELECTOR, ".answer-text button.cite[data-number='1']")
    assert cite.text == "[1]"
    cite.click()
    dialog = by_id(driver, "passage-dialog")
    wait(driver, lambda d: dialog.get_attribute("open") is not None, message="the passage dialog")
    wait(driver, lambda d: "27 working days" in by_id(d, "passage-text").text,
         message="the full passage text")
    assert by_id(driver, "passage-title").text == "Corvane Cooperative Leave Policy"
    assert "leave-policy.md" in by_id(driver, "passage-meta").text
    assert driver.switch_to.active_element == by_id(driver, "passage-close")
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(driver, lambda d: dialog.get_attribute("open") is None, message="Esc to close")
    assert driver.switch_to.active_element == cite, "focus did not return to the citation"

    # thumbs up and a correction, stored under the answer's trace id
    trace_id = turn.get_attribute("data-trace-id")
    assert trace_id
    thumb = turn.find_element(By.CSS_SELECTOR, "button.thumb-up")
    thumb.click()
    wait(driver, lambda d: thumb.get_attribute("aria-pressed") == "true",
         message="the rating to be saved")
    assert "rating was saved" in turn.find_element(By.CSS_SELECTOR, ".confirm").text
    suggest = turn.find_element(By.CSS_SELECTOR, ".feedback .link-button")
    suggest.click()
    form = turn.find_element(By.CSS_SELECTOR, "form.correction")
    assert form.is_displayed() and suggest.get_attribute("aria-expanded") == "true"
    form.find_element(By.TAG_NAME, "textarea").send_keys("Part-time staff get it pro rata.")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver, lambda d: "correction was sent" in
         turn.find_element(By.CSS_SELECTOR, ".confirm").text, message="the correction")
    assert not form.is_displayed()
    stored = workspace.store.feedback(trace_id=trace_id)
    assert [f["rating"] for f in stored if f["rating"]] == ["up"]
    assert [f["correction"] for f in stored if f.get("correction")] == [
        "Part-time staff get it pro rata."]
    screenshot(driver, "chat.png")


def test_not_in_the_documents(page):
    driver = page("/")
    turn = ask(driver, OFF_TOPIC_QUESTION)
    state = turn.find_elements(By.CSS_SELECTOR, ".not-in-docs")
    assert state, f"expected the 'not in the documents' state, got: {turn.text}"
    assert "Not in the documents" in state[0].text
    assert not turn.find_elements(By.CSS_SELECTOR, ".answer-text button.cite")
    # the closest passages are offered, and open like citations
    closest = state[0].find_elements(By.CSS_SELECTOR, ".sources .source-link")
    assert closest
    closest[0].click()
    wait(driver, lambda d: by_id(d, "passage-text").text.strip() not in ("", "Loading…"),
         message="the closest passage")
    by_id(driver, "passage-close").click()
    assert by_id(driver, "passage-dialog").get_attribute("open") is None


EXPENSE_QUESTION = "Who approves expense claims over 500 euros?"
FOLLOW_UP = "And below that amount?"
PAID_LEAVE_QUESTION = "How many days of paid annual leave do employees get per year?"


def test_the_conversation_is_kept_reopened_and_listed(page, workspace):
    driver = page("/")
    messages = [EXPENSE_QUESTION, FOLLOW_UP, PAID_LEAVE_QUESTION]
    turns = [ask(driver, message) for message in messages]
    shown = driver.find_elements(By.CSS_SELECTOR, "#conversation .turn")
    assert [t.find_element(By.CSS_SELECTOR, ".turn-question").text for t in shown] == (
        messages[::-1])  # newest first
    for turn in shown:
        assert turn.find_element(By.CSS_SELECTOR, ".answer-text").text.strip()
        assert turn.get_attribute("data-trace-id")
    # only the follow-up was rewritten from the earlier turns, and says how it was understood
    understood = turns[1].find_elements(By.CSS_SELECTOR, ".understood-as")
    assert len(understood) == 1 and understood[0].text.startswith("Understood as: ")
    assert understood[0].text != f"Understood as: {FOLLOW_UP}"
    assert not turns[0].find_elements(By.CSS_SELECTOR, ".understood-as")
    thread_id = driver.execute_script("return location.hash").removeprefix("#c=")
    assert thread_id
    def sources_of(turn: WebElement) -> list[str]:
        return [b.text for b in turn.find_elements(By.CSS_SELECTOR, ".sources .source-link")]

    answers = [sources_of(t) for t in shown]
    trace_ids = [t.get_attribute("data-trace-id") for t in shown]
    assert all(answers), "an answer without sources"
    understood_text = understood[0].text
    screenshot(driver, "chat-conversation.png")

    def reopened(message: str) -> list[WebElement]:
        found = wait(driver, lambda d: len(d.find_elements(
            By.CSS_SELECTOR, "#conversation .turn .feedback")) == 3, message=message)
        assert found
        again = driver.find_elements(By.CSS_SELECTOR, "#conversation .turn")
        assert [t.find_element(By.CSS_SELECTOR, ".turn-question").text for t in again] == (
            messages[::-1])
        # the stored answers (their text as the thread keeps it) with the same sources
        assert [t.find_element(By.CSS_SELECTOR, ".answer-text").text.strip() != ""
                for t in again] == [True] * 3
        assert [sources_of(t) for t in again] == answers
        assert again[1].find_element(By.CSS_SELECTOR, ".understood-as").text == understood_text
        assert not by_id(driver, "empty-state").is_displayed()
        return again

    # a reload reopens the same thread, rendered like the live answers (citations, feedback)
    driver.refresh()
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")
    again = reopened("the thread to reopen after a reload")
    assert driver.execute_script("return location.hash") == f"#c={thread_id}"
    assert [t.get_attribute("data-trace-id") for t in again] == trace_ids  # feedback's key
    assert again[0].find_elements(By.CSS_SELECTOR, ".answer-text button.cite")
    thumb = again[0].find_element(By.CSS_SELECTOR, "button.thumb-up")
    thumb.click()
    wait(driver, lambda d: thumb.get_attribute("aria-pressed") == "true",
         message="feedback on a reopened answer")
    assert [f["rating"] for f in workspace.store.feedback(trace_id=trace_ids[0])] == ["up"]

    # "New conversation": an empty view and no thread in the URL; the old one is listed
    new = by_id(driver, "new-conversation")
    assert new.text == "New conversation"
    new.click()
    wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "#conversation .turn"),
         message="the view to empty")
    assert by_id(driver, "empty-state").is_displayed()
    assert driver.execute_script("return location.hash") == ""
    listed = wait(driver, lambda d: d.find_elements(
        By.CSS_SELECTOR, f"#thread-list button.thread-button[data-id='{thread_id}']"),
        message="the earlier thread in the list")[0]
    assert EXPENSE_QUESTION[:20] in listed.text and "3 questions" in listed.text
    assert listed.find_element(By.XPATH, "ancestor::aside") and listed.find_element(
        By.XPATH, "ancestor::nav")
    listed.click()
    reopened("the listed thread to open")
    assert driver.execute_script("return location.hash") == f"#c={thread_id}"
    assert by_id(driver, "thread-list").find_element(
        By.CSS_SELECTOR, f"[data-id='{thread_id}']").get_attribute("aria-current") == "true"


@pytest.fixture(scope="module")
def verifying_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose model drafts a made-up answer that verify = abstain then refuses."""
    root = tmp_path_factory.mktemp("web-verifying")
    ws = fake_workspace(root / "ws", min_relevance=0.05, verify="abstain", support_threshold=0.9,
                        generator=FakeGenerator([MADE_UP_DRAFT] * 5))
    ws.ingest([copy_handbook(root)], collection="hr")
    with serve(ws, auth=False) as url:
        yield url
    ws.close()


def test_the_streamed_draft_is_replaced_by_the_final_answer(page, verifying_server):
    driver = page(verifying_server + "/")
    record_streaming(driver)
    turn = ask(driver, LEAVE_QUESTION)
    streamed = [s for s in driver.execute_script("return window.__streamed") if s]
    assert streamed and "Mars" in streamed[-1], "the draft did not stream"
    # once done, the draft is gone: the refusal, why in plain words, one disclosure line
    assert "Mars" not in turn.text and not turn.find_elements(By.CSS_SELECTOR, ".streaming")
    state = turn.find_element(By.CSS_SELECTOR, ".not-in-docs")
    assert state.find_element(By.CSS_SELECTOR, ".not-in-docs-title").text == (
        "Not in the documents.")
    assert state.find_element(By.CSS_SELECTOR, ".not-in-docs-why").text == (
        "An answer was drafted, but the passages do not back it, so it is not shown.")
    assert state.find_elements(By.CSS_SELECTOR, ".sources .source-link")  # the closest ones
    assert [n.text for n in turn.find_elements(By.CSS_SELECTOR, ".ai-notice")] == [
        "No AI-generated answer is shown: fiable abstained. Models involved: generation by "
        "fake-scripted, retrieval by hashing-64."]
    screenshot(driver, "chat-replaced.png")


def test_upload_shows_progress_then_answers_from_the_new_file(page, tmp_path):
    driver = page("/")
    new = tmp_path / "bicycle-allowance.md"
    new.write_text(f"# Bicycle allowance\n\n{UNIQUE_FACT}\n\nClaim it in Harbour before "
                   "31 January.\n", encoding="utf-8")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"this is not a PDF")

    driver.find_element(By.CSS_SELECTOR, "#upload-panel > summary").click()
    by_id(driver, "upload-files").send_keys(f"{new}\n{broken}")
    collection = by_id(driver, "upload-collection")
    collection.clear()
    collection.send_keys("benefits")
    by_id(driver, "upload-button").click()
    progress = by_id(driver, "upload-progress")
    wait(driver, lambda d: progress.is_displayed(), message="the progress bar")
    wait(driver, lambda d: by_id(d, "upload-message").text.startswith("Done"),
         message="the upload to finish")
    assert by_id(driver, "upload-message").text == (
        "Done: 1 added, 0 updated, 0 unchanged, 1 failed.")
    assert progress.get_attribute("value") == progress.get_attribute("max") == "2"
    result = by_id(driver, "upload-result").text
    assert "bicycle-allowance.md" in result
    assert "broken.pdf" in result and "not a PDF" in result
    assert "/uploads/" not in result  # the server's folder is not shown to staff

    # the new collection is offered in the picker, and the answer cites the new file
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#collection option[value='benefits']"),
         message="the new collection in the picker")
    turn = ask(driver, "How much is the bicycle allowance?")
    assert "317 euros per year" in turn.find_element(By.CSS_SELECTOR, ".answer-text").text
    titles = [b.find_element(By.CSS_SELECTOR, ".source-title").text
              for b in turn.find_elements(By.CSS_SELECTOR, ".sources .source-link")]
    assert "Bicycle allowance" in titles


def test_admin_lists_requests_and_opens_a_trace(page, workspace):
    answer = workspace.ask(LEAVE_QUESTION)  # at least one request, whatever ran before
    workspace.store.save_feedback({"trace_id": answer.trace_id, "rating": "down", "comment": None,
                                   "correction": "Part-time staff get it pro rata.",
                                   "principal": "test"})
    driver = page("/admin")
    rows = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#requests tbody tr"),
                message="the requests table")
    assert rows[0].get_attribute("data-trace-id") == answer.trace_id  # newest first
    assert LEAVE_QUESTION in rows[0].text and "fake-extractive" in rows[0].text
    assert "Not helpful" in rows[0].text
    charts = driver.find_elements(By.CSS_SELECTOR, ".charts svg.chart[role=img]")
    assert len(charts) == 2 and all(c.get_attribute("aria-label") for c in charts)
    assert driver.find_elements(By.CSS_SELECTOR, "#latency-chart circle.dot")
    assert "requests" in by_id(driver, "latency-summary").text
    wait(driver, lambda d: "Loading" not in by_id(d, "drift").text, message="the drift box")

    rows[0].find_element(By.CSS_SELECTOR, "button.question-button").click()
    panel = by_id(driver, "trace")
    wait(driver, lambda d: panel.is_displayed() and d.find_elements(By.CSS_SELECTOR, "#trace .message"),
         message="the trace with its prompt")
    assert driver.switch_to.active_element == by_id(driver, "trace-title")
    text = panel.text
    assert answer.trace_id in text
    assert "27 working days" in text  # the answer and the passages
    roles = [r.text.lower() for r in panel.find_elements(By.CSS_SELECTOR, ".message-role")]
    assert "user" in roles
    timeline = panel.find_elements(By.CSS_SELECTOR, ".spans li")
    assert timeline, "no span tree or stage timings"
    assert panel.find_elements(By.CSS_SELECTOR, ".chunk-list li")
    assert "Suggested correction: Part-time staff get it pro rata." in text
    screenshot(driver, "admin.png")
    by_id(driver, "trace-close").click()
    assert not panel.is_displayed()


def test_admin_shows_the_audit_trail_access_and_models(page, workspace):
    answer = workspace.ask(LEAVE_QUESTION)
    driver = page("/admin")
    audit = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#gov-audit tbody tr"),
                 message="the audit table")
    assert "answer" in audit[0].text and "local" in audit[0].text  # newest first
    assert LEAVE_QUESTION not in by_id(driver, "gov-audit").text  # no question text here
    by_id(driver, "gov-verify").click()
    verdict = wait(driver, lambda d: d.find_elements(By.ID, "gov-verdict"),
                   message="the chain's verification")[0]
    assert verdict.text.startswith("Verified:") and "records" in verdict.text
    wait(driver, lambda d: "Single-user mode" in by_id(d, "gov-access").text,
         message="the access policy")
    models = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#gov-models tbody tr"),
                  message="the model inventory")
    assert {"generator", "embedder"} <= {r.find_elements(By.TAG_NAME, "td")[1].text
                                         for r in models}
    assert answer.trace_id  # the answer audited above is the newest record
    screenshot(driver, "admin-governance.png")


def test_phone_width_has_no_horizontal_scroll(page, browser):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 375, "height": 812, "deviceScaleFactor": 2, "mobile": True})
    try:
        driver = page("/")
        ask(driver, LEAVE_QUESTION)
        driver.find_element(By.CSS_SELECTOR, "#upload-panel > summary").click()
        driver.execute_script("window.scrollTo(0, 0)")
        width = driver.execute_script("return window.innerWidth")
        assert width == 375
        scroll = driver.execute_script(
            "return Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
        assert scroll <= width, f"horizontal scroll at 375 px: content is {scroll} px wide"
        for element_id in ("question", "ask-button", "collection"):
            element = by_id(driver, element_id)
            assert element.is_displayed(), f"#{element_id} is not visible"
            rect = driver.execute_script("return arguments[0].getBoundingClientRect().toJSON()",
                                         element)
            assert rect["left"] >= 0 and rect["right"] <= width, (element_id, rect)
            assert rect["top"] < driver.execute_script("return window.innerHeight"), element_id
        screenshot(driver, "chat-phone.png")
        # the passage dialog fits the phone too
        driver.find_element(By.CSS_SELECTOR, ".answer-text button.cite").click()
        dialog = by_id(driver, "passage-dialog")
        wait(driver, lambda d: dialog.get_attribute("open") is not None, message="the dialog")
        rect = driver.execute_script("return arguments[0].getBoundingClientRect().toJSON()", dialog)
        assert rect["left"] >= 0 and rect["right"] <= width, rect
        driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_api_key_prompt_and_unsupported_sentences(page, keyed_server):
    url, key = keyed_server
    driver = page(url + "/")
    # the first API call answers 401 missing_api_key: the page asks for a key
    dialog = wait(driver, lambda d: d.find_element(By.ID, "api-key-dialog"),
                  message="the API key dialog")
    wait(driver, lambda d: dialog.get_attribute("open") is not None, message="the key dialog")
    field = by_id(driver, "api-key")
    assert field.get_attribute("type") == "password"
    assert driver.switch_to.active_element == field
    assert driver.find_element(By.CSS_SELECTOR, "label[for='api-key']").text == "API key"
    field.send_keys("fk-wrong", Keys.ENTER)
    wait(driver, lambda d: "not accepted" in by_id(d, "api-key-message").text,
         message="the invalid key message")
    field.send_keys(key, Keys.ENTER)
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#collection option[value='hr']"),
         message="the collections, once the key is accepted")
    assert driver.execute_script("return localStorage.getItem('fiable.apiKey')") == key

    turn = ask(driver, LEAVE_QUESTION)
    flagged = turn.find_elements(By.CSS_SELECTOR, ".answer-text .sentence.unsupported")
    assert len(flagged) == 1 and "Mars" in flagged[0].text
    assert "not supported by the sources" in flagged[0].get_attribute("textContent")
    assert flagged[0].find_element(By.CSS_SELECTOR, "svg.icon-alert").is_displayed()
    decoration = driver.execute_script(
        "return getComputedStyle(arguments[0]).textDecorationLine", flagged[0])
    assert "underline" in decoration
    supported = turn.find_element(By.CSS_SELECTOR, ".answer-text .sentence")
    assert "27 working days" in supported.text
    assert "unsupported" not in supported.get_attribute("class")
    assert turn.find_element(By.CSS_SELECTOR, ".flag-note").is_displayed()
    screenshot(driver, "chat-unsupported.png")


_UNNAMED_CONTROLS = """
const text = (el) => (el ? el.textContent : '').replace(/\\s+/g, ' ').trim();
const nameOf = (el) => {
  if ((el.getAttribute('aria-label') || '').trim()) return el.getAttribute('aria-label');
  const by = el.getAttribute('aria-labelledby');
  if (by) return by.split(/\\s+/).map((id) => text(document.getElementById(id))).join(' ');
  if (el.labels && el.labels.length) return [...el.labels].map(text).join(' ');
  if (el.tagName === 'BUTTON') return text(el);
  return (el.getAttribute('title') || '').trim();
};
return [...document.querySelectorAll('input, button, textarea, select')]
  .filter((el) => el.type !== 'hidden' && !nameOf(el).trim())
  .map((el) => el.outerHTML.slice(0, 160));
"""
_LOW_CONTRAST = """
const rgba = (c) => {
  const m = c.match(/rgba?\\(([^)]+)\\)/);
  if (!m) return null;
  const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
};
const luminance = ([r, g, b]) => [r, g, b].map((v) => {
  v /= 255;
  return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}).reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
const background = (el) => {
  for (let n = el; n; n = n.parentElement) {
    const c = rgba(getComputedStyle(n).backgroundColor);
    if (c && c[3] > 0) return c[3] === 1 ? c : c.map((v, i) => i < 3 ? v * c[3] + 255 * (1 - c[3]) : 1);
  }
  return [255, 255, 255, 1];
};
const bad = [];
for (const el of document.body.querySelectorAll('*')) {
  if (el.closest('svg, option, noscript, .visually-hidden') || !el.getClientRects().length) continue;
  const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own) continue;
  const style = getComputedStyle(el);
  if (style.visibility === 'hidden') continue;
  const fg = rgba(style.color), bg = background(el);
  const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
  const ratio = (hi + 0.05) / (lo + 0.05);
  const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
  const need = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
  if (ratio < need) bad.push(`${el.tagName.toLowerCase()}.${el.className}: ${ratio.toFixed(2)} ` +
                              `< ${need} (${el.textContent.trim().slice(0, 40)})`);
}
return bad;
"""
_NAMED_ROLES = {"button", "textbox", "combobox", "checkbox", "radio", "link", "searchbox",
                "spinbutton", "slider", "listbox", "progressbar", "switch", "tab", "menuitem"}


def _unnamed_in_accessibility_tree(driver: WebDriver) -> list[str]:
    """Controls whose name, as Chromium computes it for assistive technology, is empty."""
    tree = driver.execute_cdp_cmd("Accessibility.getFullAXTree", {})["nodes"]
    missing = []
    for node in tree:
        role = (node.get("role") or {}).get("value")
        if node.get("ignored") or role not in _NAMED_ROLES:
            continue
        if not str((node.get("name") or {}).get("value") or "").strip():
            missing.append(f"{role} (backend node {node.get('backendDOMNodeId')})")
    return missing


def test_every_control_is_named_and_text_has_aa_contrast(page):
    driver = page("/")
    ask(driver, OFF_TOPIC_QUESTION)  # the "not in the documents" state on the page too
    turn = ask(driver, LEAVE_QUESTION)
    turn.find_element(By.CSS_SELECTOR, ".feedback .link-button").click()  # the correction form
    driver.find_element(By.CSS_SELECTOR, "#upload-panel > summary").click()
    for where in ("chat", "admin"):
        if where == "admin":
            driver = page("/admin")
            wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#requests tbody tr"),
                 message="the requests table")
            driver.find_element(By.CSS_SELECTOR, "#requests button.question-button").click()
            wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#trace .message"),
                 message="the trace")
        assert driver.execute_script(_UNNAMED_CONTROLS) == [], f"unlabelled controls ({where})"
        assert _unnamed_in_accessibility_tree(driver) == [], f"unnamed controls ({where})"
        assert driver.execute_script(_LOW_CONTRAST) == [], f"text under WCAG AA contrast ({where})"
        assert len(driver.find_elements(By.TAG_NAME, "h1")) == 1, where
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en", where


# -- French ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def french_browser() -> Iterator[WebDriver]:
    """A second chromium whose preferred language is French (its own profile: what it
    remembers does not leak into the English browser)."""
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--lang=fr-FR", "--force-color-profile=srgb"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": "fr-FR,fr"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_french_browser_gets_french_and_the_switch_is_remembered(french_browser, server,
                                                                 workspace):
    driver = french_browser

    def open_page(path: str) -> WebDriver:
        driver.get(server + path)
        wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")
        wait(driver, lambda d: d.find_element(By.TAG_NAME, "h1").text.strip(), message="strings")
        return driver

    open_page("/")
    assert driver.execute_script("return navigator.language").startswith("fr")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    assert driver.find_element(By.TAG_NAME, "h1").text == "Interrogez vos documents"
    assert by_id(driver, "ask-button").text == "Demander"
    switch = by_id(driver, "lang-switch")
    assert switch.get_attribute("value") == "fr" and switch.accessible_name == "Langue"

    # nothing in the handbook: abstains, in the question's language (long enough to tell)
    turn = ask(driver, "Qui a peint le tableau Guernica exposé au musée Reina Sofía ?")
    state = turn.find_element(By.CSS_SELECTOR, ".not-in-docs")
    assert "Cette information ne figure pas dans les documents" in state.text
    assert "Vos documents ne semblent pas traiter cette question" in state.text  # why
    # the question was translated for the English handbook by the model: no answer is shown,
    # and the notice (in French) names the model that ran
    notice = turn.find_element(By.CSS_SELECTOR, ".ai-notice").text
    assert notice.startswith("Aucune réponse générée par IA n'est affichée") and "fake" in notice
    turn = ask(driver, LEAVE_QUESTION, collection="hr")
    assert "27 working days" in turn.text  # an English question gets an English answer...
    # ...whose disclosure is in the answer's language, like the answer, in a French page
    notice = turn.find_element(By.CSS_SELECTOR, ".ai-notice").text
    assert notice == "AI-generated by fake-extractive from your documents; retrieval by hashing-64."
    assert turn.find_elements(By.CSS_SELECTOR, ".sources .source-link")  # citations unchanged
    assert "Source 1 :" in turn.find_element(By.CSS_SELECTOR, ".answer-text button.cite"
                                             ).get_attribute("aria-label")
    screenshot(driver, "chat-fr.png")

    # the admin page: French strings, numbers and dates written the French way
    open_page("/admin")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Qualité et activité"
    summary = wait(driver, lambda d: by_id(d, "quality-summary").text, message="the summary")
    assert summary.startswith("Appui moyen ") and re.search(r"\d,\d\d", summary), summary
    assert re.search(r"\d\s?%", summary), summary
    first_time = wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#requests tbody td").text,
                      message="the requests table")
    assert re.search(r"\d{1,2} \w+\.? \d{4}", first_time), first_time  # "28 nov. 2026 05:40"
    wait(driver, lambda d: "Taux d'abstention" in by_id(d, "drift").text,
         message="the drift metrics, named in French")
    screenshot(driver, "admin-fr.png")

    # the switch: English now, remembered across reloads; then back to French
    Select(by_id(driver, "lang-switch")).select_by_value("en")
    wait(driver, lambda d: d.find_element(By.TAG_NAME, "h1").text == "Quality and activity",
         message="the page to reload in English")
    open_page("/")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Ask your documents"
    assert by_id(driver, "lang-switch").get_attribute("value") == "en"
    Select(by_id(driver, "lang-switch")).select_by_value("fr")
    wait(driver, lambda d: d.find_element(By.TAG_NAME, "h1").text == "Interrogez vos documents",
         message="the page to reload in French")
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"
              and not _expected_console_error(e["message"])]
    assert not errors, f"JavaScript errors in the browser console: {errors}"
