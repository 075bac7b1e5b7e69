"""One scenario of bench/instructions.py: requests handed to a WSGI app in this process.

    python bench/_inprocess.py SCENARIO COUNT

Run by bench/instructions.py under callgrind, with the app's settings in the environment.
It builds every request first, sends a warm-up of them (caches filled, statements
prepared, pools open), then hands COUNT requests to the app through
`itertools.starmap`: callgrind counts only what runs inside its C function
(`--toggle-collect=starmap_next`), which nothing else here calls, so neither start-up
nor set-up is counted.
Every answer's status is checked; a wrong one fails the run.
"""

from __future__ import annotations

import gc
import itertools
import secrets
import sys
from collections import deque
from collections.abc import Callable

from _common import CSRF_PATTERN, ROOT, SIGN_PATH, sign_form
from werkzeug.test import EnvironBuilder

WARMUP = 50


def call(app: Callable, environ: dict) -> tuple[str, list[tuple[str, str]], bytes]:
    answer: list = []

    def start_response(status, headers, exc_info=None):
        answer.extend((status, headers))

    body = b"".join(app(environ, start_response))
    return answer[0], answer[1], body


def get(path: str) -> dict:
    return EnvironBuilder(path=path, headers={"Host": "127.0.0.1"}).get_environ()


def sign_environs(app: Callable, count: int) -> list[dict]:
    """Sign POSTs with a unique email each, as a browser sends the page's form."""
    _, headers, body = call(app, get(SIGN_PATH))
    cookie = next(value for name, value in headers if name == "Set-Cookie").split(";")[0]
    token = CSRF_PATTERN.search(body.decode()).group(1)
    run = secrets.token_hex(4)
    environs = []
    for number in range(count):
        form = sign_form(token, f"instructions-{run}-{number}@example.org")
        environs.append(EnvironBuilder(
            path=SIGN_PATH, method="POST", data=form.encode(),
            content_type="application/x-www-form-urlencoded",
            headers={"Host": "127.0.0.1", "Cookie": cookie}).get_environ())
    return environs


def scenario(name: str, count: int) -> tuple[Callable, list[dict], str]:
    """The app, `count` requests (warm-up first) and the status each must get."""
    if name == "bare":
        from bare_app import app

        return app, [get("/") for _ in range(count)], "200"
    from wsgi import app

    if name == "sign":
        return app, sign_environs(app, count), "303"
    if name == "view":  # a first visit: answered by campaign/pages/fast_path.py
        return app, [get(SIGN_PATH) for _ in range(count)], "200"
    if name == "view-flask":  # a query string: through Flask and the view
        return app, [get(f"{SIGN_PATH}?source=bench") for _ in range(count)], "200"
    raise SystemExit(f"unknown scenario {name!r}")


def main() -> None:
    name, count = sys.argv[1], int(sys.argv[2])
    sys.path.insert(0, str(ROOT))
    app, environs, expected = scenario(name, WARMUP + count)

    def send(environ: dict) -> None:
        status, _, body = call(app, environ)
        if not status.startswith(expected):
            raise SystemExit(f"{name}: got {status}, expected {expected}: {body[:300]!r}")

    for environ in environs[:WARMUP]:  # a plain loop: not counted
        send(environ)
    gc.collect()
    gc.freeze()  # as wsgi.py does in production
    counted = [(environ,) for environ in environs[WARMUP:]]
    deque(itertools.starmap(send, counted), maxlen=0)  # the counted part


if __name__ == "__main__":
    main()
