"""The Celery application for `celery -A workers worker` and `celery -A workers beat`.

It is built from the Flask app so tasks share its configuration, database and mail set-up.
"""

from campaign import create_app

flask_app = create_app()
app = flask_app.extensions["celery"]
