"""The Celery application for `celery -A workers worker` and `celery -A workers beat`.

It is built from the Flask app so tasks share its configuration, database and mail set-up.
"""

import logging
import threading

from celery.signals import worker_ready

from campaign import create_app
from campaign.extensions import enqueue

flask_app = create_app()
app = flask_app.extensions["celery"]

# What the sweeps take over: rows whose run's message was lost and claims of a worker that
# died. A worker that starts (a restart after a crash, a deploy) asks for both sweeps at
# once, so due rows go out now rather than at beat's next minute, and once more when the
# claims of a worker killed just before have expired. That second ask waits in a timer of
# this process, not as a countdown message: a worker holding an unacknowledged countdown
# message when Redis goes away dies restoring it (kombu 5.6, seen in the tests).
STARTUP_SWEEPS = ("supporters.sweep_thank_yous", "letters.sweep")


def ask_for_sweeps() -> None:
    with flask_app.app_context():
        try:
            for task_name in STARTUP_SWEEPS:
                enqueue(app.tasks[task_name])
        except Exception:  # the broker is away: beat's sweep will do it
            logging.getLogger(__name__).warning("could not ask for the start-up sweeps")


@worker_ready.connect
def sweep_on_start(**_: object) -> None:
    ask_for_sweeps()
    claims_expire = max(flask_app.config["THANK_YOU_CLAIM_EXPIRES_SECONDS"],
                        flask_app.config["LETTER_CLAIM_EXPIRES_SECONDS"])
    timer = threading.Timer(claims_expire + 1, ask_for_sweeps)
    timer.daemon = True
    timer.start()
