"""gunicorn configuration: where to listen and how many workers, from the environment."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
wsgi_app = "brain.wsgi:application"
# One JSON line per request comes from RequestLogMiddleware; gunicorn's own access log would double it.
accesslog = None
errorlog = "-"
graceful_timeout = 30
timeout = 60
