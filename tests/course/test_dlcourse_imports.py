"""Importing dlcourse and its numpy modules never imports a framework or matplotlib."""

MODULES = ["dlcourse", "dlcourse.layers", "dlcourse.conv", "dlcourse.optim", "dlcourse.models",
           "dlcourse.train", "dlcourse.gradcheck", "dlcourse.data", "dlcourse.metrics",
           "dlcourse.thresholds", "dlcourse.roll", "dlcourse.artifacts", "dlcourse.plots",
           "dlcourse.twins"]
HEAVY = ("torch", "tensorflow", "keras", "matplotlib", "jax", "scipy")


def test_imports_are_lazy(run_python):
    out = run_python(
        "import importlib, sys\n"
        f"for m in {MODULES!r}: importlib.import_module(m)\n"
        f"print(sorted(h for h in {HEAVY!r} if h in sys.modules))"
    )
    assert out.strip() == "[]"


def test_top_level_names():
    import dlcourse

    assert dlcourse.__version__ == "0.1.0"
    assert dlcourse.derive_config("CS1234")["seed"] >= 0
    assert dlcourse.roll_clean("CS-1234") == "cs1234"
