"""The social sign-in broker (web): provider buttons, callbacks, linking pages. The
provider adapters themselves live in :mod:`idp.core.providers`."""
