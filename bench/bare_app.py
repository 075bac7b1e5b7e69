"""The baseline for bench/submit.py: a bare Flask app with one route, served by the same
gunicorn settings, so the ratios show what the campaign app adds on top of Flask."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def ok() -> str:
    return "ok"
