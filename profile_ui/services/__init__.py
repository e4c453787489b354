"""The product's behaviour: plain functions over a keyword-only session and an Actor.

Services never import reflex; each checks the actor's permission itself.
"""
