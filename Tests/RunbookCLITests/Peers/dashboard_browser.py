"""Headless Chromium driven by Selenium, as the dashboard peers use it."""
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By


def start(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--user-data-dir={profile}"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def click(driver, selector):
    """The poll redraws the tables each second: a button found just before may be gone."""
    for _ in range(20):
        try:
            driver.find_element(By.CSS_SELECTOR, selector).click()
            return
        except StaleElementReferenceException:
            continue
    raise RuntimeError(f"{selector} kept being redrawn")


def read(driver, selector, what):
    """One property of the element now, read in the page in one go (no stale element)."""
    return driver.execute_script(f"const e = document.querySelector(arguments[0]); return e ? {what} : null;", selector)
