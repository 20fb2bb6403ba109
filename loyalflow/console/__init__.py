"""The web console at `/console`: server-rendered pages (Jinja2, htmx) for support staff and
marketers, with accounts, roles, sessions, CSRF tokens and an audit log. Mounted by the API."""
