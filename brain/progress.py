"""The progress bar of Brain's management commands."""

from tqdm import tqdm


class ProgressBar(tqdm):
    """tqdm without its monitor thread, which a disabled bar (`--verbosity 0`) starts and never
    stops: `seed_events --jobs` forks its loaders, and a forked process must hold no threads."""

    monitor_interval = 0
