"""dlcourse: the course's deep-learning library, in two builds (``dlcourse.builds``).

Reference modules (read them in this order, CS231n style). They hold the answers to
graded functions, so they exist only where the checker reads them (the grading
service, and the sandbox's checker-only directory), never in a student's image:

- ``layers``      forward/backward pairs for dense, activations, dropout, losses, flatten
- ``conv``        conv2d (naive loops and vectorised im2col), max/average pooling
- ``optim``       ``update(w, dw, config) -> (next_w, config)`` optimisers
- ``models``      ``MLP`` and ``SmallCNN`` built from the layers above
- ``train``       ``fit`` training loop with history, best weights, early stopping
- ``gradcheck``   centred-difference gradient checks in float64
- ``metrics``     accuracy ... ROC/PR curves and AUCs
- ``thresholds``  profit model and profit-maximising decision thresholds
- ``twins``       the same model in Keras 3 and PyTorch (imported lazily)
- ``grading``     rubrics and checks (its ``host``/``wire``/``isolation``/``child`` are
                  student-side)

The student build (the single-user image, the student's process when graded):

- ``data``        seeded synthetic data sets (tabular, churn, small images)
- ``roll``        roll-number normalisation and ``derive_config`` (numpy-free)
- ``nets``        PyTorch ``MLP``/``SmallCNN``/``fit`` with the NumPy interface, for the
                  modules that use a model as a tool
- ``history``     ``History`` and best-epoch tracking shared by both training loops
- ``artifacts``   ``submission_<roll_clean>.json`` and the submission zip
- ``plots``       matplotlib helpers (matplotlib imported lazily)
- ``builds``      which module belongs to which build

Importing ``dlcourse`` imports numpy only; torch, tensorflow, keras and
matplotlib are imported inside the modules and functions that need them.
"""

__version__ = "0.1.0"

from dlcourse.roll import derive_config, normalize_roll_number, roll_clean  # noqa: E402

__all__ = ["__version__", "derive_config", "normalize_roll_number", "roll_clean"]
