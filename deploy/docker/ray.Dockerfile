# The NetLens Ray image: registry.example.edu/netlens-ray (deploy/kubernetes/raycluster.yaml), for the
# head and the GPU workers. Ray's own image at the Ray version pinned in requirements.txt (Python 3.11,
# CUDA), plus exactly requirements.txt, so a job runs the same packages as the app server that sent it.
# It runs as Ray's user `ray` (uid 1000, not root). The app sends its own `analysis` package with each
# job (NETLENS_RAY_UPLOAD_CODE unset), so this image needs no NetLens code.
# Downloads at build time: the base image (Docker Hub) and requirements.txt (PyPI), nothing else.
#
# Build and push from the repository root (README, "Images"):
#   docker build -f deploy/docker/ray.Dockerfile -t registry.example.edu/netlens-ray:2.60.0 .
#   docker push registry.example.edu/netlens-ray:2.60.0
FROM rayproject/ray:2.60.0-py311-gpu

LABEL org.opencontainers.image.title="netlens-ray" \
      org.opencontainers.image.description="Ray for NetLens jobs with the pinned requirements.txt"

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 RAY_USAGE_STATS_ENABLED=0

COPY --chown=1000:100 requirements.txt /tmp/netlens-requirements.txt
RUN pip install --no-cache-dir -r /tmp/netlens-requirements.txt && rm /tmp/netlens-requirements.txt

USER 1000
