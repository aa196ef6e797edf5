"""Code both apps use: token verification, config loading, security headers, i18n."""
