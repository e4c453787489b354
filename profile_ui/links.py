"""Paths and URL builders of the pages, for links in notifications and e-mails.

A leaf: it imports nothing of the app, so services and jobs may use it (routes.py, which
knows permissions and navigation, sits above them).
"""
