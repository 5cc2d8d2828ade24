"""Students' rights over their data (docs/privacy.md): export, erase, the web chat's clear button,
retention, and the append-only audit of each. The CLI (`helpdesk student|retention`), the admin
pages (desk/routes/privacy_admin.py) and the web chat (desk/routes/webchat.py) call `students` and
`retention`; both touch every table that names a student, Rasa's tracker store included."""
