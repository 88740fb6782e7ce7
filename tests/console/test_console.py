"""The console in a real browser against a real longrun: sign-in and its cookie, runs watched
live, approvals, input, usage, keys, roles, 404s, expiry and a dropped event stream."""

import re

from playwright.sync_api import expect

from conftest import ADMIN_EMAIL, MEMBER_EMAIL, PASSWORD, sign_in, wait_until


def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_revokes_it(page, longrun, screenshot):
    page.goto(f"{longrun.base}/console/usage")
    # Not signed in: the sign-in page, which remembers where we were going.
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    # The page may show the form before it rewrites the address: wait for both.
    expect(page).to_have_url(re.compile(r"next=%2Fconsole%2Fusage"))
    screenshot(page, "signin")
    page.get_by_label("Email", exact=True).fill(ADMIN_EMAIL)
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong email or password")

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Usage", level=1)).to_be_visible()
    [cookie] = [c for c in page.context.cookies() if c["name"] == "longrun_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/", cookie
    # Scripts cannot read it.
    assert "longrun_session" not in page.evaluate("document.cookie")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("signed out")
    assert not [c for c in page.context.cookies() if c["name"] == "longrun_session"]
    # The token itself is revoked, not only forgotten by this browser.
    page.context.add_cookies([dict(cookie, expires=-1)])
    status = page.evaluate("fetch('/v1/runs').then(r => r.status)")
    assert status == 401


def test_a_run_submitted_through_the_api_completes_live(admin, longrun, screenshot):
    admin.goto(f"{longrun.base}/console/")
    expect(admin.get_by_role("heading", name="Runs", level=1)).to_be_visible()
    run_id = longrun.submit(longrun.admin_key, "demo", "What is 12 * (3 + 4)?")
    row = admin.locator(f'tr[data-run="{run_id}"]')
    # The list updates by itself: no reload.
    expect(row).to_be_visible()
    expect(row.locator(".badge")).to_have_text("succeeded")
    expect(row).to_contain_text("demo")
    screenshot(admin, "runs")

    row.get_by_role("link").click()
    expect(admin.get_by_role("heading", name=re.compile("^Run "))).to_be_visible()
    conversation = admin.get_by_role("list", name="Conversation")
    expect(conversation).to_contain_text("What is 12 * (3 + 4)?")
    expect(conversation).to_contain_text("12 * (3 + 4) = 84.")
    expect(admin.locator("[data-tool-call]")).to_contain_text("84")
    expect(admin.get_by_role("list", name="Event timeline")).to_contain_text("run.completed")
    expect(admin.get_by_role("link", name=f"run-{longrun_slug()}-{run_id}")).to_have_attribute(
        "href", re.compile("/workflows/run-")
    )
    expect(admin.get_by_test_id("run-cost")).not_to_have_text("$0.00")
    screenshot(admin, "run", full_page=True)

    # Filters: by status and by agent, from the API.
    admin.goto(f"{longrun.base}/console/")
    admin.get_by_label("Agent").select_option("gated")
    expect(admin.locator(f'tr[data-run="{run_id}"]')).to_have_count(0)
    admin.get_by_label("Agent").select_option("demo")
    admin.get_by_label("Status").select_option("succeeded")
    expect(admin.locator(f'tr[data-run="{run_id}"]')).to_be_visible()
    assert "agent=demo" in admin.url and "status=succeeded" in admin.url


def longrun_slug():
    return "console"


def test_approving_a_gated_tool_call_lets_the_run_continue(admin, longrun, screenshot):
    run_id = longrun.submit(longrun.admin_key, "gated", "What is 2 + 3?")
    admin.goto(f"{longrun.base}/console/runs/{run_id}")
    approve = admin.get_by_role("button", name="Approve")
    expect(approve).to_be_visible()
    expect(admin.locator(".page-head .badge")).to_have_text("waiting approval")
    admin.get_by_label("Reason").fill("Arithmetic is harmless.")
    screenshot(admin, "approval", full_page=True)
    approve.click()
    # The run continues: the tool runs, the model answers, the stream brings it all.
    expect(admin.locator(".page-head .badge")).to_have_text("succeeded")
    conversation = admin.get_by_role("list", name="Conversation")
    expect(conversation).to_contain_text("2 + 3 = 5.")
    expect(conversation).to_contain_text("Approved by human: Arithmetic is harmless.")
    timeline = admin.get_by_role("list", name="Event timeline")
    for kind in ("approval.requested", "approval.decided", "tool.completed", "run.completed"):
        expect(timeline).to_contain_text(kind)
    _, run = longrun.call("GET", f"/v1/runs/{run_id}", longrun.admin_key)
    assert run["status"] == "succeeded" and run["result"] == "2 + 3 = 5.", run


def test_a_waiting_run_takes_an_answer_from_the_page(admin, longrun):
    run_id = longrun.submit(longrun.admin_key, "asker", "Hello")
    admin.goto(f"{longrun.base}/console/runs/{run_id}")
    answer = admin.get_by_label("The run waits for your answer")
    expect(answer).to_be_visible()
    answer.fill("What is 7 * 6?")
    admin.get_by_role("button", name="Send").click()
    expect(admin.get_by_role("list", name="Conversation")).to_contain_text("7 * 6 = 42.")
    expect(admin.locator(".page-head .badge")).to_have_text("succeeded")


def test_the_usage_page_charts_todays_spend(admin, longrun, screenshot):
    # Something priced to show (the offline model is priced for these tests).
    run_id = longrun.submit(longrun.admin_key, "demo", "What is 1 + 1?")
    longrun.wait_for_status(longrun.admin_key, run_id, "succeeded")
    admin.goto(f"{longrun.base}/console/usage")
    expect(admin.locator("canvas[data-ready='true']")).to_be_visible()
    today_cost = admin.get_by_test_id("today-cost")
    expect(today_cost).to_have_text(re.compile(r"^\$\d"))
    assert float(today_cost.inner_text().lstrip("$")) > 0
    _, usage = longrun.call("GET", "/v1/usage?group_by=agent", longrun.admin_key)
    expect(admin.get_by_role("region", name="By agent")).to_contain_text("demo")
    assert any(row["agent"] == "demo" for row in usage["rows"]), usage
    expect(admin.get_by_role("meter")).to_have_count(3)
    expect(admin.locator(".gauge-mark span").first).to_have_text("80 %")
    screenshot(admin, "usage", full_page=True)


def test_an_admin_creates_and_revokes_a_key(admin, longrun, screenshot):
    admin.goto(f"{longrun.base}/console/keys")
    admin.get_by_label("Name", exact=True).fill("ci-robot")
    admin.get_by_label("Role").select_option("member")
    admin.get_by_role("button", name="Create key").click()
    secret = admin.get_by_label("Secret")
    expect(secret).to_have_value(re.compile(r"^lr_[0-9A-Za-z]{43}$"))
    key = secret.input_value()
    assert longrun.call("GET", "/v1/runs", key)[0] == 200
    row = admin.locator('tr[data-key="ci-robot"]')
    expect(row).to_contain_text("member")
    screenshot(admin, "keys")

    row.get_by_role("button", name="Revoke key ci-robot").click()
    row.get_by_role("button", name="Revoke ci-robot now").click()
    expect(admin.locator('tr[data-key="ci-robot"]')).to_have_count(0)
    assert longrun.call("GET", "/v1/runs", key)[0] == 401


def test_an_admin_creates_and_edits_an_agent(admin, longrun, screenshot):
    admin.goto(f"{longrun.base}/console/agents")
    admin.get_by_role("button", name="New agent").click()
    form = admin.get_by_role("form", name="New agent")
    form.get_by_label("Name", exact=True).fill("reviewer")
    form.get_by_label("System prompt").fill("Check the arithmetic.")
    form.get_by_label("Tools").fill("not json")
    form.get_by_role("button", name="Create agent").click()
    expect(form.get_by_text("Not JSON")).to_be_visible()
    form.get_by_label("Tools").fill('["calculator", {"name": "read_file", "requires_approval": true}]')
    form.get_by_label("Most model calls").fill("5")
    form.get_by_role("button", name="Create agent").click()
    expect(admin.get_by_role("status")).to_contain_text("Created agent reviewer")
    expect(admin.get_by_role("row", name=re.compile("reviewer"))).to_contain_text("read_file (approval)")
    admin.get_by_role("button", name="Edit agent reviewer").click()
    form = admin.get_by_role("form", name="Edit agent reviewer")
    expect(form.get_by_label("Most model calls")).to_have_value("5")
    form.get_by_label("System prompt").fill("Check the arithmetic twice.")
    form.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("status")).to_contain_text("Saved agent reviewer")
    _, agent = longrun.call("GET", "/v1/agents/reviewer", longrun.admin_key)
    assert agent["system_prompt"] == "Check the arithmetic twice." and agent["limits"] == {"max_steps": 5}, agent
    screenshot(admin, "agents")


def test_a_member_sees_what_the_role_allows_and_the_apis_403_otherwise(page, longrun, screenshot):
    sign_in(page, longrun.base, MEMBER_EMAIL)
    navigation = page.get_by_role("navigation", name="Sections")
    expect(navigation.get_by_role("link", name="Runs")).to_be_visible()
    expect(navigation.get_by_role("link", name="API keys")).to_have_count(0)
    page.goto(f"{longrun.base}/console/keys")
    expect(page.get_by_role("alert")).to_contain_text("the member role may not use GET /v1/api-keys")
    expect(page.get_by_role("button", name="Create key")).to_have_count(0)
    # Agents can be read; creating one is the admins': the API's 403, shown.
    page.goto(f"{longrun.base}/console/agents")
    page.get_by_role("button", name="New agent").click()
    page.get_by_label("Name", exact=True).fill("sneaky")
    page.get_by_role("button", name="Create agent").click()
    expect(page.get_by_role("alert")).to_contain_text("the member role may not use POST /v1/agents")
    screenshot(page, "member-forbidden")
    assert longrun.call("GET", "/v1/agents/sneaky", longrun.admin_key)[0] == 404


def test_another_workspaces_run_is_a_404_page(admin, longrun):
    run_id = longrun.submit(longrun.other_key, "demo", "Hello")
    admin.goto(f"{longrun.base}/console/runs/{run_id}")
    expect(admin.get_by_role("heading", name="Not found")).to_be_visible()
    expect(admin.get_by_text("There is no such run in this workspace")).to_be_visible()


def test_an_ended_session_returns_to_sign_in(admin, longrun):
    admin.goto(f"{longrun.base}/console/")
    expect(admin.get_by_role("heading", name="Runs", level=1)).to_be_visible()
    admin.context.clear_cookies()
    # The list's next poll answers 401: back to sign-in, saying why.
    expect(admin.get_by_role("button", name="Sign in")).to_be_visible()
    expect(admin.get_by_role("status")).to_contain_text("session has ended")


def test_a_dropped_event_stream_reconnects_and_catches_up(admin, longrun):
    run_id = longrun.submit(longrun.admin_key, "gated", "What is 9 * 9?")
    admin.goto(f"{longrun.base}/console/runs/{run_id}")
    expect(admin.get_by_role("button", name="Approve")).to_be_visible()
    expect(admin.get_by_text("Live: events appear as they happen.")).to_be_visible()
    # The API goes away (its streams end) and comes back; meanwhile the run moves on.
    longrun.stop_api()
    expect(admin.get_by_text(re.compile("reconnecting|paused"))).to_be_visible()
    longrun.start_api()
    status, decided = longrun.call(
        "POST", f"/v1/runs/{run_id}/approvals", longrun.admin_key, {"tool_call_id": "toolu_offline_1", "approve": True}
    )
    assert status == 200, decided
    longrun.wait_for_status(longrun.admin_key, run_id, "succeeded")
    # The page caught up on every event it missed, each once.
    timeline = admin.get_by_role("list", name="Event timeline")
    expect(timeline).to_contain_text("run.completed")
    expect(admin.get_by_role("list", name="Conversation")).to_contain_text("9 * 9 = 81.")
    sequence = [int(t.lstrip("#")) for t in timeline.locator(".seq").all_inner_texts()]
    assert sequence == list(range(1, len(sequence) + 1)), sequence


def test_phone_sized_screens_keep_the_runs_readable(browser, longrun, admin_session, screenshot):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, storage_state=admin_session
    )
    try:
        page = context.new_page()
        page.goto(f"{longrun.base}/console/")
        expect(page.get_by_role("heading", name="Runs", level=1)).to_be_visible()
        expect(page.locator("tr[data-run]").first).to_be_visible()
        # Nothing but the table scrolls sideways.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        screenshot(page, "runs-phone")
    finally:
        context.close()


def test_keyboard_alone_signs_in(page, longrun):
    page.goto(f"{longrun.base}/console/")
    expect(page.get_by_label("Email", exact=True)).to_be_focused()
    page.keyboard.type(ADMIN_EMAIL)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Runs", level=1)).to_be_focused()
    wait_until("a signed-in page", lambda: page.get_by_role("button", name="Sign out").is_visible())
