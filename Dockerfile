FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --create-home --home-dir /home/campaign --shell /usr/sbin/nologin campaign \
 && install -d -o campaign -g campaign /var/lib/campaign

WORKDIR /app

COPY pyproject.toml ./
COPY campaign/ campaign/
COPY workers/ workers/
# Editable, so `campaign` is imported from /app: config.PROJECT_ROOT is the package's
# parent, and templates/ and migrations/ live there, not in a wheel in site-packages.
RUN pip install --editable .

COPY migrations/ migrations/
COPY templates/ templates/
COPY wsgi.py gunicorn.conf.py ./

ENV INSTANCE_PATH=/var/lib/campaign \
    GUNICORN_BIND=0.0.0.0:8000
USER campaign
EXPOSE 8000

# gunicorn.conf.py: threaded workers that slow clients cannot all hold, an access log
# without client addresses. In production put a buffering proxy in front (docker-compose.yml
# runs deploy/nginx.conf) and set PROXY_FIX_X_FOR (see README, "Running it for real").
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
