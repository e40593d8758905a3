import pytest
import torch

from vaelib.exercises import feedback


def test_report_and_verdict_print_and_return_the_verdict(capsys):
    assert feedback.report(True, "hint") is True
    assert feedback.report(False, "add the KL term.") is False
    assert capsys.readouterr().out == "right!\nnot yet: add the KL term.\n"
    assert feedback.verdict(True, "KL >= 0.", "") is True
    assert feedback.verdict(False, "", "use nats.") is False
    assert capsys.readouterr().out == "Right! KL >= 0.\nNot yet. use nats.\n"


def test_unanswered_flags_only_the_placeholder(capsys):
    assert feedback.unanswered(None, "your number") is True
    assert "replace None with your number" in capsys.readouterr().out
    assert feedback.unanswered(0.0, "your number") is False


def test_close_is_relative_and_rejects_non_finite():
    assert feedback.close(1000.5, 1000.0) and not feedback.close(1002.0, 1000.0)
    assert feedback.close(0.0005, 0.0) and not feedback.close(float("nan"), 0.0)


def test_as_float_names_a_non_number():
    assert feedback.as_float("2.5") == 2.5
    with pytest.raises(ValueError, match="answer must be a number, got 'two'"):
        feedback.as_float("two")


def test_call_student_returns_a_tensor_or_a_hint():
    got = feedback.call_student(lambda a, b: [a, b], 1, 2)
    assert torch.equal(got, torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert feedback.call_student(lambda: 3, dtype=torch.float32).dtype == torch.float32
    assert feedback.call_student(lambda: None) == "your function returns None: write its body."
    assert feedback.call_student(lambda: None, none_hint="return z.").endswith("None: return z.")
    assert feedback.call_student(lambda: 1 / 0) == (
        "your function raised ZeroDivisionError: division by zero"
    )
    assert feedback.call_student(lambda: "text").startswith("your function raised")
