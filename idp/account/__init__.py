"""Mon compte: the customer's own page at the idp."""
