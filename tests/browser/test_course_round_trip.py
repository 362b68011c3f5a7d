"""The course's round trip as its people do it, in JupyterLab, in a real (headless) browser.

A student fetches C3W3 and C1W1 from the Assignment List, works on C3W3 where nbgrader put it,
runs it, gets one exercise wrong, sees Validate name that exercise, fixes it, sees Validate pass
and submits. The instructor collects in Formgrader, grades with the course's grading command
(``python -m grading autograde``, what ``make autograde`` runs), reads the scores in Formgrader and
releases feedback; the student fetches the feedback and reads the scores, with no hidden check
in it. Each test is one step and relies on the ones before it (pytest runs them in order).
"""

from __future__ import annotations

import re
import subprocess
import sys
from urllib.parse import quote

import nbformat
import pytest
from lab_steps import Notebook, listed, open_assignment_list, open_lab, row, shoot, show_assignment_list
from playwright.sync_api import expect

from grading.assignment import strip_solution_markers
from grading.c1w1 import ASSIGNMENT as C1W1
from grading.c3w3 import ASSIGNMENT as C3W3

pytestmark = pytest.mark.slow

#: The exercises of C3W3 a student answers here, by their nbgrader grade ids.
EXERCISES = ("grad_cam", "compute_gradcam", "permute_feature", "permutation_importance")

#: A student's wrong answer to Exercise 4: the importance with its sign flipped (permuted minus baseline).
WRONG_PERMUTATION_IMPORTANCE = '''\
def permutation_importance(X, y, model, metric, num_samples=100):
    importances = pd.DataFrame(index=["importance"], columns=X.columns, dtype=float)
    baseline = metric(y, model.predict_proba(X)[:, 1])
    for feature in importances.columns:
        permuted = [metric(y, model.predict_proba(permute_feature(X, feature))[:, 1]) for _ in range(num_samples)]
        importances.loc["importance", feature] = np.mean(permuted) - baseline
    return importances
'''

#: What nbgrader's hidden-test blocks and the grader's drivers look like: none may reach a student.
SECRETS = ("BEGIN HIDDEN TESTS", "def drive(", "build_frame", "grading.")


def _grade_ids(notebook):
    return {cell.metadata.get("nbgrader", {}).get("grade_id"): i for i, cell in enumerate(notebook.cells)}


@pytest.fixture(scope="module")
def release(servers):
    """C3W3 as the student fetched it (its cells' positions, by grade id) and the source's answers."""
    fetched = servers["student"].root / "C3W3" / C3W3.notebook_name
    notebook = nbformat.read(fetched, as_version=4)
    source = nbformat.read(C3W3.source_notebook, as_version=4)
    answers = {cell.metadata.get("nbgrader", {}).get("grade_id"): strip_solution_markers(cell.source)
               for cell in source.cells}
    return {"cells": len(notebook.cells), "index": _grade_ids(notebook), "answers": answers}


@pytest.fixture(scope="module")
def student(browser, servers):
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    open_lab(page, servers["student"])
    open_assignment_list(page)
    return page


@pytest.fixture(scope="module")
def instructor(browser, servers):
    """Formgrader, as the instructor's browser sees it (the token rides on every request, XHRs included)."""
    server = servers["instructor"]
    context = browser.new_context(viewport={"width": 1400, "height": 900}, extra_http_headers=server.headers)
    return context.new_page()


@pytest.fixture(scope="module")
def state():
    """What one step leaves for the next (the open notebook)."""
    return {}


def test_student_fetches_both_assignments_into_their_own_folders(student, servers, screenshots):
    expect(listed(student, "released")).to_have_count(2, timeout=30_000)
    for name in ("C3W3", "C1W1"):
        row(student, "released", name).locator(".item_status button").click()
        expect(row(student, "fetched", name)).to_have_count(1, timeout=30_000)
    expect(listed(student, "fetched")).to_contain_text(["C1W1", "C3W3"])
    shoot(student, screenshots, "01-student-fetched")
    home = servers["student"].root
    assert (home / "C3W3" / "C3W3_Assignment.ipynb").is_file()
    assert (home / "C1W1" / "C1W1_Assignment.ipynb").is_file()
    assert sorted(p.name for p in (home / "C3W3").iterdir()) == ["C3W3_Assignment.ipynb", "public_tests.py"]


def test_student_runs_c3w3_where_nbgrader_put_it(student, release, state, screenshots):
    fetched = row(student, "fetched", "C3W3")
    fetched.locator("a.assignment-notebooks-link").click()
    fetched.locator('a:text-is("C3W3_Assignment")').click()
    notebook = Notebook(student, "C3W3/C3W3_Assignment.ipynb", release["cells"])
    state["notebook"] = notebook
    index = release["index"]
    for gid in EXERCISES:
        answer = WRONG_PERMUTATION_IMPORTANCE if gid == "permutation_importance" else release["answers"][gid]
        notebook.set_source(index[gid], answer)
    notebook.run_all()
    # Run All stops at the first error: the wrong answer's visible test
    expect(notebook.output(index["test_permutation_importance"])).to_contain_text(
        "has the wrong sign", timeout=420_000)
    notebook.wait_idle()
    for test in ("test_grad_cam", "test_compute_gradcam", "test_permute_feature"):
        expect(notebook.output(index[test])).to_contain_text("All tests passed.")
    # the visible test prints its measured error next to its tolerance, and the figures are drawn
    expect(notebook.output(index["test_grad_cam"])).to_contain_text("error from reference")
    expect(notebook.output(index["test_compute_gradcam"]).locator("img")).not_to_have_count(0)
    # nothing else went to stderr (warnings, TensorFlow's logging): the wrong answer's error is the only one
    stderr = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    texts = notebook.panel.locator(stderr).all_text_contents()  # off-screen cells render no inner text
    assert len(texts) == 1 and "has the wrong sign" in texts[0], texts
    expect(notebook.output(index["test_permutation_importance"]).locator(stderr)).to_have_count(1)
    notebook.cell(index["test_permutation_importance"]).scroll_into_view_if_needed()
    shoot(student, screenshots, "02-student-ran-c3w3")


def _save_and_validate(notebook, screenshots, shot):
    """Save, press Validate, screenshot the results; return ("success" or "failure", the dialog's text)."""
    notebook.save()
    dialog = notebook.validate()
    text = dialog.inner_text()
    shoot(notebook.page, screenshots, shot)
    kind = "success" if "nbgrader-SuccessDialog" in dialog.get_attribute("class") else "failure"
    Notebook.close(dialog)
    return kind, text


def test_validate_names_the_wrong_exercise_only(state, screenshots):
    kind, text = _save_and_validate(state["notebook"], screenshots, "03-validate-names-the-wrong-exercise")
    assert kind == "failure", text[:2000]
    assert "permutation_importance_test(permutation_importance" in text
    assert "has the wrong sign" in text
    for right in ("grad_cam_test(", "compute_gradcam_test(", "permute_feature_test("):
        assert right not in text, f"Validate reported a correct exercise as failing: {right}"


def test_validate_passes_once_the_answer_is_right(release, state, screenshots):
    notebook, index = state["notebook"], release["index"]
    notebook.set_source(index["permutation_importance"], release["answers"]["permutation_importance"])
    notebook.run_cells(index["permutation_importance"], index["test_permutation_importance"])
    expect(notebook.output(index["test_permutation_importance"])).to_contain_text("All tests passed.", timeout=420_000)
    notebook.wait_idle()
    kind, text = _save_and_validate(notebook, screenshots, "04-validate-success")
    assert kind == "success", text[:2000]
    assert "Success! Your notebook passes all the tests." in text


def test_student_submits(student, course, screenshots):
    show_assignment_list(student)
    row(student, "fetched", "C3W3").locator('.item_status button:text-is("Submit")').click()
    submitted = row(student, "submitted", "C3W3")
    expect(submitted).to_have_count(1, timeout=30_000)
    expect(submitted).to_contain_text("UTC")  # the submission's time stamp
    shoot(student, screenshots, "05-student-submitted")
    inbound = list((course / "exchange" / "medxai-course" / "inbound").iterdir())
    assert len(inbound) == 1 and (inbound[0] / "C3W3_Assignment.ipynb").is_file()


def _manage_assignments(instructor, server, column, says, shot, screenshots):
    """On Formgrader's Manage Assignments page, click C3W3's link in ``column``; wait for ``says``."""
    instructor.goto(f"{server.url}/formgrader/manage_assignments")
    name = instructor.locator("td.name", has_text=re.compile(r"^\s*C3W3\s*$"))
    instructor.locator("tr", has=name).locator(f"td.{column} a").click()
    modal = instructor.locator(".modal:visible")
    expect(modal).to_contain_text(says, timeout=60_000)
    shoot(instructor, screenshots, shot)
    modal.locator("button:text-is('OK')").click()


def test_instructor_collects_in_formgrader(instructor, servers, course, screenshots):
    _manage_assignments(instructor, servers["instructor"], "collect", "Successfully collected submissions of 'C3W3'",
                        "06-instructor-collected", screenshots)
    collected = list((course / "submitted").glob("*/C3W3/C3W3_Assignment.ipynb"))
    assert len(collected) == 1, collected
    assert (collected[0].parent / "timestamp.txt").is_file()


def test_instructor_grades_with_the_course_command(course):
    done = subprocess.run(
        [sys.executable, "-m", "grading", "autograde", "C3W3", "--root", str(course), "--jobs", "1", "--no-progress"],
        capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert ": 40/40 (finished" in done.stdout, done.stdout[-3000:]
    assert "isolation: ON" in done.stdout


def test_formgrader_shows_the_scores(instructor, servers, screenshots):
    url = servers["instructor"].url
    instructor.goto(f"{url}/formgrader/manage_submissions/C3W3")
    score = instructor.locator("td.score").first
    expect(score).to_have_text("40 / 40", timeout=60_000)
    expect(instructor.locator("td.status").first).to_have_text("graded")
    shoot(instructor, screenshots, "07-formgrader-scores")
    student_id = instructor.locator("td.student-id").first.inner_text().strip()
    instructor.goto(f"{url}/formgrader/manage_students/{student_id}/C3W3")
    expect(instructor.locator("table")).to_contain_text("C3W3_Assignment", timeout=60_000)
    expect(instructor.locator("table")).to_contain_text("40 / 40")


def test_instructor_releases_feedback(instructor, servers, course, screenshots):
    _manage_assignments(instructor, servers["instructor"], "release-feedback", "Successfully released feedback",
                        "08-instructor-released-feedback", screenshots)
    assert list((course / "exchange" / "medxai-course" / "feedback").glob("*.html"))


def test_student_fetches_feedback_with_scores_and_no_hidden_checks(student, browser, servers, screenshots):
    show_assignment_list(student)
    submitted = row(student, "submitted", "C3W3")
    submitted.locator('button:text-is("Fetch Feedback")').click()
    link = submitted.locator('a:has-text("view feedback")')
    expect(link).to_have_count(1, timeout=60_000)
    link.click()  # the file browser opens the feedback's folder
    expect(student.locator(".jp-DirListing-content")).to_contain_text("C3W3_Assignment.html", timeout=30_000)
    shoot(student, screenshots, "09-student-fetched-feedback")
    home = servers["student"].root
    pages = sorted((home / "C3W3" / "feedback").glob("*/C3W3_Assignment.html"))
    assert len(pages) == 1, pages
    html = pages[0].read_text()
    for secret in SECRETS:
        assert secret not in html
    # the page as the student's browser shows it (File > Open in New Browser Tab)
    viewer = browser.new_context(viewport={"width": 1400, "height": 900},
                                 extra_http_headers=servers["student"].headers).new_page()
    viewer.goto(f"{servers['student'].url}/files/{quote(pages[0].relative_to(home).as_posix())}")
    expect(viewer.locator("body")).to_contain_text("C3W3_Assignment (Score: 40.0 / 40.0)", timeout=30_000)
    expect(viewer.locator("body")).to_contain_text("Test your function")
    for secret in SECRETS:
        expect(viewer.locator("body")).not_to_contain_text(secret)
    shoot(viewer, screenshots, "10-student-reads-feedback")


def test_c1w1_runs_from_its_fetched_folder(student, servers, screenshots):
    """C1W1 opens where it was fetched and its first cell finds the course library."""
    show_assignment_list(student)
    fetched = row(student, "fetched", "C1W1")
    fetched.locator("a.assignment-notebooks-link").click()
    fetched.locator('a:text-is("C1W1_Assignment")').click()
    cells = len(nbformat.read(servers["student"].root / "C1W1" / C1W1.notebook_name, as_version=4).cells)
    notebook = Notebook(student, "C1W1/C1W1_Assignment.ipynb", cells)
    first_code = next(i for i in range(cells) if "jp-CodeCell" in (notebook.cell(i).get_attribute("class") or ""))
    notebook.select(first_code)
    student.keyboard.press("Shift+Enter")
    expect(notebook.cell(first_code).locator(".jp-InputPrompt")).to_have_text("[1]:", timeout=120_000)
    notebook.wait_idle()
    expect(notebook.output(first_code).locator("[data-mime-type='application/vnd.jupyter.stderr']")).to_have_count(0)
    expect(notebook.output(first_code)).not_to_contain_text("Error")
    shoot(student, screenshots, "11-student-c1w1-imports")
