"""The menu: draft rows admins edit, immutable published snapshots customers and orders read.

models (input rules) · rows (shared row helpers) · categories, items, modifiers (draft CRUD) ·
draft (whole draft) · importer (bulk replace) · publish (snapshots) · published (reading them) ·
availability (is an item orderable now) · eighty_six (live sold-out flags) · storefront (render).
"""
