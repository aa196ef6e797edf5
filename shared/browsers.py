"""Browser support: Internet Explorer cannot run either app's pages correctly."""

from __future__ import annotations

import re

IE_PATTERN = re.compile(r"MSIE |Trident/")


def is_internet_explorer(user_agent: str | None) -> bool:
    """True for Internet Explorer (all versions up to 11), which both apps turn away."""
    return bool(user_agent) and IE_PATTERN.search(user_agent) is not None
