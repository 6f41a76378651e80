"""postdesk ingest service."""
