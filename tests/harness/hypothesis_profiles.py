"""The suite's Hypothesis profiles: ``ci`` (the default, quick) and ``deep`` (``make test-deep``).

A property test's ``@settings(max_examples=N)`` says how much search its property deserves next to
the others (300 for a cheap parser property, 10 for a simulated week of runs). A profile does not
override those numbers, it scales them all by ``profile.max_examples / 100`` (100 being Hypothesis's
own default), so that one knob bounds the whole suite and keeps the proportions:

- ``ci``: 20, a fifth of each written count (at least one example);
- ``default`` (``--hypothesis-profile=default``): the counts as written;
- ``deep``: 300, three times each written count.

Every other setting a test gives (deadline, health checks) is left as it is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Final

import pytest
from hypothesis import settings

# Hypothesis's own default max_examples: a profile with this count runs each test as written.
WRITTEN_SCALE_EXAMPLES: Final = 100
DEFAULT_PROFILE: Final = "ci"


def register_profiles() -> None:
    """Register ``ci`` and ``deep`` and make ``ci`` the default (``--hypothesis-profile`` still
    wins: the Hypothesis plugin loads it after the conftest that calls this)."""
    # No deadline in either: tests share two cores with xdist workers and node/Azurite processes, so
    # one slow example says nothing about the code. Examples stay random (not derandomized) so that
    # each run searches somewhere new; print_blob tells how to replay a failure exactly.
    settings.register_profile("ci", max_examples=20, deadline=None, print_blob=True)
    settings.register_profile("deep", max_examples=300, deadline=None, print_blob=True)
    settings.load_profile(DEFAULT_PROFILE)


def scaled_examples(written: int, *, profile_examples: int) -> int:
    """The examples a test written for ``written`` runs under a profile of ``profile_examples``."""
    return max(1, math.ceil(written * profile_examples / WRITTEN_SCALE_EXAMPLES))


def scale_property_tests(items: Iterable[pytest.Item]) -> None:
    """Rescale each ``@settings(max_examples=...)`` of the collected tests by the loaded profile.

    A test without ``@settings`` already runs the profile's own count. Hypothesis reads the
    settings off the test function when it runs, so replacing them after collection is enough.
    """
    profile_examples = settings.default.max_examples
    for test in {_hypothesis_function(item) for item in items} - {None}:
        written: settings = test._hypothesis_internal_use_settings
        count = scaled_examples(written.max_examples, profile_examples=profile_examples)
        test._hypothesis_internal_use_settings = settings(written, max_examples=count)
        test._hypothesis_examples_scaled = True


def _hypothesis_function(item: pytest.Item) -> Any:
    """The ``@given`` function behind ``item`` that has its own ``@settings``, not yet rescaled."""
    function = getattr(getattr(item, "obj", None), "__func__", getattr(item, "obj", None))
    if not getattr(function, "is_hypothesis_test", False):
        return None
    if not getattr(function, "_hypothesis_internal_settings_applied", False):
        return None
    if getattr(function, "_hypothesis_examples_scaled", False):
        return None
    return function
