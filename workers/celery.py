"""The Celery application for `celery -A workers worker` and `celery -A workers beat`.

It is built from the Flask app so tasks share its configuration, database and mail set-up;
the task modules it imports and its beat schedule come from the drains each domain
registers (campaign/outbox.py).
"""

import threading

from celery.signals import worker_ready

from campaign import create_app, outbox

flask_app = create_app()
app = flask_app.extensions["celery"]


def ask_for_sweeps() -> None:
    with flask_app.app_context():
        outbox.ask_for_sweeps()


# What the sweeps take over: rows whose run's message was lost and claims of a worker that
# died. A worker that starts (a restart after a crash, a deploy) asks for every registered
# sweep at once, so due rows go out now rather than at beat's next minute, and once more
# when the claims of a worker killed just before have expired. That second ask waits in a
# timer of this process, not as a countdown message: a worker holding an unacknowledged
# countdown message when Redis goes away dies restoring it (kombu 5.6, seen in the tests).
@worker_ready.connect
def sweep_on_start(**_: object) -> None:
    ask_for_sweeps()
    claims_expire = outbox.registry.longest_claim_expiry(flask_app.config)
    timer = threading.Timer(claims_expire + 1, ask_for_sweeps)
    timer.daemon = True
    timer.start()
