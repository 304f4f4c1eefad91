"""The exact back end: t-SNE with the full P matrix and the exact O(n^2) gradient in PyTorch
(on a CUDA GPU, or on the CPU for tests and small n), with scikit-learn's optimiser."""
from __future__ import annotations

import logging
import math

import numpy as np

log = logging.getLogger(__name__)

# Exact PyTorch t-SNE (the GPU back end): scikit-learn's optimiser.
TORCH_MOMENTUM = (0.5, 0.8)  # during / after early exaggeration
TORCH_MIN_GAIN = 0.01
TORCH_MIN_LEARNING_RATE = 50.0
TORCH_PERPLEXITY_STEPS = 100  # binary-search steps of the perplexity calibration
TORCH_PERPLEXITY_TOL = 1e-5  # on the entropy (nats)
TORCH_MEMORY_FACTOR = 32  # bytes per point pair the exact method needs at peak (about)


def fits_on_gpu(n: int) -> bool:
    import torch

    try:
        free, _total = torch.cuda.mem_get_info()
    except Exception:  # pragma: no cover - only on odd CUDA setups
        return True
    return n * n * TORCH_MEMORY_FACTOR < 0.8 * free


def joint_probabilities(z, perplexity: float, torch, dev):
    """Full symmetric P (n x n, float32) from squared Euclidean distances, each
    row's Gaussian bandwidth found by binary search so its perplexity matches
    (as in van der Maaten's reference code and scikit-learn's exact method)."""
    x = torch.as_tensor(z, dtype=torch.float64, device=dev)
    n = x.shape[0]
    sq = (x * x).sum(1)
    d = torch.addmm(sq[:, None] + sq[None, :], x, x.T, alpha=-2.0).clamp_min_(0.0)
    d.fill_diagonal_(float("inf"))
    # Shift each row by its smallest distance (P is unchanged) so the nearest
    # neighbour gets exp(0) = 1: no underflow to an all-zero row. Then scale all
    # distances by one number so a bandwidth of 1 is the right order.
    d -= d.min(dim=1, keepdim=True).values
    d.fill_diagonal_(0.0)
    scale = d.sum() / (n * (n - 1))
    if scale > 0:
        d /= scale
    target = math.log(perplexity)
    beta = torch.ones(n, 1, dtype=torch.float64, device=dev)
    lo = torch.zeros_like(beta)
    hi = torch.full_like(beta, float("inf"))
    p = torch.empty_like(d)
    for step in range(TORCH_PERPLEXITY_STEPS):
        torch.mul(d, -beta, out=p).exp_()
        p.fill_diagonal_(0.0)
        sum_p = p.sum(1, keepdim=True)
        entropy = torch.log(sum_p) + beta * (d * p).sum(1, keepdim=True) / sum_p
        diff = entropy - target
        if step % 10 == 9 and bool((diff.abs() < TORCH_PERPLEXITY_TOL).all()):
            break
        too_flat = diff > 0  # entropy too high: narrow the Gaussian (raise beta)
        lo = torch.where(too_flat, beta, lo)
        hi = torch.where(too_flat, hi, beta)
        beta = torch.where(
            too_flat,
            torch.where(torch.isinf(hi), beta * 2.0, (beta + hi) / 2.0),
            (beta + lo) / 2.0,
        )
    torch.mul(d, -beta, out=p).exp_()
    p.fill_diagonal_(0.0)
    p /= p.sum(1, keepdim=True)
    del d
    p = p + p.T
    p /= p.sum()
    p = p.to(torch.float32).clamp_min_(1e-12)
    p.fill_diagonal_(0.0)
    return p


def kl_gradient(p, y, ones):
    """Exact gradient of KL(P || Q) with respect to the map y (n x 2):
    grad_i = 4 * sum_j (p_ij - q_ij) (y_i - y_j) / (1 + |y_i - y_j|^2)."""
    import torch

    sq = (y * y).sum(1)
    # num_ij = 1 / (1 + |y_i - y_j|^2) (Student-t kernel), zero diagonal
    num = torch.addmm(sq[:, None], y, y.T, alpha=-2.0)
    num.add_(sq[None, :] + 1.0).clamp_min_(1.0).reciprocal_()
    num.fill_diagonal_(0.0)
    inv_z = num.sum().reciprocal()
    # w_ij = (p_ij - q_ij) * num_ij, with q_ij = num_ij / Z
    w = torch.addcmul(p, num, inv_z, value=-1.0).mul_(num)
    # one pass over w gives both sum_j w_ij and sum_j w_ij y_j
    r = w @ torch.cat([y, ones], dim=1)
    return 4.0 * (r[:, 2:] * y - r[:, :2])


def run(z, init, perplexity, n_iter, n_ee, exaggeration, on_progress, every, device):
    """Exact t-SNE (full P, exact O(n^2) gradient) in PyTorch with
    scikit-learn's optimiser: early exaggeration 12 with momentum 0.5 for the
    first n_ee iterations, then momentum 0.8; per-coordinate gains (+0.2 when
    the gradient changes sign, x0.8 otherwise, at least 0.01); learning rate
    max(n / 12 / 4, 50)."""
    import torch

    dev = torch.device(device)
    n = z.shape[0]
    log.info("t-SNE: exact PyTorch t-SNE on %d points (%s)", n, device)
    p = joint_probabilities(z, perplexity, torch, dev)
    y = torch.as_tensor(init, dtype=torch.float32, device=dev).clone()
    update = torch.zeros_like(y)
    gains = torch.ones_like(y)
    lr = max(n / exaggeration / 4.0, TORCH_MIN_LEARNING_RATE)
    p_early = p * exaggeration if n_ee else None
    ones = torch.ones(n, 1, dtype=y.dtype, device=dev)
    for it in range(n_iter):
        early = it < n_ee
        p_now = p_early if early else p
        momentum = TORCH_MOMENTUM[0] if early else TORCH_MOMENTUM[1]
        if it == n_ee:
            p_early = None  # free it
        grad = kl_gradient(p_now, y, ones)
        same_sign = (update * grad) >= 0.0
        gains = torch.where(same_sign, gains * 0.8, gains + 0.2).clamp_min_(TORCH_MIN_GAIN)
        update = momentum * update - lr * gains * grad
        y = y + update
        done = it + 1
        if on_progress is not None and done % every == 0:
            if on_progress(done, y.detach().cpu().numpy().astype(np.float32)) is False:
                break
    return y.detach().cpu().numpy().astype(np.float32)
