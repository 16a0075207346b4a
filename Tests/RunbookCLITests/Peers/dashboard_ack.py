#!/usr/bin/python3
"""Acknowledges an incident on the dashboard as an operator would, in headless Chromium driven
by Selenium: first with a wrong token (the page must say why nothing happened), then with the
right one and a name. Prints what the page showed as one JSON object.

usage: dashboard_ack.py URL INCIDENT_ID TOKEN PERSON PROFILE_DIR
"""
import json
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import dashboard_browser

url, incident, token, person, profile = sys.argv[1:6]

driver = dashboard_browser.start(profile)
result = {}

try:
    driver.get(url)
    row = f'#incidents tr[data-incident="{incident}"]'
    button = f'{row} button[data-ack="{incident}"]'
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, button))
    result["shown_before"] = dashboard_browser.read(driver, f"{row} .incident-status", "e.textContent")

    def error_text(d):
        text = dashboard_browser.read(driver, "#incident-error", "e.textContent")
        return text if text and not text.startswith("acknowledging") else False

    driver.find_element(By.ID, "token").send_keys("not-the-token")
    dashboard_browser.click(driver, button)
    result["wrong_token_error"] = WebDriverWait(driver, 15).until(error_text)
    result["status_after_wrong_token"] = dashboard_browser.read(driver, row, "e.dataset.status")

    driver.find_element(By.ID, "token").clear()
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "person").send_keys(person)
    dashboard_browser.click(driver, button)
    WebDriverWait(driver, 15).until(lambda d: dashboard_browser.read(driver, row, "e.dataset.status") == "acknowledged")
    result["shown_after"] = dashboard_browser.read(driver, f"{row} .incident-status", "e.textContent")
    result["buttons_after"] = len(driver.find_elements(By.CSS_SELECTOR, button))
except Exception as error:  # reported to the test, which says what the page showed
    result["failure"] = f"{type(error).__name__}: {error}"
    result["page"] = driver.page_source[:4000]
finally:
    driver.quit()
print(json.dumps(result))
