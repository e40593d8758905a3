import numpy as np
import pytest
import torch

from vaelib import latent
from vaelib.exercises import feedback


def test_right_and_not_yet_speak_in_one_voice(capsys):
    assert feedback.right("KL >= 0.") is True
    assert feedback.not_yet("add the KL term.") is False
    assert capsys.readouterr().out == "Right: KL >= 0.\nNot yet: add the KL term.\n"


def test_unanswered_flags_only_the_placeholder(capsys):
    assert feedback.unanswered(None, "your number") is True
    assert "replace None with your number" in capsys.readouterr().out
    assert feedback.unanswered(0.0, "your number") is False


@pytest.mark.parametrize(
    "answer", [10000.000000000002, np.float64(1e4), np.float32(1e4), torch.tensor(1e4), 10000]
)
def test_is_close_accepts_floats_numpy_and_tensor_scalars(answer):
    assert feedback.is_close(answer, 100 / (0.01 / 0.1) ** 2)


def test_is_close_is_relative_and_rejects_non_finite():
    assert feedback.is_close(1.0 + 1e-7, 1.0) and not feedback.is_close(1.0 + 1e-5, 1.0)
    assert not feedback.is_close(float("nan"), 0.0)
    assert feedback.is_close(1e-9, 0.0, atol=1e-6)


@pytest.mark.parametrize("bad", ["2.5", [1.0, 2.0], torch.ones(2), True])
def test_as_float_names_a_non_number(bad):
    with pytest.raises(TypeError, match="answer must be"):
        feedback.as_float(bad)


def test_call_student_returns_a_tensor_or_a_hint():
    got = feedback.call_student(lambda a, b: [a, b], 1, 2)
    assert torch.equal(got, torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert feedback.call_student(lambda: 3, dtype=torch.float32).dtype == torch.float32
    empty = feedback.call_student(lambda: None)
    assert empty == "your function returns None; write its body."
    assert isinstance(empty, feedback.NoAnswer)  # printed as "No answer yet", not "Not yet"
    assert feedback.call_student(lambda: None, none_hint="return z.").endswith("None; return z.")
    assert feedback.call_student(lambda: 1 / 0) == (
        "your function raised ZeroDivisionError: division by zero"
    )
    assert feedback.call_student(lambda: "text").startswith("your function raised")


interpolate = latent.interpolate  # a name imported into the "notebook" namespace


def test_refuse_shortcut_catches_module_and_imported_names():
    def via_module(z0, z1):
        return latent.interpolate(z0, z1, 3)

    def via_name(z0, z1):
        return interpolate(z0, z1, 3)

    z0, z1 = torch.zeros(2), torch.ones(2)
    for fn in (via_module, via_name):
        with feedback.refuse_shortcut(fn, (latent, "interpolate")):
            hint = feedback.call_student(fn, z0, z1)
        assert isinstance(hint, str) and hint.startswith("write it yourself")
        assert "vaelib.latent.interpolate" in hint
    assert latent.interpolate is interpolate  # restored
    assert torch.is_tensor(via_name(z0, z1))


def test_refuse_shortcut_refuses_the_library_function_passed_itself():
    with feedback.refuse_shortcut(latent.interpolate, (latent, "interpolate")) as student:
        hint = feedback.call_student(student, torch.zeros(2), torch.ones(2), 3)
    assert isinstance(hint, str) and hint.startswith("write it yourself")
    assert torch.is_tensor(latent.interpolate(torch.zeros(2), torch.ones(2), 3))  # restored


def test_as_floats_takes_pairs_in_any_container():
    for pair in [
        (1, 2.0),
        [np.float32(1), torch.tensor(2.0)],
        np.array([1.0, 2.0]),
        torch.tensor([1, 2]),
    ]:
        assert feedback.as_floats(pair, 2) == [1.0, 2.0]
    for bad in [1.0, (1.0,), (1.0, 2.0, 3.0), "12", (1.0, "2")]:
        with pytest.raises(TypeError, match="must be"):
            feedback.as_floats(bad, 2)


def _every_check():
    import importlib
    import inspect
    import pkgutil

    import vaelib.exercises as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name == "feedback":
            continue
        module = importlib.import_module(f"vaelib.exercises.{info.name}")
        for name, check in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("check_") and check.__module__ == module.__name__:
                first = next(iter(inspect.signature(check).parameters.values()))
                yield f"{info.name}.{name}", check, "Callable" in str(first.annotation)


@pytest.mark.parametrize(("name", "check", "takes_function"), list(_every_check()))
def test_every_unanswered_exercise_says_no_answer_yet_in_one_voice(name, check, takes_function,
                                                                   capsys):  # fmt: skip
    """The untouched placeholder (None) and a function whose body returns None say the same
    "No answer yet: ..., then run the cell again.", never the wrong answer's "Not yet"."""
    stub = (lambda *args, **kwargs: None) if takes_function else None
    assert check(stub) is False
    out = capsys.readouterr().out.strip()
    assert out.startswith("No answer yet: ") and out.endswith("then run the cell again."), out
    assert len(out.splitlines()) == 1
