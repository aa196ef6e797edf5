"""Mon compte: the customer's own account pages."""

from . import views

__all__ = ["views"]
