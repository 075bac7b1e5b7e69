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
COPY wsgi.py ./

ENV INSTANCE_PATH=/var/lib/campaign
USER campaign
EXPOSE 8000

# The site, logging no client addresses: docker-compose.yml's web service says why.
CMD ["gunicorn", "--bind=0.0.0.0:8000", "--log-level=error", "--access-logfile=-", \
     "--access-logformat=%(t)s \"%(m)s %(U)s\" %(s)s %(B)s %(M)sms", "wsgi:app"]
