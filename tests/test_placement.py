"""Placing new points on a map without refitting it (analysis.placement), checked against scikit-learn's
NearestNeighbors and on the map output of every back end: openTSNE (CPU), the PyTorch t-SNE of the GPU
back end (run here on the CPU: same code), a cluster job's coordinates (float32 through an .npy file, as
analysis.compute.cluster.plans reads coords.npy) and PCA."""
import io

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from analysis import embedding
from analysis.datasets import load_dataset
from analysis.models import build_model, default_config, representations
from analysis.placement import PlacementConfig, land_among, nearest, place
from analysis.room_map import agreement, place_images

N = 400


@pytest.fixture(scope="module")
def digits():
    ds = load_dataset("mnist5k")
    idx = embedding.stratified_sample(ds.labels, N, random_state=0)
    return ds.images[idx].reshape(N, -1).astype(np.float32), ds.labels[idx]


def _cluster_coords(x):
    buf = io.BytesIO()
    np.save(buf, embedding.tsne(x, 30, 300, 0, device="cpu").astype(np.float32))
    return np.load(io.BytesIO(buf.getvalue()), allow_pickle=False)


BACK_ENDS = {
    "openTSNE": lambda x: embedding.tsne(x, 30, 300, 0, device="cpu"),
    "torch (the GPU back end's code)": lambda x: embedding.tsne(x, 30, 300, 0, device="torch-cpu"),
    "cluster (coords.npy)": _cluster_coords,
    "PCA": lambda x: embedding.pca(x, 2)[0],
}


@pytest.fixture(scope="module", params=list(BACK_ENDS))
def mapped(request, digits):
    x, y = digits
    return request.param, x, y, np.asarray(BACK_ENDS[request.param](x))


def test_matches_a_weighted_mean_of_sklearn_neighbours(digits):
    x, y = digits
    coords = np.random.default_rng(0).normal(size=(N, 2))
    new = x[:25] + np.random.default_rng(1).normal(0, 0.05, size=(25, x.shape[1]))
    for k, weighting in ((1, "distance"), (7, "distance"), (7, "uniform")):
        dist, idx = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(new)
        w = np.ones_like(dist) if weighting == "uniform" else 1.0 / dist
        want = (w[..., None] * coords[idx]).sum(1) / w.sum(1, keepdims=True)
        got = place(x, coords, new, PlacementConfig(k=k, weighting=weighting))
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    ours, _ = nearest(x, new, 7)
    np.testing.assert_array_equal(ours, NearestNeighbors(n_neighbors=7).fit(x).kneighbors(new)[1])


def test_leave_out_skips_the_point_itself(digits):
    x, _ = digits
    ours, _ = nearest(x, x[:30], 5, leave_out=np.arange(30))
    ref = NearestNeighbors(n_neighbors=6).fit(x).kneighbors(x[:30])[1][:, 1:]  # the first is the point itself
    np.testing.assert_array_equal(ours, ref)


def test_the_maps_own_points_land_on_their_spots(mapped):
    """With itself among the neighbours a map point is its own exact twin: it lands on its spot (1e-9 of
    the map's extent). Placed again WITHOUT itself (leave-self-out, the honest test of the method), the
    median point lands within 6% of the map's extent of its spot (raw pixels, the hardest space: measured
    ~3% for openTSNE and the torch t-SNE, 800 digits) and far closer than a random map point (~40%)."""
    name, x, y, coords = mapped
    extent = float(np.ptp(coords, 0).max())
    again = place(x, coords, x)
    assert np.abs(again - coords).max() <= 1e-9 * extent, name
    moved = np.linalg.norm(place(x, coords, x, leave_out=np.arange(N)) - coords, axis=1) / extent
    assert np.median(moved) <= 0.06, (name, np.median(moved))
    shuffled = np.linalg.norm(coords[np.random.default_rng(0).permutation(N)] - coords, axis=1) / extent
    assert np.median(moved) < np.median(shuffled) / 4, name


@pytest.fixture(scope="module", params=list(BACK_ENDS))
def blobs_mapped(request):
    """Ten clusters in 50-D (centres 10 apart, spread 1) and their map by one back end."""
    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(10), 30)
    x = (rng.normal(0, 10 / np.sqrt(2), size=(10, 50))[y] + rng.normal(0, 1, size=(len(y), 50))).astype(np.float32)
    return request.param, x, y, np.asarray(BACK_ENDS[request.param](x))


def test_a_copy_of_a_point_of_cluster_a_lands_in_cluster_a(blobs_mapped):
    """For each cluster A: its centre is the median of its map points, its core point the one nearest
    that centre. A copy of the core's features with a little noise, placed without the core itself,
    lands nearer A's centre than any other cluster's."""
    name, x, y, coords = blobs_mapped
    centres = np.stack([np.median(coords[y == k], 0) for k in range(10)])
    rng = np.random.default_rng(2)
    landed = []
    for k in range(10):
        rows = np.flatnonzero(y == k)
        core = rows[np.argmin(np.linalg.norm(coords[rows] - centres[k], axis=1))]
        copy = x[core] + rng.normal(0, 0.1, size=x.shape[1])
        spot = place(x, coords, copy[None], leave_out=[core])[0]
        landed.append(int(np.argmin(np.linalg.norm(centres - spot, axis=1))))
    assert landed == list(range(10)), (name, landed)


@pytest.mark.parametrize("bad, words", [
    (dict(k=0), "at least 1"), (dict(k=2.5), "whole number"), (dict(weighting="gauss"), "'distance' or"),
])
def test_bad_settings_say_what_to_do(bad, words):
    with pytest.raises(ValueError, match=words):
        PlacementConfig(**bad)


def test_bad_input_says_what_was_expected():
    x, c = np.zeros((5, 3)), np.zeros((5, 2))
    with pytest.raises(ValueError, match="3 numbers per point"):
        place(x, c, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="5 rows"):
        place(x, np.zeros((4, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="at most the number of map points"):
        place(x, c, np.zeros((2, 3)), PlacementConfig(k=6))
    with pytest.raises(ValueError, match="finite"):
        place(x, c, np.full((1, 3), np.nan))
    assert place(x, c, np.zeros((0, 3))).shape == (0, 2)


def test_land_among_is_the_commonest_label_of_the_nearest_map_points():
    coords = np.array([[0, 0], [0, 1], [1, 0], [10, 10], [10, 11], [11, 10.0]])
    labels = np.array([7, 7, 1, 1, 1, 7])
    assert land_among(coords, labels, [[0.2, 0.2], [10.2, 10.3]], k=3).tolist() == [7, 1]
    assert land_among(coords, labels, [[0, 0]], k=2).tolist() == [7]


def test_room_digits_through_a_model_land_where_their_layer_puts_them(digits):
    x, y = digits
    model = build_model(default_config("mlp"), (28, 28), 10, seed=0)
    images = x.reshape(-1, 28, 28)
    feats = representations(model, images[:300])["pixels"]
    coords = embedding.pca(feats, 2)[0]
    placed = place_images(model, "pixels", feats, coords, y[:300], images[300:320])
    np.testing.assert_allclose(placed.spots, place(feats, coords, x[300:320]), atol=1e-6)
    assert agreement(y[300:320], placed.among) == {
        int(k): (int(((placed.among == k) & (y[300:320] == k)).sum()), int((y[300:320] == k).sum()))
        for k in np.unique(y[300:320])}
    with pytest.raises(ValueError, match="Expected a layer of this model"):
        place_images(model, "hidden layer 9", feats, coords, y[:300], images[:2])
