#!/usr/bin/python3
"""Acknowledges an incident on the dashboard as an operator would, in headless Chromium driven
by Selenium: first with a wrong token (the page must say why nothing happened), then with the
right one and a name. Prints what the page showed as one JSON object.

usage: dashboard_ack.py URL INCIDENT_ID TOKEN PERSON PROFILE_DIR
"""
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

url, incident, token, person, profile = sys.argv[1:6]

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--user-data-dir={profile}"):
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
result = {}


def click(selector):
    """The poll redraws the table each second: a button found just before may be gone."""
    for _ in range(20):
        try:
            driver.find_element(By.CSS_SELECTOR, selector).click()
            return
        except StaleElementReferenceException:
            continue
    raise RuntimeError(f"{selector} kept being redrawn")


def read(selector, what):
    """One property of the element now, read in the page in one go (no stale element)."""
    return driver.execute_script(f"const e = document.querySelector(arguments[0]); return e ? {what} : null;", selector)


try:
    driver.get(url)
    row = f'#incidents tr[data-incident="{incident}"]'
    button = f'{row} button[data-ack="{incident}"]'
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, button))
    result["shown_before"] = read(f"{row} .incident-status", "e.textContent")

    def error_text(d):
        text = read("#incident-error", "e.textContent")
        return text if text and not text.startswith("acknowledging") else False

    driver.find_element(By.ID, "token").send_keys("not-the-token")
    click(button)
    result["wrong_token_error"] = WebDriverWait(driver, 15).until(error_text)
    result["status_after_wrong_token"] = read(row, "e.dataset.status")

    driver.find_element(By.ID, "token").clear()
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "person").send_keys(person)
    click(button)
    WebDriverWait(driver, 15).until(lambda d: read(row, "e.dataset.status") == "acknowledged")
    result["shown_after"] = read(f"{row} .incident-status", "e.textContent")
    result["buttons_after"] = len(driver.find_elements(By.CSS_SELECTOR, button))
except Exception as error:  # reported to the test, which says what the page showed
    result["failure"] = f"{type(error).__name__}: {error}"
    result["page"] = driver.page_source[:4000]
finally:
    driver.quit()
print(json.dumps(result))
