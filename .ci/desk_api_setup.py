"""Prepares an authenticated schemathesis run against the desk API (loaded by .ci/run).

Usage: desk_api_setup.py DIR INTAKE_ADDR DESK_ADDR BISIK_BIN CONFIG

DIR is the working directory of a fresh `bisik serve` (it holds the admin's one-time password
file and the offline passphrase file). The script does what a new office does on day one,
through the same forms a person uses: the admin logs in with the one-time password and enrols
(new password, TOTP), adds a supervisor, who enrols; `bisik keys certify` certifies the
supervisor; two tips arrive through the intake API. It prints a bearer token for the
supervisor from POST /api/v1/session, which schemathesis then sends with every request.
Only the standard library: the TOTP code is RFC 6238 (SHA-1, 6 digits, 30 s).
"""

import base64
import glob
import hashlib
import hmac
import http.cookiejar
import json
import os
import re
import struct
import subprocess
import sys
import time
import urllib.parse
import urllib.request

DIR, INTAKE, DESK, BIN, CONFIG = sys.argv[1:6]
PASSWORD = "kata-sandi-ci-yang-panjang-{}-Zq9"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def session():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(jar), NoRedirect()
    )


def call(opener, method, path, form=None, body=None):
    data, headers = None, {}
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["content-type"] = "application/x-www-form-urlencoded"
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    req = urllib.request.Request(DESK + path, data=data, method=method, headers=headers)
    try:
        with opener.open(req) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def between(text, start, end):
    i = text.index(start) + len(start)
    return text[i : text.index(end, i)]


def totp(secret_text, step=None):
    key = base64.b32decode(secret_text.replace(" ", "").upper() + "=" * 0)
    step = int(time.time() // 30) if step is None else step
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    n = (struct.unpack(">I", mac[o : o + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{n:06d}"


def enrol(name, one_time):
    """Logs `name` in with its one-time password and enrols; returns (opener, TOTP secret)."""
    s = session()
    status, _ = call(s, "POST", "/login", form={"username": name, "password": one_time, "totp": ""})
    assert status == 303, f"login {name}: {status}"
    status, page = call(s, "GET", "/enrol")
    assert status == 200, f"enrol page {name}: {status}"
    secret = between(page, 'id="totp-secret">', "<")
    csrf = between(page, 'name="csrf" value="', '"')
    pw = PASSWORD.format(name)
    status, page = call(
        s, "POST", "/enrol",
        form={"csrf": csrf, "new_password": pw, "confirm": pw, "totp": totp(secret)},
    )
    assert status in (200, 303), f"enrol {name}: {status} {page[:400]}"
    return s, secret


def main():
    admin_file = sorted(glob.glob(os.path.join(DIR, "one-time-password-admin-*")))[-1]
    admin, _ = enrol("admin", open(admin_file).read().strip())
    status, home = call(admin, "GET", "/")
    csrf = between(home, 'name="csrf" value="', '"')
    status, page = call(admin, "POST", "/accounts", form={"csrf": csrf, "username": "koor", "role": "supervisor"})
    assert status == 200, f"add supervisor: {status}"
    _, secret = enrol("koor", between(page, 'id="one-time-password">', "<"))
    passphrase_file = glob.glob(os.path.join(DIR, "offline-passphrase-*"))[0]
    subprocess.run(
        [BIN, "--config", CONFIG, "keys", "certify", "--user", "koor"],
        input=open(passphrase_file).read(), text=True, check=True, cwd=DIR,
        stdout=subprocess.DEVNULL,
    )
    for text in ("CI: transaksi di pasar", "CI: gudang di tepi sungai"):
        req = urllib.request.Request(
            INTAKE + "/api/v1/reports", data=json.dumps({"description": text}).encode(),
            headers={"content-type": "application/json"}, method="POST",
        )
        with urllib.request.urlopen(req) as r:
            assert r.status == 201
    # A TOTP step not used at enrolment (each step works once).
    time.sleep(31 - time.time() % 30)
    status, body = call(
        session(), "POST", "/api/v1/session",
        body={"username": "koor", "password": PASSWORD.format("koor"), "totp": totp(secret)},
    )
    assert status == 201, f"API login: {status} {body}"
    print(json.loads(body)["token"])


main()
