"""Celery tasks, one module per domain. The worker's app is in workers/celery.py, which
`celery -A workers worker|beat` finds by Celery's own convention."""
