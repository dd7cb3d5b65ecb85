"""The results landing page: one verdict per question the library asks."""

from __future__ import annotations

from collections.abc import Callable

TABLES: dict[str, Callable[[], str]] = {}
FIGURES: tuple[Callable[[], None], ...] = ()
