"""The `leadscore` commands that are not pipeline stages (registered in `leadscore.cli`)."""
