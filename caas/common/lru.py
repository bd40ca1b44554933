"""A thread-safe least-recently-used memo, for answers an API process
remembers (the cluster and cluster template lists)."""

import collections
import threading


class LRU:
    """Values by key. When their sizes add up past ``max_size`` the least
    recently used go first; a value larger than ``max_size`` is kept
    nowhere. Counts the callers' hits and misses (:meth:`count`).

    :param size: a value's size (default: 1, i.e. a bound on entries).
    """

    def __init__(self, max_size, size=None):
        self.max_size = max_size
        self._size = size or (lambda _value: 1)
        self._entries = collections.OrderedDict()
        self._total = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key, value):
        size = self._size(value)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._total -= self._size(old)
            if size > self.max_size:
                return
            self._entries[key] = value
            self._total += size
            while self._total > self.max_size:
                _, dropped = self._entries.popitem(last=False)
                self._total -= self._size(dropped)

    def count(self, hit):
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def clear(self):
        with self._lock:
            self._entries.clear()
            self._total = 0

    def __len__(self):
        return len(self._entries)
