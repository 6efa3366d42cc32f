"""Task kinds, one module each. Nothing is imported here: mmx/registry.py lists them as lazy
entries, so reading task YAML (`mmx tasks`, `mmx validate`) does not load torch."""
