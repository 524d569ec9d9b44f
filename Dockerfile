# Brain: slim Python 3.13 image, dependencies built in a throwaway stage, non-root at run time.
FROM python:3.13-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -r /tmp/requirements.txt

FROM python:3.13-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=brain.settings.base \
    HOST=0.0.0.0 \
    PORT=8000
RUN useradd --system --create-home --uid 10001 brain
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=brain:brain . /app
# Static files for the admin and the API docs, served by whitenoise under gunicorn. The settings
# require the servers' URLs; collectstatic connects to neither.
RUN SECRET_KEY=collectstatic-only DATABASE_URL=postgres://localhost/unused \
    REDIS_URL=redis://localhost/0 python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/var && chown brain:brain /app/var
USER brain
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"
ENTRYPOINT ["gunicorn", "--config", "brain/gunicorn.conf.py"]
