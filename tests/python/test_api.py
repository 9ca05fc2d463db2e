"""The package's surface: every public name has a docstring and a type stub, the version is the
project's, and errors are one line."""

import ast
import os
import re

import numpy as np
import pytest

import muft

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def test_every_public_name_is_documented_and_stubbed():
    stub = ast.parse(open(os.path.join(os.path.dirname(muft.__file__), "__init__.pyi")).read())
    stubbed = {n.name for n in stub.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert "__version__" in {t.id for n in stub.body if isinstance(n, ast.AnnAssign)
                             for t in [n.target]}
    for name in muft.__all__:
        obj = getattr(muft, name)
        assert obj.__doc__ and len(obj.__doc__.strip()) > 20, name
        assert name in stubbed, name
    for f in (muft.spectra, muft.diff, muft.series):  # the batch options are described too
        assert "include" in f.__doc__ and "jobs" in f.__doc__, f.__name__


def test_version_is_the_projects():
    text = open(os.path.join(ROOT, "CMakeLists.txt")).read()
    want = re.search(r"project\(muft\s+VERSION\s+([0-9.]+)", text).group(1)
    assert muft.__version__ == want


def test_no_cpp_exception_escapes_as_a_crash(tmp_path):
    # Each raises a Python exception with one line, whatever layer refused it.
    calls = [lambda: muft.metrics(np.ones((2, 2)), svd=""),
             lambda: muft.spectra([], jobs=-3),
             lambda: muft.series(str(tmp_path / "none")),
             lambda: muft.polar_express(cushion=-1.0),
             lambda: muft.meta(str(tmp_path), "a", "b", "c", "d")]
    for call in calls:
        with pytest.raises((ValueError, OSError, TypeError)) as e:
            r = call()
            # series of a missing directory may instead be a table with an error row
            if isinstance(r, muft.Table) and r.errors:
                raise ValueError(r.errors[0])
        assert "\n" not in str(e.value).strip(), str(e.value)
