"""Thin Azure Functions, one blueprint per module: parse → authorise → call shared → respond."""
