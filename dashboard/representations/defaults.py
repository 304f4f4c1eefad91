"""The Representations page's defaults, defined once: the server's point caps, the layers a map
shows first and its default settings. The controls, the state and the server's warm-up all read
them here, so the warm-up prepares exactly the maps a first visit asks for."""
from __future__ import annotations

import os

from analysis import embedding

PERPLEXITY, ITERATIONS, SEED = 30, 750, 0


def cap(variable: str, default: int) -> int:
    """A server limit from the environment (a bad value keeps the default)."""
    try:
        return max(5, int(os.environ.get(variable, default)))
    except ValueError:
        return default


def point_caps() -> dict[str, int]:
    """The most points a map may have on the CPU and on a GPU (NETLENS_MAX_POINTS_CPU / _GPU)."""
    return {"cpu_cap": cap("NETLENS_MAX_POINTS_CPU", 5_000), "gpu_cap": cap("NETLENS_MAX_POINTS_GPU", 20_000)}


def sample_bounds(n_available: int, gpu: bool) -> tuple[int, int, int]:
    """(smallest, default, largest) sample size for a map of `n_available` digits."""
    return embedding.sample_size_bounds(n_available, gpu, **point_caps())


def default_layers(reps: list[str]) -> list[str]:
    """The layers shown first: the pixels, the first hidden layer (or conv block) and the logits."""
    return [r for r in reps if r == "pixels" or r.startswith("hidden layer 1") or r.startswith("conv block 1")
            or r == "logits"][:3]


def default_perplexity(n: int) -> int:
    """30, or less for few points (t-SNE needs more points than three times the perplexity)."""
    return min(max(1, min(100, int(embedding.max_perplexity(n)))), PERPLEXITY)
