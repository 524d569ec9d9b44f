#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brain.settings.base")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        if settings.configured:  # raised by code, not by the settings: a bug, with its traceback
            raise
        # A setting the environment got wrong: the operator needs its message, not a traceback.
        sys.exit(f"Configuration error: {error}")


if __name__ == "__main__":
    main()
