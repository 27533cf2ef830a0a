"""Stages: one thin `main()` per DVC stage, doing the file I/O around the layers below."""
