"""Page routes, one module per audience (and ``account``: sign-in, language)."""
