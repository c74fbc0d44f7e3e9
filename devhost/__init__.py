"""devhost: runs function_app.py locally without Core Tools (design §8)."""
