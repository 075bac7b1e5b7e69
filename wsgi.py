"""The WSGI entry point: `gunicorn -c gunicorn.conf.py wsgi:app`, `flask --app wsgi ...`."""

import gc

from campaign import create_app

app = create_app()

# The app, its imports and its templates are some 120,000 objects that live as long as the
# process. A full garbage collection walked them all, 72-80 ms with the GIL held, stalling
# every thread of a gunicorn worker; frozen, they are left out of every collection, and
# under load (bench/submit.py) a full collection now takes 5-17 ms.
gc.freeze()
