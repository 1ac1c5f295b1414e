"""Process-level tuning shared by the API and the worker."""

import gc


def freeze_startup_objects() -> None:
    """Move everything loaded so far out of the garbage collector's sight.

    The modules, routes, models and workflow code that live as long as the process would
    otherwise be re-scanned by every full collection, which put a tail of ~100 ms on API
    requests under load (bench/API_RESULTS.md). Call once, when start-up is done (the
    API's lifespan: after its migrations and database engine).
    """
    gc.collect()
    gc.freeze()
