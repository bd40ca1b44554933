"""A short memory of what reference checks found.

A cluster create checks its flavors, network and keypair against the
cloud, and a burst of creates from one project asks the same questions
again and again: with several API threads each asking Nova for the same
flavor, the checks - not caas - set the POST latency. Found references are
remembered for ``[cloud] reference_cache_time`` seconds, per view of the
cloud: the service's (images, flavors, networks), and each user's in each
project (keypairs, which are per user: looked up with the user's token,
one user's answer is never another's, nor the same user's in another
project). A reference the cloud did not find is never remembered, so a new
image or keypair is usable at once; the check is never skipped, only
answered from memory; a reference deleted from the cloud meanwhile fails
later, at the stack, as it would have had it been deleted just after the
check. Requests that miss the same reference at once (every API thread of
a busy process, when a remembered answer expires) ask the cloud once: the
others wait for that look-up and take its answer or its error.

A user's keypair looked up as that user was also the cloud's word that it
still accepted the user's token. Remembering the keypair is safe all the
same: every request's token was validated by keystonemiddleware before any
look-up, and keystonemiddleware itself accepts a token it validated for as
long as it keeps it in its cache (``[keystone_authtoken]
token_cache_time``, 300 s by default), for every other request too; a
remembered keypair lets a create through with a token revoked at most
``reference_cache_time`` seconds after the same user's last look-up that
went to the cloud, well inside that window. Such a create then fails at
its trust, as any request does once Keystone refuses the token; the
refused look-up's 401 is still the answer once the memory expired
(``tests/unit/api/test_user_token.py``). Each create of a burst from one
user no longer asks Nova the same question over a new connection (about
15 % of the API's CPU per create).
"""

import threading
import time

import cachetools

_MAX_ENTRIES = 4096


class _Flight:
    """A look-up under way, which callers asking the same wait for."""

    def __init__(self):
        self.done = threading.Event()
        self.found = None
        self.error = None


class ReferenceCache:
    """:param ttl: a callable giving the seconds to remember a find (read
        on each use: a changed option empties the cache).
    :param timer: the clock the seconds are counted on."""

    def __init__(self, ttl, maxsize=_MAX_ENTRIES, timer=time.monotonic):
        self._ttl = ttl
        self._maxsize = maxsize
        self._timer = timer
        self._cache = None
        self._cache_ttl = 0
        self._lock = threading.Lock()
        self._flights = {}     # key -> _Flight of the look-up under way

    def _current(self):
        ttl = self._ttl()
        if ttl != self._cache_ttl:
            self._cache_ttl = ttl
            self._cache = cachetools.TTLCache(
                self._maxsize, ttl, timer=self._timer) if ttl > 0 else None
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

    def find(self, key, lookup, flight_key=None):
        """What was found for ``key``, else what ``lookup()`` finds (then
        remembered). Callers that miss ``key`` while another's look-up of
        it is under way wait for that one and take its answer or its error
        (not found, unavailable), instead of all asking the cloud at once
        when a remembered answer expires. Nothing is remembered or shared
        when the cache is off (``ttl`` 0). ``flight_key`` (default
        ``key``) names whom a look-up under way may be shared with: a
        look-up made with one token is never another token's answer or
        error (one may be revoked while the other is valid)."""
        if flight_key is None:
            flight_key = key
        with self._lock:
            cache = self._current()
            if cache is None:
                flight = None
            else:
                found = cache.get(key)
                if found is not None:
                    return found
                flight = self._flights.get(flight_key)
                leader = flight is None
                if leader:
                    flight = self._flights[flight_key] = _Flight()
        if flight is None:
            return lookup()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.found
        try:
            flight.found = lookup()
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[flight_key]
                cache = self._current()
                if cache is not None and flight.found is not None:
                    cache[key] = flight.found
            flight.done.set()
        return flight.found
