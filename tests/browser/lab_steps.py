"""What a person does in JupyterLab 4 and nbgrader's extensions, as Playwright steps.

Selectors are those of JupyterLab 4.6 and nbgrader 0.9's Assignment List, Validate button and
Formgrader. A notebook is found through its tab (whose title holds the file's path), so a tab that
JupyterLab restores or opens twice cannot be mistaken for it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import expect

from util.config.paths import REPO_ROOT

#: Where the browser suite leaves its screenshots (``build/`` is git-ignored).
SCREENSHOTS = REPO_ROOT / "build" / "browser-screenshots"

#: The screenshots taken in this run, in order (the run's summary lists them).
TAKEN = []

#: Long steps: a notebook of the course run top to bottom, or nbgrader's Validate (which runs it again).
RUN_TIMEOUT_MS = 420_000


def shoot(page, folder, name):
    """Save a screenshot of the window as ``<folder>/<name>.png`` and list it in the run's summary."""
    path = Path(folder) / f"{name}.png"
    page.screenshot(path=str(path))
    TAKEN.append(path)
    return path


def open_lab(page, server):
    """JupyterLab with a fresh workspace (``?reset``), once its launcher is up."""
    page.goto(f"{server.url}/lab?reset&token={server.token}")
    page.locator(".jp-Launcher").first.wait_for(timeout=90_000)


def menu(page, top, item):
    """Click ``top`` in the main menu bar, then the entry labelled ``item``."""
    page.locator(f'#jp-menu-panel .lm-MenuBar-itemLabel:text-is("{top}")').click()
    page.locator(f'.lm-Menu:visible li:has(.lm-Menu-itemLabel:text-is("{item}"))').click()


def open_assignment_list(page):
    """Nbgrader > Assignment List; returns once the released list has loaded."""
    menu(page, "Nbgrader", "Assignment List")
    expect(page.locator("#released_assignments_list_loading")).to_be_hidden(timeout=60_000)


def show_assignment_list(page):
    """Bring the Assignment List's tab to the front and reload its lists."""
    page.locator('li.lm-TabBar-tab:has(.lm-TabBar-tabLabel:text-is("Assignments"))').click()
    page.locator("#refresh_assignments_list").click()
    expect(page.locator("#released_assignments_list_loading")).to_be_hidden(timeout=60_000)


def listed(page, section):
    """The rows of one section of the Assignment List: ``released``, ``fetched`` or ``submitted``."""
    return page.locator(f"#{section}_assignments_list > .list_item")


def row(page, section, assignment):
    name = page.locator(".item_name", has_text=re.compile(rf"^\s*{re.escape(assignment)}\s*$"))
    return listed(page, section).filter(has=name)


class Notebook:
    """An open notebook's panel, found through the tab of the file at ``path``."""

    def __init__(self, page, path, n_cells):
        self.page, self.path = page, path
        tab = page.locator('li.lm-TabBar-tab[data-type="document-title"]', has_text=path.rsplit("/", 1)[-1])
        expect(tab).to_have_attribute("title", re.compile(rf"Path: {re.escape(path)}\b"), timeout=60_000)
        self.panel = page.locator(f'[id="{tab.get_attribute("data-id")}"]')
        self.cells = self.panel.locator(".jp-Notebook .jp-Cell")
        expect(self.cells).to_have_count(n_cells, timeout=60_000)

    def cell(self, index):
        return self.cells.nth(index)

    def output(self, index):
        return self.cell(index).locator(".jp-OutputArea")

    def set_source(self, index, text):
        """Replace a cell's code as a student types it: click into the editor, select all, type."""
        cell = self.cell(index)
        cell.scroll_into_view_if_needed()
        cell.locator(".cm-content").click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(text)
        self.page.keyboard.press("Escape")

    def select(self, index):
        """Make a cell the active one (command mode), by clicking its prompt area."""
        self.cell(index).scroll_into_view_if_needed()
        self.cell(index).locator(".jp-InputPrompt").click()

    def wait_idle(self, timeout_ms=RUN_TIMEOUT_MS):
        """Wait until no cell is queued or running (``[*]``) and the kernel reports idle."""
        deadline = time.monotonic() + timeout_ms / 1000
        prompts = self.panel.locator(".jp-InputPrompt")
        status = self.page.locator(".jp-Notebook-ExecutionIndicator")
        quiet_since = None
        while time.monotonic() < deadline:
            busy = any("*" in text for text in prompts.all_text_contents())
            if status.count():
                busy = busy or status.first.get_attribute("data-status") not in (None, "idle")
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 2:
                return
            self.page.wait_for_timeout(500)
        raise TimeoutError(f"{self.path}: cells still running after {timeout_ms / 1000:.0f} s")

    def run_all(self):
        menu(self.page, "Run", "Run All Cells")

    def run_cells(self, *indices):
        """Run these cells one after the other, as Shift+Enter on each does."""
        for index in indices:
            self.select(index)
            self.page.keyboard.press("Shift+Enter")

    def save(self):
        self.panel.locator('jp-button[data-command="docmanager:save"]').click()
        expect(self.page.locator('li.lm-TabBar-tab.jp-mod-dirty[data-type="document-title"]')).to_have_count(0)

    def validate(self):
        """Press nbgrader's Validate; return the results dialog once it appears."""
        self.panel.locator("jp-button.validate-button").click()
        dialog = self.page.locator(".nbgrader-ErrorDialog, .nbgrader-SuccessDialog")
        dialog.wait_for(timeout=RUN_TIMEOUT_MS)
        return dialog

    @staticmethod
    def close(dialog):
        dialog.locator("button.jp-Dialog-button").click()
        expect(dialog).to_have_count(0)
