"""dlcourse: the course's reference NumPy deep-learning library.

Modules (read them in this order, CS231n style):

- ``layers``      forward/backward pairs for dense, activations, dropout, losses, flatten
- ``conv``        conv2d (naive loops and vectorised im2col), max/average pooling
- ``optim``       ``update(w, dw, config) -> (next_w, config)`` optimisers
- ``models``      ``MLP`` and ``SmallCNN`` built from the layers above
- ``train``       ``fit`` training loop with history, best weights, early stopping
- ``gradcheck``   centred-difference gradient checks in float64
- ``data``        seeded synthetic data sets (tabular, churn, small images)
- ``metrics``     accuracy ... ROC/PR curves and AUCs
- ``thresholds``  profit model and profit-maximising decision thresholds
- ``roll``        roll-number normalisation and ``derive_config`` (numpy-free)
- ``artifacts``   ``submission_<roll_clean>.json`` and the submission zip
- ``plots``       matplotlib helpers (matplotlib imported lazily)
- ``twins``       the same model in Keras 3 and PyTorch (imported lazily)

Importing ``dlcourse`` imports numpy only; torch, tensorflow, keras and
matplotlib are imported inside the functions that need them.
"""

__version__ = "0.1.0"

from dlcourse.roll import derive_config, normalize_roll_number, roll_clean  # noqa: E402

__all__ = ["__version__", "derive_config", "normalize_roll_number", "roll_clean"]
