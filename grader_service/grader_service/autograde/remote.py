"""The checker's view of a student's notebook: names that stand for the student's values.

nbgrader test cells run in the checker's own interpreter, never in the student's
process. A name a test cell uses is looked up in three places, in this order:

1. what the test cells and the instructor's locked cells (run here too, in notebook
   order) defined, the instructor's imports (the ``import`` statements of the source
   notebook's cells that are neither solution nor test cells) and ``ROLL_NUMBER``
   from the grading service: the checker's own;
2. Python's builtins;
3. the student's namespace, through :meth:`TestNamespace.refresh`: plain data
   (numbers, strings, lists, dicts, numeric arrays) is copied over as data, a
   function becomes a :class:`RemoteFunction` that calls it in the student's process
   with data arguments and returns data, a module becomes the checker's own import
   of that module (only when the checker has imported it already), anything else
   an :class:`OpaqueValue` that fails any use with a clear message.

So no hook, monkeypatch or exception handler in the student's process reaches the
code that decides whether a test passed, and no object of theirs (``__eq__`` that is
always true) ever enters the checker.
"""

import ast
import builtins
import os
import sys
import time

from dlcourse.grading.isolation import Ref

CHECKER_NAME = "__grading__"


class StudentCodeError(Exception):
    """The student's function raised, timed out, crashed, or returned non-data.

    Its text is the checker's own: when the student's code raised, only the name of a
    built-in exception is kept (the message, and even the class name of a custom
    exception, are the student's to choose and could carry anything out).
    """


def exception_name(text):
    """The built-in exception a student error text starts with, else "an exception"."""
    name = text.split(":", 1)[0].strip().rsplit(".", 1)[-1]
    found = getattr(builtins, name, None)
    if isinstance(found, type) and issubclass(found, BaseException):
        return name
    return "an exception"


class RemoteFunction:
    """A student's function, called in the student's process (see module docstring)."""

    def __init__(self, host, name, budget):
        self._host, self._name, self._budget = host, name, budget

    def __call__(self, *args, **kwargs):
        args = [Ref(a._name) if isinstance(a, RemoteFunction) else a for a in args]
        kwargs = {k: Ref(v._name) if isinstance(v, RemoteFunction) else v
                  for k, v in kwargs.items()}
        result = self._host.call(self._name, *args, timeout=self._budget.left(), **kwargs)
        if result.ok:
            return result.value
        if result.raised:  # "name(): <the student's text>": keep only the exception's name
            raise StudentCodeError(f"{self._name}() raised "
                                   f"{exception_name(result.error.partition('): ')[2])}")
        raise StudentCodeError(result.error.split("; its last output:")[0])  # checker text

    def __repr__(self):
        return f"<student function {self._name}>"


class OpaqueValue:
    """A student's value that is not plain data: any use fails with a clear message."""

    def __init__(self, name):
        object.__setattr__(self, "_what", f"{name} is not plain data (numbers, strings, "
                           "lists, dicts, NumPy arrays), so the tests cannot use it")

    def _fail(self, *args, **kwargs):
        raise StudentCodeError(object.__getattribute__(self, "_what"))

    __getattr__ = __call__ = __getitem__ = __iter__ = __len__ = __bool__ = _fail
    __eq__ = __lt__ = __gt__ = __add__ = __float__ = __int__ = _fail
    __hash__ = None


class Budget:
    """Seconds left for one test cell (each student call gets what remains)."""

    def __init__(self, seconds):
        self.deadline = time.monotonic() + seconds

    def left(self):
        return max(0.1, self.deadline - time.monotonic())


def referenced_names(code):
    """Every name a code object (and the functions, lambdas, comprehensions in it) uses."""
    names = set(code.co_names) | set(code.co_varnames) | set(code.co_freevars)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= referenced_names(const)
    return names


def instructor_imports(cells):
    """The ``import`` statements (as source) of the instructor's own cells."""
    statements = []
    for source in cells:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        statements += [ast.unparse(node) for node in tree.body
                       if isinstance(node, ast.Import | ast.ImportFrom)]
    return statements


class TestNamespace:
    """The globals test cells run in (see the module docstring)."""

    def __init__(self, host, import_statements=(), roll_number=None):
        self.host = host
        self.globals = {"__name__": CHECKER_NAME, "__builtins__": builtins}
        for statement in import_statements:
            try:
                exec(statement, self.globals)
            except Exception:  # noqa: BLE001 - a missing optional library: tests will say
                continue
        self.roll_number = roll_number
        self._pin_roll_number()
        self.student_names = set()

    def _pin_roll_number(self):
        """The authoritative roll number, whatever an instructor cell computed."""
        if self.roll_number is not None:
            self.globals["ROLL_NUMBER"] = self.roll_number
            os.environ["ROLL_NUMBER"] = self.roll_number  # the checker's own environment

    def run(self, code, budget):
        """Run instructor code (a test or locked cell) against the student's current
        values; exceptions propagate to the caller, who decides what they mean."""
        problem = self.refresh(code, budget)
        if problem:
            raise StudentCodeError(f"not run: {problem}")
        fetched = {name: id(self.globals[name]) for name in self.student_names}
        try:
            exec(code, self.globals)
        finally:
            for name, before in fetched.items():  # re-bound by the instructor: now ours
                if name in self.globals and id(self.globals[name]) != before:
                    self.student_names.discard(name)
            self._pin_roll_number()

    def refresh(self, code, budget):
        """Copy in the student's current values of the names ``code`` needs.

        Returns None, or why the student's namespace could not be read.
        """
        for name in self.student_names:
            self.globals.pop(name, None)
        self.student_names.clear()
        wanted = sorted(n for n in referenced_names(code)
                        if n not in self.globals and not hasattr(builtins, n))
        if not wanted:
            return None
        described = self.host.describe(wanted, timeout=budget.left())
        if not described.ok:
            return described.error
        if type(described.value) is not dict:
            return "invalid description of the notebook's variables"
        for name, info in described.value.items():
            if name in wanted and type(info) is dict:
                self.globals[name] = self._value(name, info, budget)
                self.student_names.add(name)
        return None

    def _value(self, name, info, budget):
        kind = info.get("kind")
        if kind == "data":
            return info.get("value")
        if kind == "function":
            return RemoteFunction(self.host, name, budget)
        if kind == "module" and info.get("module") in sys.modules:
            return sys.modules[info["module"]]
        return OpaqueValue(name)
