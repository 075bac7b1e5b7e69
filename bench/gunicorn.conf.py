"""Gunicorn settings that bench/submit.py serves both the campaign app and the bare app with.

bench/submit.py passes the bind address and the worker set-up (`--worker-class`,
`--workers`, `--threads`) on the command line, where they override what is here.
"""

worker_class = "gthread"
workers = 2
threads = 4

# The load generator reuses keep-alive connections (gthread only; sync workers close every
# connection). Gunicorn's default of 2 s would close pooled connections in a lull and turn
# the next request on them into a reset.
keepalive = 10
backlog = 2048

# Worker heartbeats on tmpfs rather than on disk.
worker_tmp_dir = "/dev/shm"

accesslog = None
loglevel = "warning"
