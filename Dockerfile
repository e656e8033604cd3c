# Herald: one image for every process (web, worker, beat); compose.yaml shows how they fit together.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HERALD_VAR_DIR=/var/lib/herald \
    STATIC_ROOT=/app/static \
    LOG_FORMAT=json

WORKDIR /app
# The outbox folder exists in the image, owned by herald, so a volume mounted there starts out writable.
RUN useradd --system --uid 10001 --home-dir /app herald \
    && mkdir -p /var/lib/herald/outbox \
    && chown -R herald /var/lib/herald

# The dependencies first, so a change to the code alone reuses this layer.
COPY pyproject.toml ./
RUN mkdir -p config orgs recipients mailings campaigns \
    && pip install '.[production]' \
    && pip uninstall --yes herald
COPY . .
# Editable: the code runs from /app, where its templates and manage.py are.
RUN pip install --no-deps -e . \
    && python manage.py collectstatic --noinput --verbosity 0

USER herald
EXPOSE 8000
# The web process; compose.yaml runs the worker, the sweeper and beat from the same image with other commands
# (and gives the worker a health check of its own).
HEALTHCHECK --interval=30s --timeout=10s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health/', timeout=5)"
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]
