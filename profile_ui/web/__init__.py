"""The ASGI pieces around the Reflex app: middleware and plain HTTP endpoints.

They know starlette / ASGI and call services; services never import them.
"""
