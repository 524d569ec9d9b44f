"""The progress bar of Brain's management commands."""

from tqdm import tqdm


class ProgressBar(tqdm):
    """tqdm without its monitor thread, which a disabled bar (`--verbosity 0`) starts and never
    stops: `seed_events --jobs` forks its loaders, and a forked process must hold no threads.
    Shown only on a terminal: written to a log or a pipe (`make run`'s output, cron's mail), each
    redraw would be a line of its own."""

    monitor_interval = 0

    def __init__(self, *args, disable=False, **kwargs):
        # None: tqdm's own check, off unless `file` is a terminal.
        super().__init__(*args, disable=disable or None, **kwargs)
