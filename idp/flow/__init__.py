"""The sign-in flow (web): the sign-in page, the state machine over the server-side
sign-in state, the required-action pages of the première connexion, emailed links."""
