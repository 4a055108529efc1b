"""The rubric checker: full points for references, exact losses for every mutant.

The mutants (``course_mutants.py``) are buggy or cheating solutions: wrong
derivatives, missing clips, strides off by one, gradients routed to the wrong
cell, specs from another roll number, hard-coded outputs, monkeypatched NumPy,
``__eq__`` that is always true, unseeded runs, artifacts written for someone else
or with inflated numbers, a hang and a crash. Each must lose exactly the points
its table row names, no more and no less; the "honest" variants (another seed,
another training recipe, the other capstone track) lose nothing.
"""

import base64
import io
import resource
import time
import zlib

import numpy as np
import pytest
from course_mutants import MUTANTS, NAMED_MISTAKES, SLOW_ITEMS
from modules_testing import GRADED, ROLL_COMPARE, SOURCE, TIMINGS, tier_result, write_mutant
from roll_coverage import RANDOM_ROLL, ROLL, SECOND_ROLL, rolls_for

from dlcourse.grading import grade_notebook, wire
from dlcourse.grading.registry import CHECKS
from dlcourse.grading.rubrics import RUBRICS, rubric_for

#: The seed's point tables.
EXPECTED_RUBRICS = {
    "mlp": {"forward_sanity": 2, "activation_derivatives": 3, "bce_clipping": 2,
            "backprop_gradient_checks": 6, "learning_signal": 4, "presentation": 3},
    "cnn": {"conv_forward": 4, "conv_backward": 4, "pool_forward": 2, "gradient_routes": 3,
            "softmax_ce": 3, "learning_signal": 4},
    "churn": {"metrics": 6, "profit_model": 5, "tau_selection": 5, "memo": 4},
    "framework": {"model_spec": 6, "training": 7, "evaluation": 3, "comparison": 4},
}

#: The rubrics of modules 01, 07 and 08 (the notebooks' headings give the same points).
PROJECT_RUBRICS = {
    "foundations": {"tensors": 2, "compute_graph": 3, "losses": 3, "reproducibility": 2},
    "experimentation": {"harness": 4, "sweep": 2, "ablation": 2, "artifact": 4,
                        "reflection": 2},
    "capstone": {"framing": 4, "model_spec": 2, "pipeline": 4, "experiments": 4, "memo": 4,
                 "artifact": 2},
}


def auto_max(result):
    return result["max_score"] - result["manual_max_score"]


def lost_points(result):
    return {i["id"]: i["max_points"] - i["points"] for i in result["items"]
            if not i["manual"] and i["points"] < i["max_points"]}


@pytest.mark.parametrize("name", sorted(EXPECTED_RUBRICS) + sorted(PROJECT_RUBRICS))
def test_rubric_tables(name):
    rubric = RUBRICS[name]
    expected = {**EXPECTED_RUBRICS, **PROJECT_RUBRICS}[name]
    assert {i.id: i.max_points for i in rubric.items} == expected
    assert rubric.max_score == (20 if name in EXPECTED_RUBRICS else sum(expected.values()))
    for item in rubric.items:
        assert item.manual == (not item.subchecks)
        for sub in item.subchecks:
            # only the artifact check calls no student function (it reads the file)
            assert sub.functions or sub.params.get("part") == "verifies"
            assert sub.points > 0 and sub.time_limit > 0 and sub.tolerance > 0
            assert sub.check in CHECKS


@pytest.mark.parametrize("assignment", ["m01_foundations", "m07_experimentation",
                                        "m08_capstone"])
def test_project_notebooks_show_the_rubric_points(assignment):
    """Each nbgrader test/answer cell carries the points of the rubric items it stands for."""
    import nbformat

    rubric, _ = rubric_for(assignment)
    nb = nbformat.read(str(SOURCE / GRADED[assignment]), as_version=4)
    graded = sum(c.metadata["nbgrader"].get("points", 0) for c in nb.cells
                 if c.metadata["nbgrader"]["grade"])
    assert graded == rubric.max_score
    assert f"Grading ({rubric.max_score}" in nb.cells[0].source


def test_gradient_check_inputs_stay_clear_of_relu_kinks():
    """A centred difference across a ReLU kink fails a right ``mlp_backward``. Seed 3034's
    raw draw has a pre-activation 5e-7 from 0 (it cost the reference 2 points once);
    the checker draws again, so every seed grades the reference in full."""
    from dlcourse.grading.inputs import INPUTS, _nearest_kink

    for seed in range(300):
        (X, _, params, acts), _ = INPUTS["mlp_2"](np.random.default_rng(seed))
        assert _nearest_kink(X, params, acts) > 1e-3
    result = grade_notebook(SOURCE / GRADED["m03_mlp_scratch_2"], "m03_mlp_scratch_2", ROLL,
                            seed=3034, only_items=["backprop_gradient_checks"])
    assert result["items"][0]["passed"], result["items"][0]["message"]


def test_a_training_run_short_of_the_bar_trains_once_more_on_another_dataset():
    """A right CNN missed 0.85 held-out accuracy on a few fresh datasets in 1000; the
    checker then trains once more on another dataset and says so. A run that is wrong
    in form (not short of a bar) is not repeated, and a second miss fails."""
    from dlcourse.grading.context import Context
    from dlcourse.grading.isolation import CallResult
    from dlcourse.grading.rubrics import SubCheck
    from dlcourse.grading.training import _learning

    sub = SubCheck("cnn_accuracy", "held-out accuracy", 2, "cnn_training", ("train_cnn",),
                   {"part": "accuracy", "min_accuracy": 0.85})

    def grade(accuracies, value=None):
        runs = iter(accuracies)

        def run():
            accuracy = next(runs)
            params = {"accuracy": accuracy}
            return CallResult(True, value or [params, [1.0, 0.5]]), ((), ()), ((), ())

        ctx = Context(host=None, rng=np.random.default_rng(0), roll_number=ROLL)
        return _learning(ctx, sub, "train_cnn", run, lambda p, X, y: (0.0, p["accuracy"]),
                         ratio=0.7), ctx.cache["train_cnn"]

    (passed, message), runs = grade([0.80, 0.95])
    assert passed and "best of 2 fresh datasets" in message and len(runs) == 2, message
    (passed, message), runs = grade([0.80, 0.70])
    assert not passed and "and on 1 other fresh dataset" in message
    (passed, message), runs = grade([0.95])
    assert passed and "fresh datasets" not in message and len(runs) == 1
    (passed, message), runs = grade([0.5, 0.95], value=["not", "params"])
    assert not passed and len(runs) == 1 and "(params, losses)" in message


def test_a_harness_short_of_the_learning_bar_is_tried_on_a_second_config():
    """A right m07 harness missed 0.8 x the untrained loss on 2 checker configs in 1000
    (a bad initialisation); the checker then tries one more config and says so. A
    harness that does not learn fails on both."""
    from dlcourse.grading.context import Context
    from dlcourse.grading.isolation import CallResult
    from dlcourse.grading.projects import harness
    from dlcourse.grading.rubrics import RUBRICS

    sub = next(s for item in RUBRICS["experimentation"].items for s in item.subchecks
               if s.id == "harness_learns")
    split = harness.experiment_split(ROLL)

    class Harness:  # the student's side: the loss a run reaches, as a share of untrained
        def __init__(self, shares):
            self.shares, self.configs = iter(shares), []

        def call(self, fn, config, rate, timeout=None, **kwargs):
            self.configs.append(config)
            loss = next(self.shares) * harness._untrained(config, split)["val_loss"]
            return CallResult(True, {"val_accuracy": 0.5, "val_loss": loss})

    def grade(shares):
        host = Harness(shares)
        ctx = Context(host=host, rng=np.random.default_rng(0), roll_number=ROLL)
        return harness.check_harness(ctx, sub), host.configs

    (passed, message), configs = grade([0.9, 0.5])
    assert passed and "second of 2 configs" in message and configs[0] != configs[1]
    (passed, message), configs = grade([0.9, 0.95])
    assert not passed and "and on 1 other config" in message and len(configs) == 2
    (passed, message), configs = grade([0.5])
    assert passed and "configs" not in message and len(configs) == 1


@pytest.mark.parametrize("mine", ["sgd", "momentum", "rmsprop", "adam"])
def test_a_wrong_update_rule_is_named_for_every_roll_optimizer(mine):
    """Module 03's optimizer: another roll number's rule, the state dropped between steps
    and Adam without bias correction are each named, whichever rule the roll gives."""
    from dlcourse import optim
    from dlcourse.grading.diagnosis import likely_mistake
    from dlcourse.grading.inputs import INPUTS
    from dlcourse.grading.mistakes import _adam_without_bias_correction

    config = {"optimizer": mine}
    args, _ = INPUTS["optimizer_steps"](np.random.default_rng(7))
    want = optim.trajectory(mine, *args)

    def named(got):
        return likely_mistake("run_optimizer", args, {}, got, want, 1e-9, config=config)

    afresh = "starts afresh at every step"
    for other in optim.OPTIMIZERS:
        if other != mine:
            hint = named(optim.trajectory(other, *args))
            expected = afresh if (mine, other) == ("momentum", "sgd") else \
                f"this is the {other} update: your roll number's optimizer is {mine}"
            assert expected in hint, (other, hint)
    if mine != "sgd":
        assert afresh in named(optim.trajectory(mine, *args, keep_state=False))
    if mine == "adam":
        assert "bias correction" in named(_adam_without_bias_correction(*args))


def test_the_handed_in_artifact_is_verified_for_the_graded_roll_number():
    """Modules 01-06: the checker records (no points) whether the artifact handed in
    belongs to the graded roll number: the student's own does; a classmate's renamed,
    an edited one, another notebook's, a missing one or a JSON bomb does not."""
    import json

    from dlcourse.artifacts import artifact_filename, build_submission

    source = SOURCE / GRADED["m01_foundations"]
    name = artifact_filename(ROLL, source.stem)

    def verified(content):
        files = {} if content is None else {name: content if isinstance(content, bytes)
                                            else json.dumps(content).encode()}
        result = grade_notebook(source, "m01_foundations", ROLL, seed=1, files=files)
        assert result["score"] == auto_max(result)  # the artifact earns nothing
        return result["metrics"]["artifact_verified"]

    mine = build_submission(ROLL, {"first_draw_of_my_seed": 0.5}, notebook=source.stem)
    assert verified(mine) == 1.0
    assert verified(build_submission(SECOND_ROLL, {"x": 0.5}, notebook=source.stem)) == 0.0
    assert verified({**mine, "metrics": {"first_draw_of_my_seed": 0.9}}) == 0.0
    assert verified(build_submission(ROLL, {"x": 0.5}, notebook="cnn_scratch")) == 0.0
    assert verified(None) == 0.0
    assert verified(b"[" * 100_000 + b"]" * 100_000) == 0.0


REFERENCES = sorted(GRADED.items()) + [("m03_mlp_scratch_2", ROLL_COMPARE)]


@pytest.mark.parametrize(("assignment", "notebook"), REFERENCES, ids=lambda v: str(v))
def test_reference_solution_scores_full_automatic_points(assignment, notebook):
    start, cpu = time.perf_counter(), _cpu()
    result = grade_notebook(SOURCE / notebook, assignment, ROLL)
    TIMINGS[f"grading the reference {notebook}"] = time.perf_counter() - start
    assert _cpu() - cpu < 60, "a whole lab must grade in under 60 s of CPU"
    _assert_full_automatic_points(result, assignment, notebook)


def _assert_full_automatic_points(result, assignment, notebook):
    assert set(result) >= {"rubric", "items", "score", "max_score", "manual_max_score"}
    stem = notebook.rsplit("/", 1)[-1].removesuffix(".ipynb")
    assert result["rubric"] == rubric_for(assignment, stem)[0].name
    for item in result["items"]:
        assert set(item) >= {"id", "description", "points", "max_points", "passed", "message",
                             "manual"}
        if not item["manual"]:
            assert item["passed"], f"{item['id']}: {item['message']}"
    assert result["score"] == auto_max(result) > 0
    assert result["cell_errors"] == [] and result["restarts"] == 0


def _grade_reference(assignment, notebook, roll):
    start = time.perf_counter()
    return grade_notebook(SOURCE / notebook, assignment, roll), time.perf_counter() - start


def _reference_rolls():
    for assignment, notebook in REFERENCES:
        for roll in dict.fromkeys(rolls_for(notebook)):
            if roll != ROLL:  # graded above
                label = f"random:{roll}" if roll == RANDOM_ROLL else roll
                yield pytest.param(assignment, notebook, roll, id=f"{notebook}@{label}")


@pytest.mark.parametrize(("assignment", "notebook", "roll"), list(_reference_rolls()))
def test_reference_scores_full_automatic_points_for_every_roll(assignment, notebook, roll,
                                                               request):
    """Roll-coverage tier: the rubric gives each reference full automatic points under
    the covering rolls of the fields its notebook reads and under the random roll."""
    result, seconds = tier_result(request, _grade_reference)
    TIMINGS[f"grading the reference {notebook}@{roll}"] = seconds
    _assert_full_automatic_points(result, assignment, notebook)


def _cpu():
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _rubric(mutant):
    return rubric_for(mutant.assignment, mutant.path.stem)


def test_each_graded_rubric_has_at_least_eight_mutants():
    counts = {}
    for m in MUTANTS:
        if m.lost:  # the honest variants do not count
            counts[_rubric(m)[0].name] = counts.get(_rubric(m)[0].name, 0) + 1
    names = [*EXPECTED_RUBRICS, *PROJECT_RUBRICS]
    assert all(counts.get(name, 0) >= 8 for name in names), counts
    # every automatic item of the project rubrics is lost by some mutant
    for name in PROJECT_RUBRICS:
        lost = {item for m in MUTANTS if _rubric(m)[0].name == name for item in m.lost}
        automatic = {i.id for i in RUBRICS[name].items if not i.manual}
        assert automatic <= lost, (name, automatic - lost)


def _grade_mutant(mutant, roll):
    import tempfile
    from pathlib import Path

    _, items = _rubric(mutant)
    skip = SLOW_ITEMS.get(mutant.assignment, ())
    if set(mutant.lost) & set(skip):
        skip = ()
    only = [i.id for i in items if i.id not in skip]
    with tempfile.TemporaryDirectory() as tmp:
        # 5 s per call is plenty for these small inputs and keeps the hanging mutant short;
        # a fixed seed per mutant keeps CI reproducible (graders use a random one)
        return grade_notebook(write_mutant(Path(tmp), mutant), mutant.assignment, roll,
                              timeout_per_check=5.0, only_items=only,
                              seed=zlib.crc32(mutant.id.encode()))


@pytest.mark.parametrize(("mutant", "roll"), [
    pytest.param(m, roll, id=f"{m.id}@{roll}") for roll in (ROLL, SECOND_ROLL) for m in MUTANTS])
def test_mutant_loses_exactly_its_points(mutant, roll, request):
    """Under the base roll and a second one (other values in every config field), two
    gradings at a time."""
    result = tier_result(request, _grade_mutant)
    expected = {k: v for k, v in mutant.lost.items() if v}
    assert lost_points(result) == expected, [i["message"] for i in result["items"]]
    assert result["score"] == auto_max(result) - sum(expected.values())
    if "crash" in mutant.id:
        assert result["restarts"] >= 1
        assert any("crashed" in i["message"] for i in result["items"])
    if "hang" in mutant.id:
        assert any("time limit" in i["message"] for i in result["items"])
    if mutant.id in NAMED_MISTAKES:
        assert any(NAMED_MISTAKES[mutant.id] in i["message"] for i in result["items"]), \
            [i["message"] for i in result["items"]]


def test_every_rubric_blocks_the_answer_key():
    """No lab earns points by calling the reference half of the course library."""
    from dlcourse.builds import REFERENCE_MODULES

    for rubric in RUBRICS.values():
        assert set(REFERENCE_MODULES) <= set(rubric.blocked_modules), rubric.name


def test_every_hand_graded_item_has_a_grading_guide_with_exemplars():
    from dlcourse.grading.rubrics.guides import GUIDES

    manual = {(r.name, i.id) for r in RUBRICS.values() for i in r.items if i.manual}
    assert set(GUIDES) == manual
    for key, guide in GUIDES.items():
        for part in ("**Full", "**Partial", "**None", "*Full-credit exemplar:*",
                     "*Partial exemplar:*"):
            assert part in guide, (key, part)


def test_named_mistakes_are_mutants():
    assert set(NAMED_MISTAKES) <= {m.id for m in MUTANTS}


def test_missing_roll_number_fails_the_spec_check():
    result = grade_notebook(SOURCE / GRADED["m06_framework_cnn"], "m06_framework_cnn", None,
                            only_items=["model_spec"])
    assert result["score"] == 0
    assert "no roll number" in result["items"][0]["message"]


@pytest.mark.parametrize(("assignment", "items"), [
    ("m07_experimentation", ["harness", "artifact"]),
    ("m08_capstone", ["model_spec", "artifact"]),
])
def test_project_checks_follow_the_roll_number_the_grader_sets(assignment, items):
    """The data, spec and artifact checks rebuild everything from the roll number they are
    given: the reference notebook, run for another student, earns that student's points,
    and without a roll number those checks fail."""
    result = grade_notebook(SOURCE / GRADED[assignment], assignment, "EE2023-123",
                            only_items=items)
    assert result["score"] == auto_max(result) > 0, [i["message"] for i in result["items"]]
    result = grade_notebook(SOURCE / GRADED[assignment], assignment, None, only_items=items)
    assert result["score"] == 0
    assert all("no roll number" in i["message"] for i in result["items"])


def test_read_output_refuses_links_fifos_and_paths():
    from dlcourse.grading.isolation import StudentHost

    cells = ["import os\n"
             "open(os.path.join(os.environ['SUBMISSION_DIR'], 'ok.json'), 'w').write('{}')\n"
             "os.symlink('/etc/hostname', 'link.json')\n"
             "os.mkfifo('pipe.json')\n"
             "open('big.json', 'w').write('x' * 2000)"]
    with StudentHost(cells) as host:
        assert host.start().ok and host.cell_errors == []
        assert host.read_output("ok.json").value == "{}"
        assert not host.read_output("link.json").ok
        assert "not a regular file" in host.read_output("pipe.json").error
        assert "larger than" in host.read_output("big.json", limit=1000).error
        assert "did not write" in host.read_output("missing.json").error
        assert not host.read_output("../ok.json").ok


def test_the_spec_follows_the_roll_number_the_grader_sets():
    """The reference notebook derives its spec from ROLL_NUMBER, which the grader sets
    from the authoritative roll number: grading it as someone else still passes, because
    the notebook follows the roll number it is given."""
    result = grade_notebook(SOURCE / GRADED["m06_framework_cnn"], "m06_framework_cnn",
                            "EE2023-123", only_items=["model_spec"])
    assert result["score"] == 6


def _b64_save(array, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return {wire.ARRAY_KEY: base64.b64encode(buf.getvalue()).decode()}


def test_wire_accepts_plain_numbers_only():
    assert np.array_equal(wire.decode(_b64_save(np.arange(3.0))), np.arange(3.0))
    with pytest.raises(ValueError):  # pickled objects are never loaded
        wire.decode(_b64_save(np.array([object()]), allow_pickle=True))
    with pytest.raises(wire.WireError):
        wire.decode(_b64_save(np.array(["text"])))
    with pytest.raises(wire.WireError):
        wire.encode(np.zeros(2).view(type("Sub", (np.ndarray,), {})))


def test_a_notebook_that_hangs_at_top_level_fails_fast(tmp_path):
    import nbformat

    nb = nbformat.read(str(SOURCE / GRADED["m05_cnn_scratch"]), as_version=4)
    nb.cells[-1] = nbformat.v4.new_code_cell("while True:\n    pass")
    path = tmp_path / "hangs.ipynb"
    nbformat.write(nb, str(path))
    start = time.perf_counter()
    result = grade_notebook(path, "m05_cnn_scratch", ROLL, setup_timeout=3.0)
    assert time.perf_counter() - start < 20, "one setup time-out, not one per check"
    assert result["score"] == 0
    assert "no answer within 3 s" in result["setup"]
    assert all("time limit" in i["message"] for i in result["items"])


@pytest.mark.parametrize("assignment", sorted(GRADED))
def test_an_unsolved_release_notebook_scores_zero(assignment, release_dir):
    result = grade_notebook(release_dir / GRADED[assignment], assignment, ROLL)
    assert result["score"] == 0
    assert all(not i["passed"] for i in result["items"] if not i["manual"])
    assert any("NotImplementedError" in i["message"] for i in result["items"])
