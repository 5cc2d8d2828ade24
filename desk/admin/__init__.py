"""Knowledge-base administration: the FAQ editor's service, roles, audit, import/export, try-it.

Routes live in desk/routes/admin_*.py and stay thin; everything they do is here.
"""
