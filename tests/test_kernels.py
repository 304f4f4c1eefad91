"""Kernel presets and the parser for typed kernels."""
import numpy as np
import pytest

from analysis import kernels


def test_lecture_kernels():
    np.testing.assert_array_equal(kernels.preset_kernel("Box blur", 3), np.full((3, 3), 1 / 9))
    np.testing.assert_array_equal(kernels.preset_kernel("Horizontal edge"), [[-1, -1, -1], [2, 2, 2], [-1, -1, -1]])


@pytest.mark.parametrize("name", list(kernels.PRESETS))
def test_every_preset_has_an_explanation_and_an_odd_kernel(name):
    assert kernels.PRESETS[name].explanation.endswith(".")
    k = kernels.preset_kernel(name, 5)
    assert k.shape[0] % 2 == 1 and k.shape[1] % 2 == 1


@pytest.mark.parametrize("size", [3, 15, 31])
def test_blurs_sum_to_one(size):
    assert kernels.box_kernel(size).sum() == pytest.approx(1)
    g = kernels.gaussian_kernel(size)
    assert g.sum() == pytest.approx(1) and g[size // 2, size // 2] == g.max()


def test_gaussian_matches_opencv():
    cv2 = pytest.importorskip("cv2")
    g = cv2.getGaussianKernel(11, 1.7)
    np.testing.assert_allclose(kernels.gaussian_kernel(11, 1.7), g @ g.T, atol=1e-9)


def test_parse_kernel_reads_numbers_and_fractions():
    k = kernels.parse_kernel("1/9 1/9 1/9\n1/9 1/9 1/9\n 1/9, 1/9, 1/9 ")
    np.testing.assert_allclose(k, np.full((3, 3), 1 / 9))
    assert kernels.parse_kernel("-1 -1 -1; 2 2 2; -1 -1 -1")[1, 1] == 2
    assert kernels.parse_kernel("[0.5 1e-3 −2]").tolist() == [[0.5, 0.001, -2]]


def test_format_round_trips():
    for k in [kernels.box_kernel(3), kernels.gaussian_kernel(5), kernels.preset_kernel("Emboss")]:
        np.testing.assert_allclose(kernels.parse_kernel(kernels.format_kernel(k)), k, rtol=1e-5)


@pytest.mark.parametrize("text,words", [
    ("", "empty"),
    ("1 2\n3 4", "odd"),
    ("1 2 3\n4 5", "same number"),
    ("1 x 1", "not a number"),
    ("__import__('os')", "not a number"),
    ("1 2**10 3", "not a number"),
    ("1 nan 1", "not a number"),
    ("1 inf 1", "not a number"),
    ("1 1/0 1", "divides by zero"),
    ("1e400 0 0", "too large"),
    ("1 1e31 1", "too large"),
    ("9" * 5000, "not a number"),
    ("\n".join(["1 " * 33] * 33), "largest"),
])
def test_parse_kernel_refuses_bad_text(text, words):
    with pytest.raises(ValueError, match=words):
        kernels.parse_kernel(text)


def test_normalise():
    np.testing.assert_allclose(kernels.normalise(np.ones((3, 3))), np.full((3, 3), 1 / 9))
    with pytest.raises(ValueError, match="sums to 0"):
        kernels.normalise(kernels.preset_kernel("Horizontal edge"))


@pytest.mark.parametrize("size", [0, 2, 33, 3.0, True, np.float64(3)])
def test_bad_sizes(size):
    with pytest.raises(ValueError, match="odd"):
        kernels.box_kernel(size)
