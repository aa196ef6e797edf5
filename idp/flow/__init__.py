"""The sign-in state machine: authenticate, drain required actions, then go back."""
