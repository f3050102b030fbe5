"""Turn a StoreError raised inside a UI action into a notice instead of a crash.

Sending already handles it in place (the prompt stays in the input); every other
action that writes to the database goes through this decorator.
"""

from __future__ import annotations

import functools
import inspect

from ..store import StoreError


def reports_store_errors(method):
    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        try:
            result = method(self, *args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result
        except StoreError as error:
            self.app.notify(f"{error} Nothing was changed.", severity="error", timeout=15)

    return wrapper
