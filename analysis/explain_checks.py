"""Are the maps of analysis/explain.py any good? Two checks.

- Sanity check (Adebayo et al., NeurIPS 2018): the same maps from the same architecture with
  random weights; the Spearman rank correlation of |map| and of the signed map between the two,
  over the digit's ink. It fails when either |rho| >= SANITY_THRESHOLD (0.5): the map then
  depends too little on what the model learned.
- Deletion check: remove the pixels the map ranks highest first, and watch the confidence fall.

Maps are numpy arrays (H, W) float32; the image is (H, W) in [0, 1]. No Streamlit here.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from analysis.explain import (
    ExplainConfig,
    Explanation,
    as_image,
    check_class,
    check_explain_config,
    integrated_gradients,
    logits,
    occlusion,
)

# ---------------------------------------------------------------- sanity check

def randomized_copy(model: nn.Module, seed: int = 1) -> nn.Module:
    """A copy of the model with every weight redrawn at random (PyTorch's default
    initialisation, seeded): same architecture, nothing learned. The original is untouched."""
    clone = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for m in clone.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                weight = torch.empty(m.weight.shape)
                nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=gen)
                bound = 1 / math.sqrt(m.weight[0].numel())
                m.weight.copy_(weight)
                if m.bias is not None:
                    m.bias.copy_(torch.empty(m.bias.shape).uniform_(-bound, bound, generator=gen))
    return clone.eval()


def ink_mask(image, level: float = 0.1) -> np.ndarray:
    """The pixels with ink (value above `level`), (H, W) bool."""
    return as_image(image) > level


def rank_correlation(map_a, map_b, mask=None, signed: bool = False) -> float:
    """Spearman rank correlation between |map_a| and |map_b| (the maps themselves when `signed`)
    over the pixels in `mask` (all when None); NaN when either is constant there. Near 1: the maps
    rank the pixels alike; near -1 (signed): alike but with the signs flipped.
    Pass the digit's ink_mask(): off the ink, a black-baseline map is 0 for *any* model (IG is
    pixel × gradient, an occluded empty patch changes nothing), and those shared zeros alone make
    trained and random-weight maps correlate (measured on a small CNN: 0.86-0.99 over all
    pixels, -0.2-0.5 over the ink)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(map_a, np.float64), np.asarray(map_b, np.float64)
    if not signed:
        a, b = np.abs(a), np.abs(b)
    if a.shape != b.shape:
        raise ValueError(f"Expected two maps of the same shape; got {np.shape(map_a)} and {np.shape(map_b)}.")
    if mask is not None:
        mask = np.asarray(mask, bool)
        if mask.shape != a.shape:
            raise ValueError(f"Expected a mask of the maps' shape {a.shape}; got {mask.shape}.")
        a, b = a[mask], b[mask]
    a, b = a.ravel(), b.ravel()
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


# ---------------------------------------------------------------- deletion check

@dataclass(frozen=True)
class DeletionCurve:
    shares: np.ndarray             # share of the pixels removed, 0 to 1
    confidence: np.ndarray         # probability of the class, pixels removed in the map's order
    random_confidence: np.ndarray  # the same in random orders (mean over config.random_orders)
    auc: float                     # area under `confidence` (lower: the map found what matters)
    random_auc: float              # area under `random_confidence`


def deletion_curve(model: nn.Module, image, attribution, target: int, config: ExplainConfig = ExplainConfig(),
                   seed: int = 0) -> DeletionCurve:
    """Set pixels to the baseline in the order of `attribution` (highest score first) and record
    the model's probability for `target` after each step, beside random orders (seeded). All
    steps of all orders go through the model in one batch."""
    check_explain_config(config)
    image = as_image(image)
    attribution = np.asarray(attribution, np.float64)
    if attribution.shape != image.shape:
        raise ValueError(f"Expected a map of the image's shape {image.shape}; got {attribution.shape}.")
    n_classes = logits(model, image[None]).shape[1]
    target = check_class(target, n_classes, "class to explain")
    n = image.size
    rng = np.random.default_rng(seed)
    orders = [np.argsort(-attribution.ravel(), kind="stable")] + [rng.permutation(n)
                                                                   for _ in range(config.random_orders)]
    counts = np.round(np.linspace(0, n, config.deletion_steps + 1)).astype(int)
    batch = np.repeat(image.reshape(1, -1), len(orders) * len(counts), axis=0)
    for i, order in enumerate(orders):
        for j, k in enumerate(counts):
            batch[i * len(counts) + j, order[:k]] = config.baseline
    probs = F.softmax(torch.from_numpy(logits(model, batch.reshape(-1, *image.shape))).double(), dim=1)
    conf = probs[:, target].numpy().reshape(len(orders), len(counts))
    shares = counts / n
    random_conf = conf[1:].mean(0)
    return DeletionCurve(shares=shares, confidence=conf[0], random_confidence=random_conf,
                         auc=float(np.trapezoid(conf[0], shares)), random_auc=float(np.trapezoid(random_conf, shares)))




SANITY_THRESHOLD = 0.5  # |rho| at or above it, trained vs random: the map fails the sanity check


@dataclass(frozen=True)
class SanityVerdict:
    """One map's sanity check: trained vs randomised model, over the digit's ink."""
    abs_rho: float     # Spearman of |map| (NaN: a map is flat there, or no ink)
    signed_rho: float  # Spearman of the signed maps
    passed: bool
    reason: str        # one line, in words

    @property
    def words(self) -> str:
        return "passes" if self.passed else "fails"


def sanity_verdict(trained_map, random_map, mask=None, threshold: float = SANITY_THRESHOLD) -> SanityVerdict:
    """Fails when either |rho| (of the absolute maps, of the signed maps) is >= `threshold`, or when
    the maps cannot be compared (flat over the ink); passes otherwise."""
    if not 0 < float(threshold) <= 1:
        raise ValueError(f"Expected a threshold between 0 and 1; got {threshold}. Use e.g. 0.5.")
    a = rank_correlation(trained_map, random_map, mask)
    s = rank_correlation(trained_map, random_map, mask, signed=True)
    if math.isnan(a) or math.isnan(s):
        return SanityVerdict(a, s, False, "cannot be checked: a map is flat over the digit's ink, so it says "
                                          "nothing about what the model learned.")
    if abs(s) >= threshold:
        how = "the same" if s > 0 else "the same, with the colours flipped"
        return SanityVerdict(a, s, False, f"the signed maps rank the ink {how} (|ρ| = {abs(s):.2f} ≥ {threshold:g}): "
                                          "the map depends too little on what the model learned.")
    if abs(a) >= threshold:
        return SanityVerdict(a, s, False, f"the absolute maps rank the ink alike (|ρ| = {abs(a):.2f} ≥ "
                                          f"{threshold:g}): the map depends too little on what the model learned.")
    return SanityVerdict(a, s, True, f"the random model's map ranks the ink differently (both |ρ| < {threshold:g}): "
                                     "the map depends on what the model learned.")


@dataclass(frozen=True)
class SanityCheck:
    random_occlusion: np.ndarray              # (H, W): the same map from the randomised model
    random_integrated_gradients: np.ndarray   # (H, W)
    occlusion: SanityVerdict                  # trained vs random over the ink
    ig: SanityVerdict

    @property
    def occlusion_correlation(self) -> float:
        """Spearman of |map| over the ink, trained vs random (NaN: a map is constant there, or no ink)."""
        return self.occlusion.abs_rho

    @property
    def ig_correlation(self) -> float:
        return self.ig.abs_rho


def sanity_check(model: nn.Module, image, explanation: Explanation, random_model: nn.Module | None = None,
                 config: ExplainConfig = ExplainConfig()) -> SanityCheck:
    """The explanation's maps again from `random_model` (default: randomized_copy(model)), and
    each map's verdict (sanity_verdict over the digit's ink pixels). If they look alike, the
    explanation is not explaining the model."""
    random_model = randomized_copy(model) if random_model is None else random_model
    t, c = explanation.target, explanation.contrast
    rand_occ = occlusion(random_model, image, t, c, config)
    rand_ig = integrated_gradients(random_model, image, t, c, config)
    ink = ink_mask(image)
    return SanityCheck(rand_occ, rand_ig, sanity_verdict(explanation.occlusion, rand_occ, ink),
                       sanity_verdict(explanation.integrated_gradients, rand_ig, ink))
