"""The mark of the native engine's tests: skipped with the reason when the extension is not
built, except where ``BYZLAB_REQUIRE_NATIVE=1`` says it must be (CI builds it, so a missing
extension there is a failure, not a skip)."""

from __future__ import annotations

import os

import pytest

from byzlab import native

REQUIRE = "BYZLAB_REQUIRE_NATIVE"

if native.extension() is None and os.environ.get(REQUIRE) == "1":
    raise RuntimeError(f"{REQUIRE}=1 but {native.missing_reason()}")

requires_native = pytest.mark.skipif(
    native.extension() is None, reason=native.missing_reason() or "native engine not built"
)
