"""Model adapters, one module per group of families (clip, codegen, speech, vlm).

Nothing is imported here: mmx/registry.py lists the families as lazy "module:Class" entries and
imports an adapter module on first use, so `mmx --help` and `mmx models` never load torch.
"""
