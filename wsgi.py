"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

import gc

from campaign import create_app

app = create_app()

# The app, its imports and its templates are some 120,000 objects that live as long as the
# process. A full garbage collection walks them all, about 75 ms with the GIL held, which
# stalls every thread of a gunicorn worker: it made most of the signatures' slowest percent
# under load (bench/submit.py). Frozen, they are left out of every collection.
gc.freeze()
