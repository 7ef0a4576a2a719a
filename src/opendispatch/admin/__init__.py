"""Running a community in the browser: its admins' pages, its members' own, and the audit log."""
