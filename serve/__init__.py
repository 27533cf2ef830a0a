"""The scoring service: a small FastAPI app over the same compiled scorer the batch CLI uses."""
