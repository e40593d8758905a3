"""vaelib.validate: the shared checks, each on a good input (returned as is) and the bad ones
(the error names the argument and the fix)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaelib import validate as check


def test_floating_accepts_floats_and_refuses_integers_and_half_unless_asked():
    x = torch.zeros(2)
    assert check.floating(x, "x") is x
    with pytest.raises(TypeError, match="uint8 .*to_float"):
        check.floating(torch.zeros(2, dtype=torch.uint8), "x")
    with pytest.raises(TypeError, match=r"x must be a floating-point tensor, got torch.int64"):
        check.floating(torch.zeros(2, dtype=torch.int64), "x")
    with pytest.raises(TypeError, match="half precision"):
        check.floating(torch.zeros(2, dtype=torch.bfloat16), "x")
    assert (
        check.floating(torch.zeros(2, dtype=torch.bfloat16), "x", half=True).dtype == torch.bfloat16
    )
    with pytest.raises(ValueError, match="torch.as_tensor"):  # InputTypeError is a ValueError too
        check.floating([0.0], "x")


def test_codes_are_n_by_d_with_the_right_d():
    z = torch.zeros(3, 2)
    assert check.codes(z) is z and check.codes(z, dim=2) is z
    with pytest.raises(ValueError, match=r"z must have shape \(N, 3\) with N >= 1, got \(3, 2\)"):
        check.codes(z, dim=3)
    with pytest.raises(ValueError, match=r"codes must have shape \(N, D\)"):
        check.codes(torch.zeros(4), "codes")
    with pytest.raises(ValueError, match=r"N >= 2"):
        check.codes(torch.zeros(1, 2), minimum=2)
    with pytest.raises(TypeError, match="floating-point"):
        check.codes(torch.zeros(3, 2, dtype=torch.int32))


def test_posterior_is_a_pair_of_equal_n_by_d_tensors():
    check.posterior(torch.zeros(3, 2), torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"mu \(3, 2\) and logvar \(3, 1\) must both have shape"):
        check.posterior(torch.zeros(3, 2), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="must both have shape"):
        check.posterior(torch.zeros(3), torch.zeros(3))
    with pytest.raises(TypeError, match="must be tensors .*logvar is ndarray"):
        check.posterior(torch.zeros(3, 2), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"q_mu \(0, 2\)"):
        check.posterior(torch.zeros(0, 2), torch.zeros(0, 2), ("q_mu", "q_logvar"))


def test_rows_counts_the_rows():
    assert check.rows(torch.zeros(5, 1, 2, 2), "images") == 5
    with pytest.raises(ValueError, match=r"images must have shape \(N, ...\) with N >= 2"):
        check.rows(torch.zeros(1, 3), "images", 2)
    with pytest.raises(TypeError, match="images must be a floating-point tensor, got list"):
        check.rows([1, 2], "images")


def test_integer_and_number():
    assert check.integer(3, "k") == 3 and check.integer(np.int64(3), "k") == 3
    for bad in (2.0, True, "3"):
        with pytest.raises(TypeError, match="k must be a positive int"):
            check.integer(bad, "k")
    with pytest.raises(ValueError, match="k must be a positive int"):
        check.integer(0, "k")
    assert check.integer(0, "step", 0) == 0
    assert check.number(torch.tensor(0.5), "beta") == 0.5
    with pytest.raises(ValueError, match="beta must be a finite number"):
        check.number(float("nan"), "beta")
    with pytest.raises(ValueError, match="beta must be a non-negative number"):
        check.number(-1, "beta", minimum=0)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        check.number(0.0, "lr", minimum=0, strict=True)


def test_same_shape_never_broadcasts_and_unit_interval():
    with pytest.raises(ValueError, match=r"x has shape \(1, 2\) but y has shape \(3, 2\)"):
        check.same_shape(torch.zeros(1, 2), torch.zeros(3, 2), ("x", "y"))
    check.unit_interval(torch.tensor([0.0, 1.0]), "x")
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\]"):
        check.unit_interval(torch.tensor([0.0, 255.0]), "x")
