"""Test helpers shared by several test packages (software and virtual authenticators)."""
