"""Train the Rasa NLU model only when its inputs changed.

The model file is named after a fingerprint of the pipeline config, the training data
and the Rasa version, so `make run` a second time finds it and skips training.
"""

from __future__ import annotations

import hashlib
import warnings
from importlib.metadata import version
from pathlib import Path

from bot.nlu.rasa_local import prepare_rasa_environment
from sini import logging as logs
from sini.logging import get_logger

log = get_logger(__name__)
MODEL_PREFIX = "nlu-"


def training_inputs(nlu_project: Path) -> list[Path]:
    """The files that determine the model: config.yml and everything under data/."""
    return [nlu_project / "config.yml", *sorted((nlu_project / "data").rglob("*.yml"))]


def fingerprint(nlu_project: Path) -> str:
    """A short hash of the training inputs and the Rasa version."""
    digest = hashlib.sha256(version("rasa").encode())
    for path in training_inputs(nlu_project):
        digest.update(path.relative_to(nlu_project).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_path(nlu_project: Path, model_dir: Path) -> Path:
    """Where the model for the current inputs lives (it may not exist yet)."""
    return model_dir / f"{MODEL_PREFIX}{fingerprint(nlu_project)}.tar.gz"


def train(nlu_project: Path, model_dir: Path, *, force: bool = False) -> Path:
    """Return the current model, training it first if needed; older models are removed."""
    target = model_path(nlu_project, model_dir)
    if target.exists() and not force:
        log.info("nlu.model_up_to_date", model=target.name)
        return target
    prepare_rasa_environment()
    model_dir.mkdir(parents=True, exist_ok=True)
    print(f"Training the NLU model ({target.name}); this takes two or three minutes…", flush=True)
    with warnings.catch_warnings():
        # Rasa 3.6 and its TensorFlow stack warn about their own deprecations at every
        # import and epoch; none of it is actionable here, and it buries the progress bar.
        warnings.simplefilter("ignore")
        from rasa.model_training import train_nlu

        result = train_nlu(
            config=str(nlu_project / "config.yml"),
            nlu_data=str(nlu_project / "data"),
            output=str(model_dir),
            fixed_model_name=target.name.removesuffix(".tar.gz"),
        )
    logs.reapply()
    if not result or not Path(result).exists():
        raise RuntimeError("Rasa did not produce a model; see the messages above")
    for old in model_dir.glob(f"{MODEL_PREFIX}*.tar.gz"):
        if old != target:
            old.unlink()
    log.info("nlu.model_trained", model=target.name)
    return target
