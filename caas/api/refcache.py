"""A short memory of what reference checks found.

A cluster create checks its flavors, network and keypair against the
cloud, and a burst of creates from one project asks the same questions
again and again: with several API threads each asking Nova for the same
flavor, the checks - not caas - set the POST latency. Found references are
remembered for ``[cloud] reference_cache_time`` seconds, per view of the
cloud. Only the service's view is cached: a keypair is looked up as the
requesting user on every create, which also asks the cloud whether it still
accepts the user's token. A reference the cloud
did not find is never remembered, so a new image or keypair is usable at
once; the check is never skipped, only answered from memory; a reference
deleted from the cloud meanwhile fails later, at the stack, as it would
have had it been deleted just after the check.
"""

import threading

import cachetools

_MAX_ENTRIES = 4096


class ReferenceCache:
    """:param ttl: a callable giving the seconds to remember a find (read
        on each use: a changed option empties the cache)."""

    def __init__(self, ttl, maxsize=_MAX_ENTRIES):
        self._ttl = ttl
        self._maxsize = maxsize
        self._cache = None
        self._cache_ttl = 0
        self._lock = threading.Lock()

    def _current(self):
        ttl = self._ttl()
        if ttl != self._cache_ttl:
            self._cache_ttl = ttl
            self._cache = cachetools.TTLCache(self._maxsize, ttl) \
                if ttl > 0 else None
        return self._cache

    def get(self, key):
        """What was found for ``key`` (a tuple), or None."""
        with self._lock:
            cache = self._current()
            return None if cache is None else cache.get(key)

    def put(self, key, found):
        if found is None:
            return
        with self._lock:
            cache = self._current()
            if cache is not None:
                cache[key] = found
