"""The service layer: one function per operation a user performs (STYLE.md point 9).

Each function owns its transaction, ownership check and audit entry; the JSON routes
(:mod:`service.api.routers`), the web pages (:mod:`service.web`) and the CLI only translate
in and out. Failures are the named errors of :mod:`service.operations.errors`, mapped to
HTTP once (problem+json for the API, an error page or a re-rendered form for the pages).
"""
