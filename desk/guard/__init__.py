"""Abuse limits and browser protections of the desk (docs/security.md): rate-limit counters (limits.py),
security headers, trusted proxies, allowed origins and the access log's query-string filter (http.py)."""
