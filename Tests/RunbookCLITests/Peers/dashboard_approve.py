#!/usr/bin/python3
"""Approves a waiting run on the dashboard as an operator would, in headless Chromium driven by
Selenium: reads the question shown, types the token and a name, presses approve. Prints what the
page showed as one JSON object.

usage: dashboard_approve.py URL RUN_ID TOKEN PERSON PROFILE_DIR
"""
import json
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import dashboard_browser

url, run, token, person, profile = sys.argv[1:6]

driver = dashboard_browser.start(profile)
result = {}

try:
    driver.get(url)
    row = f'#approvals tr[data-approval="{run}"]'
    button = f'{row} button[data-approve="{run}"]'
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, button))
    result["shown"] = dashboard_browser.read(driver, row, "e.textContent")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "person").send_keys(person)
    dashboard_browser.click(driver, button)
    result["answer"] = WebDriverWait(driver, 15).until(lambda d: dashboard_browser.read(driver, "#approval-error", "e.textContent") or False)
    # Gone from the list once the run goes on.
    WebDriverWait(driver, 15).until(lambda d: not d.find_elements(By.CSS_SELECTOR, row))
    result["rows_after"] = len(driver.find_elements(By.CSS_SELECTOR, row))
except Exception as error:  # reported to the test, which says what the page showed
    result["failure"] = f"{type(error).__name__}: {error}"
    result["page"] = driver.page_source[:4000]
finally:
    driver.quit()
print(json.dumps(result))
