"""Background work as plain functions over job rows (import_job.py), delivered by a task
queue and kept alive across crashes by runner.py."""
