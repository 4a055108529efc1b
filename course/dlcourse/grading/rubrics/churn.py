"""Churn thresholds (module 04): 20 points, 16 automatic + 4 by hand (the memo)."""

from dlcourse.grading.rubrics.base import REFERENCE_LIBRARY, Item, Rubric, compare

RUBRIC = Rubric(
    name="churn",
    blocked_modules=REFERENCE_LIBRARY,
    items=(
        Item("metrics", "Correct metrics", (
            compare("precision_recall", "precision and recall of hard predictions", 3,
                    "precision_recall", "hard_predictions"),
            compare("roc_auc", "ROC-AUC with ties counted one half", 3, "roc_auc", "scores"),
        )),
        Item("profit_model", "Profit model", (
            compare("campaign_profit", "total campaign profit at a threshold", 5,
                    "campaign_profit", "profit"),
        )),
        Item("tau_selection", "Profit-maximising threshold", (
            compare("best_tau", "tau on the 0.00..1.00 grid and its profit", 5, "best_tau",
                    "tau"),
        )),
        Item("memo", "Rationale and memo (graded by hand)", manual=True, points=4),
    ),
)
