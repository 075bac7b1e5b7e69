"""gunicorn's settings for the web app: `gunicorn -c gunicorn.conf.py wsgi:app`.

The README, the Dockerfile and docker-compose.yml all start gunicorn with this file, and
each setting can be changed from the environment (GUNICORN_*).

Threaded workers (gthread), not gunicorn's default sync workers: a sync worker serves one
connection at a time, so four clients that send headers and a few bytes of body and then
stall held all four workers for 30 s at a time (issue 10). A gthread worker serves
GUNICORN_THREADS requests at once, leaves connections that have sent nothing yet to its
main loop, and here a request whose body stops arriving for GUNICORN_READ_TIMEOUT seconds
is answered 408 and its thread freed. Slow headers still hold a thread until the client gives up:
in production a buffering proxy (deploy/nginx.conf, the compose file's nginx) takes every
request in full before gunicorn sees it.
"""

import os

from campaign.proxies import DEFAULT_TRUSTED_PROXIES, ProxySettingError, proxy_hops


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"{name}={value!r} must be a whole number above 0")
    return int(value)


# A proxy in front of the app changes which address rate limits see (campaign/proxies.py).
# That is a decision the operator makes: in production it must be written down.
if os.environ.get("CAMPAIGN_ENV") == "production" and not os.environ.get("PROXY_FIX_X_FOR"):
    raise SystemExit(
        "Set PROXY_FIX_X_FOR before starting the web server in production: 1 behind one "
        "reverse proxy (the compose file's nginx, or deploy/nginx.conf), 0 when clients "
        "connect to gunicorn directly. Without it, behind a proxy, every client shares the "
        "proxy's address and one client's failed sign-ins lock out every staff member.")
try:
    _hops = proxy_hops(os.environ.get("PROXY_FIX_X_FOR") or "0")
except ProxySettingError as exc:
    raise SystemExit(str(exc)) from None

wsgi_app = "wsgi:app"
bind = os.environ.get("GUNICORN_BIND") or "127.0.0.1:8000"
worker_class = "gthread"
# Processes for CPU (page rendering is CPU-bound), threads for waits on the database,
# Redis and the network. Threads stay at or below production's database pool (10 + 10
# overflow per process, campaign/config.py), so no thread waits for a connection.
workers = _int("GUNICORN_WORKERS", max(2, os.cpu_count() or 1))
threads = _int("GUNICORN_THREADS", 16)
# A worker whose main loop stops answering for this long is restarted.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Each read of a request's body (and each write of the answer) may wait this long.
request_read_timeout = _int("GUNICORN_READ_TIMEOUT", 10)

# gunicorn takes X-Forwarded-Proto (https) only from these, as the app takes
# X-Forwarded-For; with no proxy (PROXY_FIX_X_FOR=0) from nobody.
forwarded_allow_ips = (os.environ.get("TRUSTED_PROXIES") or DEFAULT_TRUSTED_PROXIES
                       if _hops else "")

# Supporters include defectors whose families a regime watches: the access log keeps no
# client address (no %(h)s, no X-Forwarded-For), no user agent, referrer or query string.
# Errors only, because gunicorn logs "Invalid request from ip=..." as a warning.
loglevel = "error"
accesslog = "-"
# Private links (/letters/<token>, /confirm/<token>, /give/<token>, /gifts/manage/<token>,
# /gifts/card/<token>) are logged without their tokens.
logger_class = "campaign.common.logging.GunicornLogger"
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'

# Docker's overlay file system can stall the heartbeat file gunicorn's workers touch.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"


class _TimedInput:
    """wsgi.input whose reads give up after the socket's timeout with a 408, an answer the
    app's error pages know, instead of a TimeoutError that would be a 500."""

    def __init__(self, stream):
        self._stream = stream

    def _call(self, method, *args):
        try:
            return method(*args)
        except TimeoutError:
            from werkzeug.exceptions import RequestTimeout

            raise RequestTimeout("Your request took too long to arrive.") from None

    def read(self, *args):
        return self._call(self._stream.read, *args)

    def readline(self, *args):
        return self._call(self._stream.readline, *args)

    def readlines(self, *args):
        return self._call(self._stream.readlines, *args)

    def __iter__(self):
        return self

    def __next__(self):
        return self._call(self._stream.__next__)


def _read_timeout(app):
    def serve(environ, start_response):
        # The app reads the body from the client's socket in this thread: a client that
        # stops sending must not hold the thread for longer than this.
        environ["gunicorn.socket"].settimeout(request_read_timeout)
        environ["wsgi.input"] = _TimedInput(environ["wsgi.input"])
        return app(environ, start_response)

    return serve


def post_worker_init(worker):
    worker.wsgi = _read_timeout(worker.wsgi)
