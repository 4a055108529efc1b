"""Grading guides for the hand-graded items: what earns full, partial and no credit, with
a full-credit and a partial exemplar. Instructors only: the grading service serves them
to a course's instructors (``GET .../grading-guide``) and ``pull-results`` shows each
one above its answer in the formgrader; feedback generation drops them (tag
``dlcourse-grading-guide``), and this module never reaches a student's image.

``GUIDES[(rubric name, item id)]`` is markdown.
"""

GUIDES = {
    ("mlp", "presentation"): """\
**Full (3):** says what the gradient check measured (analytic vs centred-difference
gradients, relative error per parameter, ~1e-7 or below meaning correct) and what the
loss curve showed with the student's own numbers (start and end loss, how fast it
fell); code with meaningful names and a comment where the math is not obvious.
**Partial (1-2):** correct but generic ("the gradients are right, the loss goes down"),
or a clear text with unreadable code. **None (0):** missing, or contradicts the
notebook's own output.

*Full-credit exemplar:* "All six parameter arrays agree with the centred difference to
a relative error below 3e-9, so backprop is right for my relu-sigmoid-relu net. The
training loss fell from 0.69 to 0.21 in 30 epochs, fastest in the first five, and
held-out accuracy reached 0.93."
*Partial exemplar:* "The gradient check passed and the loss decreased, so the model
learns."
""",
    ("roll_compare", "discussion"): """\
**Full (2):** names a concrete difference between the two curves the student obtained
and a plausible cause tied to it (different initialisation schemes, the framework's
optimiser defaults such as Adam epsilon or momentum, float32 vs float64, batch order).
**Partial (1):** lists causes without relating them to the observed curves.
**None (0):** missing or wrong (e.g. claims the curves must be identical).

*Full-credit exemplar:* "Keras starts lower (0.62 vs 0.69) because Glorot-uniform
initialisation gives larger first-layer weights than my N(0, 1/d); both end near 0.25.
Keras computes in float32, so its curve also wobbles slightly late in training."
*Partial exemplar:* "They differ because of initialisation and precision."
""",
    ("churn", "memo"): """\
**Full (4):** recommends a threshold from the student's own sweep with its expected
profit and the number of customers contacted; explains precision (share of contacted
customers who would churn) and recall (share of churners reached) in campaign terms;
chooses one of the model variations of section 2b with a reason read from its table
(validation ROC-AUC, the gap between training and validation loss, or that the
differences are too small to matter, so the simpler or cheaper one); names one risk
with a consequence (calibration drift, a changing churn rate, offer cost).
**Partial (2-3):** one of these missing, metrics defined without the campaign meaning,
or a variation chosen without a reason from the table. **Partial (1):** a threshold
without justification. **None (0):** missing.

*Full-credit exemplar:* "Contact customers scoring at least 0.31: about 420 of 2,000,
expected profit 18,400. At this threshold 61% of those contacted would otherwise churn
(precision) and we reach 78% of all churners (recall). I would deploy the section-1
model (dropout 0.2, early stopping): its validation ROC-AUC of 0.782 is within 0.005 of
the others, and it stopped after 9 epochs with validation loss 0.553, while the model
without dropout or early stopping trained 20 epochs for a higher validation loss.
Risk: if next quarter's churn rate rises, the scores shift and the threshold should be
re-swept on fresh data."
*Partial exemplar:* "tau = 0.31 maximises profit. Precision is TP/(TP+FP) and recall is
TP/(TP+FN). Dropout 0.5 is the best model because more regularisation is better."
""",
    ("framework", "comparison"): """\
**Full (4):** compares the three models on the test metrics with numbers, training
time, development effort and stability across seeds, and makes a deployment choice
justified by those numbers. **Partial (2-3):** numbers without a decision, or a
decision without numbers; one dimension missing. **Partial (1):** a single sentence.
**None (0):** missing.

*Full-credit exemplar:* "Keras and PyTorch reach 0.94 and 0.93 test accuracy in 6 s
and 9 s; my scratch CNN reaches 0.90 in 48 s. Across three seeds Keras varies by 0.01,
scratch by 0.04. I would deploy the Keras model: best accuracy, most stable, and the
least code to maintain."
*Partial exemplar:* "The framework models are faster and more accurate, so I would use
one of them."
""",
    ("experimentation", "reflection"): """\
**Full (2):** reports the winning learning rate and the ablation's effect with the
student's own numbers, judges whether the differences exceed run-to-run noise, and
proposes a sensible next experiment. **Partial (1):** numbers without judgement, or
judgement without numbers. **None (0):** missing or generic.

*Full-credit exemplar:* "0.01 won with validation accuracy 0.87 vs 0.80 for 0.003;
dropping a hidden layer raised the validation loss from 0.29 to 0.38. The 0.07 gap is
larger than the 0.02 I saw between seeds, so it is real. Next I would sweep the batch
size at lr 0.01."
*Partial exemplar:* "A higher learning rate was better and the deeper model was
better."
""",
    ("capstone", "framing"): """\
**Full (4):** states the decision the model supports and who acts on it, a metric that
fits that decision with a reason, the baseline to beat, and what result would be
useful. **Partial (2-3):** one or two of these missing or vague. **Partial (1):** only a
restatement of the task. **None (0):** missing.

*Full-credit exemplar:* "The retention team calls at most 300 customers a month; the
model ranks customers by churn risk, so ROC-AUC (ranking quality) is the metric, and
profit at the chosen threshold is reported for the decision. The baseline ranks by
support calls alone (ROC-AUC 0.71); a model above 0.80 would change whom we call."
*Partial exemplar:* "We predict churn and measure accuracy."
""",
    ("capstone", "experiments"): """\
**Full (4):** a baseline, at least one sweep and one ablation chosen on the validation
split, the test split used once at the end, and plots with titles and labelled axes,
each result stated in a sentence. **Partial (2-3):** one element missing, or the test
split used for choices. **Partial (1):** a single run. **None (0):** missing.

*Full-credit exemplar:* a learning-rate sweep plotted against validation ROC-AUC with
the baseline as a reference line, an ablation to one hidden layer, and "lr 0.01 is
best on validation (0.84 vs 0.71 baseline); one hidden layer loses 0.03; test ROC-AUC
of the chosen model: 0.83."
*Partial exemplar:* a sweep whose best value was picked on the test split, without a
baseline.
""",
    ("capstone", "memo"): """\
**Full (4):** the question, what was tried, the test result with its uncertainty, a
concrete recommendation (for churn: threshold, customers contacted, expected profit)
and two risks with consequences, on one page. **Partial (2-3):** no uncertainty, or a
recommendation without numbers, or a single generic risk. **Partial (1):** a summary of
the notebook without a recommendation. **None (0):** missing.

*Full-credit exemplar:* "Call the 310 customers scoring above 0.34 next month: expected
profit 14,900 (bootstrap 90% interval 11,200-18,300). Test ROC-AUC 0.83 vs 0.71 for
ranking by support calls. Risks: scores are not calibrated after the price change in
March, so re-check the threshold; the model under-ranks new customers (tenure < 3
months)."
*Partial exemplar:* "The model works well (AUC 0.83) and should be used for the
campaign."
""",
}
