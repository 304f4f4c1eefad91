"""convolve against SciPy's reference correlation, and every refusal."""
import numpy as np
import pytest
from scipy import ndimage, signal

from analysis.convolution import convolve, explain_pixel, output_size, plan, separate
from analysis.kernels import box_kernel, gaussian_kernel, preset_kernel


def reference(image, kernel, padding, stride, flip):
    """SciPy's correlate2d per channel (zero fill), then strided."""
    k = kernel[::-1, ::-1] if flip else kernel
    img = image.astype(np.float64)
    chans = [img] if img.ndim == 2 else [img[:, :, c] for c in range(img.shape[2])]
    out = [signal.correlate2d(c, k, mode=padding, boundary="fill") for c in chans]
    out = out[0] if img.ndim == 2 else np.stack(out, axis=2)
    return out[::stride, ::stride]


def tolerance(image, kernel):
    return 1e-5 * np.abs(kernel).sum() * max(1.0, float(np.abs(image).max()))


@pytest.mark.parametrize("seed", range(40))
def test_matches_scipy_on_random_images_and_kernels(seed):
    rng = np.random.default_rng(seed)
    kh, kw = rng.choice([1, 3, 5, 7, 9], size=2)
    h, w = rng.integers(max(kh, 9), 40), rng.integers(max(kw, 9), 40)
    shape = (h, w) if seed % 3 == 0 else (h, w, int(rng.choice([1, 3, 4, 5])))
    image = (rng.random(shape) * 255).astype(np.uint8 if seed % 2 else np.float32)
    kernel = rng.standard_normal((kh, kw))
    for padding in ("valid", "same"):
        for stride in (1, 2, 3):
            for flip in (False, True):
                got = convolve(image, kernel, padding, stride, flip)
                want = reference(image, kernel, padding, stride, flip)
                assert got.dtype == np.float32
                assert got.shape == want.shape
                np.testing.assert_allclose(got, want, rtol=0, atol=tolerance(image, kernel))


@pytest.mark.parametrize("kernel", [box_kernel(15), gaussian_kernel(15), box_kernel(31), gaussian_kernel(9),
                                    preset_kernel("Sobel x"), np.outer([1, 2, 1, 2, 1], [1, -1, 0, 1, 3])],
                         ids=["box15", "gauss15", "box31", "gauss9", "sobel", "rank1-5x5"])
def test_every_fast_path_matches_ndimage(kernel):
    rng = np.random.default_rng(1)
    image = (rng.random((64, 80, 3)) * 255).astype(np.uint8)
    got = convolve(image, kernel, "same")
    want = np.stack(
        [ndimage.correlate(image[:, :, c].astype(np.float64), kernel, mode="constant") for c in range(3)], 2
    )
    np.testing.assert_allclose(got, want, rtol=0, atol=tolerance(image, kernel))


def test_lecture_kernels_on_a_tiny_image():
    image = np.array([[0, 0, 0, 0], [9, 9, 9, 9], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=np.float32)
    edge = convolve(image, preset_kernel("Horizontal edge"))
    assert edge.tolist() == [[54, 54], [-27, -27]]  # 3·2·9 on the line, 3·(−1)·9 beside it
    blur = convolve(image, box_kernel(3))
    np.testing.assert_allclose(blur, [[3, 3], [3, 3]], atol=1e-5)


def test_flip_is_true_convolution():
    rng = np.random.default_rng(2)
    image, kernel = rng.random((20, 20)), rng.random((3, 5))
    got = convolve(image, kernel, "same", flip=True)
    np.testing.assert_allclose(got, signal.convolve2d(image, kernel, mode="same"), atol=1e-5)


@pytest.mark.parametrize(
    "h,w,k,padding,stride",
    [
        (300, 400, 3, "valid", 1),
        (300, 400, 3, "same", 1),
        (300, 400, 5, "valid", 2),
        (7, 9, 3, "same", 4),
        (3, 3, 3, "valid", 3),
    ],
)
def test_output_size_formula(h, w, k, padding, stride):
    p = 0 if padding == "valid" else (k - 1) // 2
    want = ((h + 2 * p - k) // stride + 1, (w + 2 * p - k) // stride + 1)
    assert output_size(h, w, (k, k), padding, stride) == want
    assert convolve(np.zeros((h, w)), np.ones((k, k)), padding, stride).shape == want


def test_separability_detection():
    assert plan(box_kernel(15)).method == "box"
    assert plan(gaussian_kernel(15)).method == "separable"
    assert separate(preset_kernel("Horizontal edge")) is not None  # [-1 2 -1]ᵀ × [1 1 1]
    assert separate(preset_kernel("Sobel y")) is not None
    assert separate(preset_kernel("Sharpen")) is None
    assert separate(np.random.default_rng(0).standard_normal((15, 15))) is None
    assert plan(np.random.default_rng(0).standard_normal((15, 15))).method == "direct"
    col, row = separate(gaussian_kernel(7))
    np.testing.assert_allclose(np.outer(col, row), gaussian_kernel(7), atol=1e-12)


@pytest.mark.parametrize("image,kernel,kwargs,words", [
    (np.zeros((10, 10)), np.ones((2, 3)), {}, "odd"),
    (np.zeros((10, 10)), np.ones((3, 3)), {"padding": "full"}, "padding"),
    (np.zeros((10, 10)), np.ones((3, 3)), {"stride": 0}, "stride"),
    (np.zeros((10, 10)), np.ones((3, 3)), {"stride": 1.5}, "stride"),
    (np.zeros((10, 10)), np.array([[np.nan]]), {}, "NaN"),
    (np.zeros((10, 10)), np.array([[np.inf, 0, 0]]), {}, "infinity"),
    (np.zeros((2, 10)), np.ones((3, 3)), {}, "smaller than the 3×3 kernel"),
    (np.zeros((10,)), np.ones((3, 3)), {}, "H×W"),
    (np.zeros((10, 10)), np.ones((3, 3, 3)), {}, "2-D kernel"),
])
def test_bad_arguments_raise_clear_errors(image, kernel, kwargs, words):
    with pytest.raises(ValueError, match=words):
        convolve(image, kernel, **kwargs)


def test_small_image_works_with_zero_padding():
    assert convolve(np.ones((2, 2)), np.ones((5, 5)), "same").shape == (2, 2)


FIVE = np.array([[1, 2, 3, 4, 5],
                 [6, 7, 8, 9, 10],
                 [11, 12, 13, 14, 15],
                 [16, 17, 18, 19, 20],
                 [21, 22, 23, 24, 25]], dtype=float)


def test_step_through_numbers_match_hand_computed_sums():
    edge = preset_kernel("Horizontal edge")
    s = explain_pixel(FIVE, edge, 0, 0)
    # rows 1-3, cols 1-3: −(1+2+3) + 2(6+7+8) − (11+12+13) = −6 + 42 − 36 = 0
    assert s.window.tolist() == [[1, 2, 3], [6, 7, 8], [11, 12, 13]] and s.total == 0
    box = explain_pixel(FIVE, box_kernel(3), 1, 1)
    assert box.total == pytest.approx((7 + 8 + 9 + 12 + 13 + 14 + 17 + 18 + 19) / 9)  # = 13
    corner = explain_pixel(FIVE, np.ones((3, 3)), 0, 0, padding="same")
    assert corner.window.tolist() == [[0, 0, 0], [0, 1, 2], [0, 6, 7]] and corner.total == 16
    assert corner.pad == (1, 1) and corner.padded.shape == (7, 7)
    strided = explain_pixel(FIVE, np.ones((3, 3)), 1, 1, stride=2)
    assert (strided.top, strided.left) == (2, 2) and strided.total == 13 + 14 + 15 + 18 + 19 + 20 + 23 + 24 + 25
    flipped = explain_pixel(FIVE, np.arange(9.0).reshape(3, 3), 0, 0, flip=True)
    assert flipped.kernel[0, 0] == 8 and flipped.total == pytest.approx(
        np.sum(FIVE[:3, :3] * np.arange(9.0)[::-1].reshape(3, 3))
    )


@pytest.mark.parametrize("padding,stride,flip", [("valid", 1, False), ("same", 2, True), ("same", 3, False)])
def test_step_through_agrees_with_convolve(padding, stride, flip):
    rng = np.random.default_rng(3)
    image, kernel = rng.random((9, 11)), rng.standard_normal((3, 5))
    out = convolve(image, kernel, padding, stride, flip)
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            assert explain_pixel(image, kernel, r, c, padding, stride, flip).total == pytest.approx(out[r, c], abs=1e-5)


def test_step_through_refuses_positions_outside_the_output():
    with pytest.raises(ValueError, match="outside the 3×3 output"):
        explain_pixel(FIVE, np.ones((3, 3)), 3, 0)
