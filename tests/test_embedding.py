"""Tests for analysis.embedding: t-SNE (openTSNE on the CPU, exact PyTorch
t-SNE on "torch-cpu" / CUDA), PCA, separation metrics, samples.

Small data only (a few hundred points): the file runs in well under a minute
on 2 cores. CUDA tests are marked ``cuda`` and skipped without a GPU."""

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_blobs
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.manifold import trustworthiness as sk_trustworthiness

import analysis.embedding as em
from analysis.embedding import (
    knn_accuracy,
    max_perplexity,
    pca,
    pca_map,
    sample_size_bounds,
    stratified_sample,
    torch_backend,
    trustworthiness,
    tsne,
    tsne_map,
)
from analysis.embedding import opentsne_backend as ot


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # The "torch-cpu" back end is a test/debug path. On a shared 2-core machine
    # two threads that meet at barriers can run 5-10x slower than one when
    # another process holds a core; one thread keeps this file fast and steady.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _sklearn_tsne(x):
    """scikit-learn's TSNE with its defaults (seeded), on one OpenMP thread
    (same reason as above; its result does not depend on the thread count)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return TSNE(random_state=0).fit_transform(x)


@pytest.fixture(scope="module")
def blobs():
    x, y = make_blobs(n_samples=200, n_features=10, centers=4, random_state=0)
    return x, y


@pytest.fixture(scope="module")
def digits400():
    x, y = load_digits(return_X_y=True)  # 8x8 images: 64 values (> 50) per point
    idx = stratified_sample(y, 400, random_state=0)
    return x[idx], y[idx]


# ---------------------------------------------------------------- t-SNE basics


@pytest.mark.parametrize("device", ["cpu", "torch-cpu"])
def test_tsne_shape_dtype_and_determinism(blobs, device):
    x, _ = blobs
    a = tsne(x, perplexity=15, n_iter=200, random_state=3, device=device)
    b = tsne(x, perplexity=15, n_iter=200, random_state=3, device=device)
    c = tsne(x, perplexity=15, n_iter=200, random_state=4, device=device)
    assert a.shape == (200, 2) and a.dtype == np.float32
    assert np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)  # same seed, same device: same map
    assert not np.array_equal(a, c)


def test_tsne_accepts_lists_ints_and_float32(blobs):
    x, _ = blobs
    ref = tsne(x, perplexity=10, n_iter=60, device="cpu")
    as_f32 = tsne(x.astype(np.float32), perplexity=10, n_iter=60, device="cpu")
    assert as_f32.shape == ref.shape
    from_list = tsne(np.round(x).astype(int).tolist(), perplexity=10, n_iter=60, device="cpu")
    assert from_list.shape == (200, 2)


def test_tsne_map_does_not_depend_on_thread_count(blobs):
    # choose_n_jobs picks the thread count from the machine's load: the map must not change.
    x, _ = blobs
    maps = []
    for n_jobs in (1, 2):
        maps.append(tsne(x, perplexity=15, n_iter=120, device="cpu", n_jobs=n_jobs))
    np.testing.assert_array_equal(maps[0], maps[1])


def test_n_jobs_is_at_least_one_and_at_most_the_cores():
    import os

    assert ot.choose_n_jobs(200) == 1  # small maps: one thread
    assert 1 <= ot.choose_n_jobs(5_000) <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize("busy, expected", [(0.0, 4), (0.2, 4), (0.3, 3), (1.0, 3), (1.3, 2), (3.9, 1), (None, 4)])
def test_n_jobs_leaves_busy_cores_alone(monkeypatch, busy, expected):
    monkeypatch.setattr(ot.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(ot, "busy_cores", lambda window=0.1: busy)
    assert ot.choose_n_jobs(5_000) == expected
    assert ot.choose_n_jobs(500) == 1


def test_n_jobs_given_is_used_and_checked():
    assert ot.choose_n_jobs(200, n_jobs=3) == 3
    with pytest.raises(ValueError, match="n_jobs must be a whole number of at least 1"):
        ot.choose_n_jobs(5_000, n_jobs=0)


def test_busy_cores_reads_proc_stat(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    # cpu user nice system idle iowait ...: 1,000 ticks, 800 idle
    stat.write_text("cpu  100 0 100 700 100 0 0 0 0 0\n")

    def sleep(_seconds):  # the next snapshot: 1,000 more ticks, 500 of them idle
        stat.write_text("cpu  400 0 300 1100 200 0 0 0 0 0\n")

    monkeypatch.setattr(ot.time, "sleep", sleep)
    monkeypatch.setattr(ot.os, "cpu_count", lambda: 4)
    assert ot.busy_cores(0.1, str(stat)) == pytest.approx(0.5 * 4)
    assert ot.busy_cores(0.1, str(tmp_path / "missing")) is None


def test_busy_cores_reads_this_machine():
    import os

    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc/stat here")
    busy = ot.busy_cores(0.02)
    assert isinstance(busy, float) and busy >= 0.0


def test_tsne_separates_blobs(blobs):
    x, y = blobs
    emb = tsne(x, perplexity=20, n_iter=300, device="cpu")
    assert knn_accuracy(emb, y) > 0.95
    assert trustworthiness(x, emb) > 0.9


def test_tsne_small_dimensions_and_one_feature():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (30, 1)), rng.normal(8, 1, (30, 1))])
    emb = tsne(x, perplexity=5, n_iter=100, device="cpu")  # 1 value per point: random 2nd axis
    assert emb.shape == (60, 2) and np.isfinite(emb).all()


def test_tsne_duplicates_are_fine():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(20, 5))
    x = np.concatenate([base, base, base])  # every point three times
    for device in ("cpu", "torch-cpu"):
        emb = tsne(x, perplexity=5, n_iter=100, device=device)
        assert np.isfinite(emb).all()


# ---------------------------------------------------------------- progress & stop


@pytest.mark.parametrize("device", ["cpu", "torch-cpu"])
def test_on_progress_is_called_with_copies(blobs, device):
    x, _ = blobs
    calls = []

    def record(iteration, embedding):
        calls.append((iteration, embedding))
        embedding[:] = 1e6  # must not disturb the optimisation: it is a copy

    plain = tsne(x, perplexity=15, n_iter=150, device=device)
    emb = tsne(x, perplexity=15, n_iter=150, on_progress=record, device=device, progress_every=25)
    its = [i for i, _ in calls]
    assert len(its) >= 4 and its == sorted(its) and 1 <= its[0] and its[-1] <= 150
    for _, e in calls:
        assert e.shape == (200, 2) and e.dtype == np.float32
    # returning None means "go on", and reporting does not change the result
    np.testing.assert_array_equal(emb, plain)


@pytest.mark.parametrize("device", ["cpu", "torch-cpu"])
def test_returning_false_stops_early_with_the_map_so_far(blobs, device):
    x, _ = blobs
    seen = []

    def stop_at_second(iteration, embedding):
        seen.append((iteration, embedding.copy()))
        return len(seen) < 2  # False on the second call

    full = tsne(x, perplexity=15, n_iter=300, device=device)
    part = tsne(x, perplexity=15, n_iter=300, on_progress=stop_at_second, device=device, progress_every=25)
    assert len(seen) == 2 and seen[-1][0] < 300
    assert part.shape == (200, 2) and part.dtype == np.float32
    np.testing.assert_array_equal(part, seen[-1][1])
    assert not np.array_equal(part, full)


def test_stop_during_the_second_phase(blobs):
    x, _ = blobs
    its = []

    def stop_at_150(iteration, embedding):
        its.append(iteration)
        return False if iteration >= 150 else True

    part = tsne(x, perplexity=15, n_iter=300, on_progress=stop_at_150, device="cpu")
    assert its[-1] >= 150 and its[-1] < 300 and part.shape == (200, 2)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(perplexity=70), r"largest perplexity allowed for 200 points is 66\.6"),
        (dict(perplexity=200 / 3), r"too large for 200 points"),
        (dict(perplexity=0), r"perplexity must be a finite number >= 1"),
        (dict(perplexity=float("nan")), r"perplexity must be a finite number"),
        (dict(perplexity="30"), r"perplexity must be a number"),
        (dict(n_iter=0), r"n_iter must be a whole number of at least 1"),
        (dict(n_iter=10.5), r"n_iter must be a whole number"),
        (dict(n_iter=True), r"n_iter must be a whole number"),
        (dict(random_state=-1), r"random_state must be between"),
        (dict(random_state="seed"), r"random_state must be a whole number"),
        (dict(on_progress=42), r"on_progress must be a function"),
        (dict(device="tpu"), r"device must be one of"),
        (dict(progress_every=0), r"progress_every must be a whole number of at least 1"),
    ],
)
def test_tsne_bad_arguments(kwargs, match):
    x = np.random.default_rng(0).normal(size=(200, 4))
    with pytest.raises(ValueError, match=match):
        tsne(x, **kwargs)


@pytest.mark.parametrize(
    "features, match",
    [
        (np.full((20, 3), np.nan), r"must be finite; 20 of 20 rows"),
        (np.vstack([np.ones((19, 3)) * np.arange(19)[:, None], [[np.inf, 0, 0]]]), r"1 of 20 rows"),
        (np.random.default_rng(0).normal(size=(4, 3)), r"at least 5 points"),
        (np.arange(30.0), r"must be 2-D .* got 1-D"),
        (np.zeros((10, 3, 3)), r"got 3-D.*reshape"),
        (np.zeros((10, 0)), r"at least one value per point"),
        (np.array([["a", "b"]] * 10), r"must hold numbers"),
        (np.ones((10, 3)), r"all 10 points are identical"),
        (None, r"got None"),
        ([[1, 2], [3]], r"2-D numeric array"),
    ],
)
def test_tsne_bad_features(features, match):
    with pytest.raises(ValueError, match=match):
        tsne(features, perplexity=1)


def test_perplexity_limit_matches_message():
    assert max_perplexity(60) == 19.9
    assert max_perplexity(30) == 9.9
    assert max_perplexity(31) == 10.3
    x = np.random.default_rng(0).normal(size=(30, 3))
    tsne(x, perplexity=max_perplexity(30), n_iter=20, device="cpu")  # the limit itself works
    tsne(x, perplexity=max_perplexity(30), n_iter=20, device="torch-cpu")


def test_cuda_request_without_gpu_is_a_clear_error():
    if _cuda():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        tsne(np.random.default_rng(0).normal(size=(20, 3)), perplexity=3, device="cuda")
    assert em.resolve_device("auto") == "cpu"


# ---------------------------------------------------------------- PCA-to-50 path


def test_reduce_projects_wide_data_to_50_pca_dimensions():
    x = np.random.default_rng(0).normal(size=(300, 80)) @ np.diag(np.linspace(1, 3, 80))
    z = tsne_map.reduce(x)
    assert z.shape == (300, 50)
    ref = PCA(50, svd_solver="full").fit_transform(x)
    np.testing.assert_allclose(np.abs(z), np.abs(ref), atol=1e-8)


def test_reduce_keeps_narrow_data_distances():
    from scipy.spatial.distance import pdist

    x = np.random.default_rng(1).normal(size=(100, 7))
    z = tsne_map.reduce(x)
    assert z.shape == (100, 7)
    np.testing.assert_allclose(pdist(z), pdist(x), rtol=1e-9)


def test_tsne_reduces_wide_input_before_the_map(digits400, monkeypatch):
    x, _ = digits400
    widths = []
    original = pca_map.pca64

    def spy(data, k):
        widths.append((data.shape[1], k))
        return original(data, k)

    monkeypatch.setattr(pca_map, "pca64", spy)
    emb = tsne(x, n_iter=30, device="cpu")
    assert emb.shape == (400, 2)
    assert (64, 50) in widths


def test_initial_layout_is_scaled_pca():
    z = tsne_map.reduce(np.random.default_rng(2).normal(size=(100, 6)) * [5, 3, 1, 1, 1, 1])
    init = tsne_map.initial_layout(z, seed=0)
    assert init.shape == (100, 2)
    assert np.std(init[:, 0]) == pytest.approx(1e-4, rel=0.01)
    assert abs(np.corrcoef(init[:, 0], z[:, 0])[0, 1]) > 0.99


# ---------------------------------------------------------------- exact t-SNE in PyTorch


def test_torch_affinities_and_gradient_match_scikit_learn():
    torch = pytest.importorskip("torch")
    from scipy.spatial.distance import pdist, squareform

    try:
        from sklearn.manifold._t_sne import _joint_probabilities, _kl_divergence
    except ImportError:  # private scikit-learn API moved
        pytest.skip("scikit-learn's private t-SNE helpers are not available")
    rng = np.random.RandomState(0)
    x, y = rng.normal(size=(60, 5)), rng.normal(size=(60, 2))
    p_sk = squareform(_joint_probabilities(squareform(pdist(x, "sqeuclidean")), 10.0, 0))
    p = torch_backend.joint_probabilities(x, 10.0, torch, torch.device("cpu")).double().numpy()
    np.testing.assert_allclose(p, p_sk, rtol=1e-4, atol=1e-9)
    _, g_sk = _kl_divergence(y.ravel(), squareform(p_sk, checks=False), 1, 60, 2)
    g = torch_backend.kl_gradient(torch.tensor(p_sk), torch.tensor(y), torch.ones(60, 1, dtype=torch.float64))
    np.testing.assert_allclose(g.numpy().ravel(), g_sk, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("device", ["torch-cpu", "cpu"])  # the exact PyTorch t-SNE, openTSNE
def test_tsne_trustworthiness_close_to_scikit_learn(digits400, device):
    x, _ = digits400
    ours = tsne(x, device=device)
    reference = _sklearn_tsne(x)
    t_ours, t_ref = trustworthiness(x, ours), trustworthiness(x, reference)
    assert t_ours >= t_ref - 0.01, (t_ours, t_ref)


@pytest.mark.cuda
@pytest.mark.skipif(not _cuda(), reason="needs a CUDA GPU")
def test_cuda_tsne_deterministic_and_good(digits400):
    x, _ = digits400
    assert em.resolve_device("auto") == "cuda"
    a = tsne(x, device="cuda")
    b = tsne(x)  # auto picks the GPU
    np.testing.assert_array_equal(a, b)
    assert a.shape == (400, 2) and a.dtype == np.float32
    reference = _sklearn_tsne(x)
    assert trustworthiness(x, a) >= trustworthiness(x, reference) - 0.01
    cpu = tsne(x, device="torch-cpu")
    assert abs(trustworthiness(x, cpu) - trustworthiness(x, a)) < 0.01


@pytest.mark.cuda
@pytest.mark.skipif(not _cuda(), reason="needs a CUDA GPU")
def test_cuda_tsne_progress_and_stop(digits400):
    x, _ = digits400
    seen = []
    part = tsne(x, device="cuda", on_progress=lambda i, e: seen.append(e) or len(seen) < 3)
    assert len(seen) == 3
    np.testing.assert_array_equal(part, seen[-1])


# ---------------------------------------------------------------- PCA


@pytest.mark.parametrize("shape", [(300, 20), (40, 100)])  # tall (covariance) and wide (SVD)
def test_pca_matches_scikit_learn(shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape) @ np.diag(np.linspace(1, 4, shape[1]))
    coords, ratio = pca(x, n_components=3)
    ref = PCA(3, svd_solver="full").fit(x)
    ref_coords = ref.transform(x)
    assert coords.shape == (shape[0], 3) and coords.dtype == np.float32
    assert ratio.shape == (3,)
    np.testing.assert_allclose(ratio, ref.explained_variance_ratio_, rtol=1e-6)
    for j in range(3):  # up to the sign of each component
        sign = np.sign(np.dot(coords[:, j], ref_coords[:, j]))
        np.testing.assert_allclose(sign * coords[:, j], ref_coords[:, j], rtol=1e-4, atol=1e-4)
    again, _ = pca(x, n_components=3)
    np.testing.assert_array_equal(coords, again)


def test_pca_default_two_components_and_errors():
    x = np.random.default_rng(0).normal(size=(50, 5))
    coords, ratio = pca(x)
    assert coords.shape == (50, 2) and ratio.shape == (2,) and 0 < ratio.sum() <= 1
    with pytest.raises(ValueError, match=r"at most min\(points, dimensions\) = 5"):
        pca(x, n_components=6)
    with pytest.raises(ValueError, match="n_components must be a whole number of at least 1"):
        pca(x, n_components=0)
    with pytest.raises(ValueError, match="must be finite"):
        pca(np.where(x > 2, np.nan, x))
    with pytest.raises(ValueError, match="at least 2 points"):
        pca(x[:1])
    with pytest.raises(ValueError, match="must be 2-D"):
        pca(x[0])


def test_pca_constant_features_give_zero_ratio_not_nan():
    x = np.zeros((10, 3))
    x[:, 0] = np.arange(10)
    _, ratio = pca(x, n_components=2)
    assert np.isfinite(ratio).all() and ratio[0] == pytest.approx(1.0)


# ---------------------------------------------------------------- metrics


def test_trustworthiness_equals_scikit_learn(digits400):
    x, _ = digits400
    emb = PCA(2).fit_transform(x)
    for k in (5, 10):
        assert trustworthiness(x, emb, k=k) == sk_trustworthiness(x, emb, n_neighbors=k)
    assert trustworthiness(x.tolist(), emb.astype(np.float32)) == pytest.approx(
        sk_trustworthiness(x, emb.astype(np.float32), n_neighbors=10)
    )


def test_trustworthiness_errors(digits400):
    x, _ = digits400
    emb = x[:, :2]
    with pytest.raises(ValueError, match="same points"):
        trustworthiness(x, emb[:-1])
    with pytest.raises(ValueError, match="less than half"):
        trustworthiness(x[:20], emb[:20], k=10)
    with pytest.raises(ValueError, match="k must be a whole number of at least 1"):
        trustworthiness(x, emb, k=0)
    with pytest.raises(ValueError, match="embedding must be finite"):
        trustworthiness(x, np.full_like(emb, np.nan))


def test_knn_accuracy_separable_and_chance():
    x, y = make_blobs(n_samples=500, centers=5, n_features=8, cluster_std=0.5, random_state=1)
    assert knn_accuracy(x, y) > 0.98
    shuffled = np.random.default_rng(0).permutation(y)
    acc = knn_accuracy(x, shuffled)
    assert abs(acc - 0.2) < 0.08  # chance for 5 balanced classes
    assert knn_accuracy(x, y, random_state=1) == pytest.approx(knn_accuracy(x, y, random_state=1))


def test_knn_accuracy_errors_and_small_classes():
    x = np.random.default_rng(0).normal(size=(30, 3))
    y = np.array([0] * 27 + [1] * 3)  # a class smaller than the 5 folds still works
    assert 0 <= knn_accuracy(x, y, k=3) <= 1
    with pytest.raises(ValueError, match="one label per point"):
        knn_accuracy(x, y[:-1])
    with pytest.raises(ValueError, match="at least 2 different classes"):
        knn_accuracy(x, np.zeros(30))
    with pytest.raises(ValueError, match="k must be at most 24"):
        knn_accuracy(x, y, k=25)
    with pytest.raises(ValueError, match="at least 10 points"):
        knn_accuracy(x[:5], y[:5])


# ---------------------------------------------------------------- samples


def test_stratified_sample_keeps_shares():
    y = np.repeat(np.arange(10), [500, 400, 300, 200, 100, 100, 100, 100, 100, 100])
    idx = stratified_sample(y, 200, random_state=0)
    assert len(idx) == 200 and len(np.unique(idx)) == 200
    assert np.all(np.diff(idx) > 0) and idx.dtype == np.int64
    counts = np.bincount(y[idx], minlength=10)
    expected = np.bincount(y, minlength=10) * 200 / len(y)
    assert np.all(np.abs(counts - expected) <= 1)
    np.testing.assert_array_equal(idx, stratified_sample(y, 200, random_state=0))
    assert not np.array_equal(idx, stratified_sample(y, 200, random_state=1))


def test_stratified_sample_caps_and_odd_inputs():
    y = np.array(["a", "b", "b", "c", "c", "c"])
    np.testing.assert_array_equal(stratified_sample(y, 100), np.arange(6))
    idx = stratified_sample(y, 3, random_state=0)
    assert len(idx) == 3 and (y[idx] == "b").sum() == 1  # quotas 0.5, 1, 1.5
    assert len(stratified_sample(y, 1)) == 1
    with pytest.raises(ValueError, match="n must be a whole number of at least 1"):
        stratified_sample(y, 0)
    with pytest.raises(ValueError, match="1-D"):
        stratified_sample(np.zeros((3, 3)), 2)
    with pytest.raises(ValueError, match="empty"):
        stratified_sample([], 2)


def test_sample_size_bounds():
    assert sample_size_bounds(10_000, gpu=False) == (500, 2_000, 5_000)
    assert sample_size_bounds(60_000, gpu=True) == (500, 2_000, 20_000)
    assert sample_size_bounds(300, gpu=True) == (300, 300, 300)
    assert sample_size_bounds(1_000, gpu=False, cpu_cap=800) == (500, 800, 800)
