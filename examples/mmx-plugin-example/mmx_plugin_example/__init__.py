"""An mmx plugin: ``register(registry)`` is the ``mmx.plugins`` entry point.

It only adds lazy "module:object" entries, so listing (`mmx models`) imports nothing heavy; the
model and loader modules are imported when a run first names them.
"""
from pathlib import Path


def register(registry) -> None:
    registry.add_model_family(
        "bag-of-chars", "mmx_plugin_example.model:BagOfChars", capability_name="image-text-encoder",
        about="TRIVIAL example model (mmx-plugin-example): character bigrams vs pixels, chance-level scores.",
        source="example")
    registry.add_loader("probe_every_nth", "mmx_plugin_example.data:load_probe_every_nth", source="example")
    registry.add_task_dir(Path(__file__).parent / "tasks")
