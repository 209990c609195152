"""Published Fashion-MNIST test accuracies to compare a model with: the only place they live,
so the report and the Evaluate page show the same rows."""

from __future__ import annotations

from dataclasses import dataclass

ZALANDO = "Zalando benchmark (github.com/zalandoresearch/fashion-mnist)"


@dataclass(frozen=True)
class Reference:
    """A published accuracy, or a range of them (`low` == `high` for a single figure)."""

    name: str
    low: float
    high: float
    source: str

    @property
    def label(self) -> str:
        if self.low == self.high:
            return f"{self.low:.1%}"
        return f"{self.low:.1%} to {self.high:.1%}"


REFERENCE_ACCURACY: tuple[Reference, ...] = (
    Reference("Human (crowd-sourced, 1,000 test images)", 0.835, 0.835, ZALANDO),
    Reference("Logistic regression (scikit-learn)", 0.842, 0.842, ZALANDO),
    Reference("Random forest (scikit-learn)", 0.873, 0.873, ZALANDO),
    Reference("SVC, RBF kernel, C=10 (scikit-learn)", 0.897, 0.897, ZALANDO),
    Reference("Simple 2-conv CNNs", 0.916, 0.925, "community results, Zalando benchmark page"),
)
