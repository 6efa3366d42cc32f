"""Dataset loaders, one module per modality. Nothing is imported here: mmx/registry.py lists the
loaders as lazy entries and imports a module when a task first names one of its loaders."""
