"""One package per week; each reads like a table of contents (math, use, pipeline, entry)."""
