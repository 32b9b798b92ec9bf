"""Evaluate the NLU on the held-out split in `nlu/tests/` (never used for training).

Writes to `reports/`: `intent_report.json` (per-intent precision/recall/F1, macro-F1,
per-language macro-F1, safety-net recall and false-alarm rate), `intent_errors.json` and
`intent_confusion_matrix.png`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.nlu import FALLBACK_INTENT, Understanding
from bot.nlu.safety import detect_crisis

# Intents whose messages are ordinary drug or trafficking questions: a crisis alarm on
# them is a false alarm (the answer still helps, but starts with emergency numbers).
ORDINARY_TOPICS = {
    "drug_info",
    "drug_risks",
    "drug_myths",
    "quit_help",
    "help_friend",
    "trafficking_info",
    "safe_migration",
    "parent_advice",
    "peer_pressure",
}


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    language: str


def load_examples(directory: Path) -> list[Example]:
    """Test examples per language file (`fr.yml`, `bm.yml`, `en.yml`)."""
    from rasa.shared.nlu.training_data.loading import load_data

    examples: list[Example] = []
    for path in sorted(directory.glob("*.yml")):
        data = load_data(str(path))
        examples.extend(
            Example(m.get("text"), m.get("intent"), path.stem) for m in data.training_examples
        )
    return examples


def macro_f1(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(truth, predicted, labels=list(labels), average="macro", zero_division=0))


def evaluate(
    examples: list[Example], parse: Callable[[str], Understanding], out_dir: Path
) -> dict[str, Any]:
    """Parse every example; write and return the report.

    Intent figures use the classifier's best real intent; how often the bot would rather
    ask (the FallbackClassifier's nlu_fallback) is reported separately as `fallback_rate`.
    """
    from sklearn.metrics import classification_report

    readings = [parse(e.text) for e in examples]
    predicted = [r.top_intent for r in readings]
    truth = [e.intent for e in examples]
    labels = sorted(set(truth))
    report: dict[str, Any] = classification_report(
        truth, predicted, labels=labels, output_dict=True, zero_division=0
    )
    report["macro_f1"] = macro_f1(truth, predicted, labels)
    report["per_language_macro_f1"] = {
        language: macro_f1(
            [t for t, e in zip(truth, examples, strict=True) if e.language == language],
            [p for p, e in zip(predicted, examples, strict=True) if e.language == language],
            labels,
        )
        for language in sorted({e.language for e in examples})
    }
    report["fallback_rate"] = sum(r.intent == FALLBACK_INTENT for r in readings) / len(readings)
    report["safety_net"] = safety_net_figures(examples)
    errors = [
        {
            "text": e.text,
            "language": e.language,
            "intent": e.intent,
            "predicted": r.top_intent,
            "confidence": round(r.confidence, 3),
            "asked_to_clarify": r.intent == FALLBACK_INTENT,
        }
        for e, r in zip(examples, readings, strict=True)
        if r.top_intent != e.intent
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "intent_report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    (out_dir / "intent_errors.json").write_text(json.dumps(errors, indent=2, ensure_ascii=False))
    plot_confusion(truth, predicted, labels, out_dir / "intent_confusion_matrix.png")
    return report


def safety_net_figures(examples: list[Example]) -> dict[str, float]:
    """Recall on crisis messages and false-alarm rate on ordinary topic questions."""
    crises = [e for e in examples if e.intent == "crisis"]
    ordinary = [e for e in examples if e.intent in ORDINARY_TOPICS]
    caught = sum(detect_crisis(e.text) is not None for e in crises)
    alarms = sum(detect_crisis(e.text) is not None for e in ordinary)
    return {
        "crisis_messages": len(crises),
        "recall": caught / len(crises) if crises else 1.0,
        "ordinary_messages": len(ordinary),
        "false_alarm_rate": alarms / len(ordinary) if ordinary else 0.0,
    }


def plot_confusion(truth: list[str], predicted: list[str], labels: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    columns = sorted(set(labels) | set(predicted))
    figure, axes = plt.subplots(figsize=(14, 12))
    ConfusionMatrixDisplay.from_predictions(
        truth, predicted, labels=columns, ax=axes, xticks_rotation="vertical", colorbar=False
    )
    axes.set_title("Sini NLU — held-out split")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
