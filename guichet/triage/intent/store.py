"""Where trained intent models live: `DATA_DIR/models/intent-<version>/`, the newest one active.

Each web or worker process keeps the active model in memory and reloads it when a newer folder
appears (one directory listing per call; no restart needed after `triage_train`).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from django.conf import settings

from guichet.triage.intent.model import IntentModel, IntentPrediction

PREFIX = "intent-"

_lock = threading.Lock()
_cache: dict[str, tuple[Path, IntentModel]] = {}


def models_dir() -> Path:
    return Path(settings.DATA_DIR) / "models"


def model_paths() -> list[Path]:
    """Finished model folders, oldest first (versions are UTC timestamps, so names sort)."""
    root = models_dir()
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(
        root / name
        for name in names
        if name.startswith(PREFIX) and (root / name / "manifest.json").is_file()
    )


def model_store(model: IntentModel) -> Path:
    """Save `model` as the newest version and return its folder.

    Written under a hidden name then renamed, so a process never loads half a model.
    """
    root = models_dir()
    root.mkdir(parents=True, exist_ok=True)
    name = f"{PREFIX}{model.version}"
    suffix = 1
    while (root / name).exists():
        suffix += 1
        name = f"{PREFIX}{model.version}-{suffix}"
    if suffix > 1:
        model.version = f"{model.version}-{suffix}"
    temporary = root / f".{name}.partial"
    model.save(temporary)
    temporary.rename(root / name)
    return root / name


def active_model() -> IntentModel | None:
    """The newest trained model, loaded once per process; None when none was trained."""
    found = active_model_and_path()
    return None if found is None else found[1]


def active_model_and_path() -> tuple[Path, IntentModel] | None:
    """`active_model()` with the folder it was loaded from (helper processes load the same one)."""
    paths = model_paths()
    if not paths:
        return None
    latest = paths[-1]
    cached = _cache.get("active")
    if cached is not None and cached[0] == latest:
        return cached
    with _lock:
        cached = _cache.get("active")
        if cached is None or cached[0] != latest:
            _cache["active"] = (latest, IntentModel.load(latest))
        return _cache["active"]


def predict(text: str) -> IntentPrediction | None:
    """The active model's prediction for `text`; None when no model was trained yet."""
    model = active_model()
    return None if model is None else model.predict(text)


def cache_clear() -> None:
    _cache.clear()
