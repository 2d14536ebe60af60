"""Intent of an incoming message, with a calibrated confidence and abstention.

Public surface for the rest of triage:

- `IntentModel.fit(texts, labels, oos_label=None, progress=None)`, `model.predict(text)`,
  `model.predict_many(texts)`, `model.save(path)`, `IntentModel.load(path)`, `model.version`;
- `active_model()` (the newest model under `DATA_DIR/models`, cached per process, None when none
  was trained) and `predict(text)` (None without a model);
- `model_store(model)` writes a trained model as the newest version.

See docs/triage-model.md.
"""

from guichet.triage.intent.model import IntentModel, IntentPrediction, Params
from guichet.triage.intent.store import active_model, model_paths, model_store, models_dir, predict

__all__ = [
    "IntentModel",
    "IntentPrediction",
    "Params",
    "active_model",
    "model_paths",
    "model_store",
    "models_dir",
    "predict",
]
