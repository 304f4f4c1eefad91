# The NetLens app server image: registry.example.edu/netlens-app (deploy/kubernetes/app.yaml).
# Python 3.11 and exactly requirements.txt (every package pinned there); the app's own files owned by
# root and read-only to the user it runs as (uid 10001, not root); it writes only to /tmp (HOME) and
# the store (NETLENS_STORE), so the pod runs with a read-only root file system.
# Downloads at build time: the base image (Docker Hub) and requirements.txt (PyPI), nothing else.
#
# Build and push from the repository root (README, "Images"):
#   docker build -f deploy/docker/app.Dockerfile -t registry.example.edu/netlens-app:1.0.0 .
#   docker push registry.example.edu/netlens-app:1.0.0
FROM python:3.11.7-slim-bookworm

LABEL org.opencontainers.image.title="netlens-app" \
      org.opencontainers.image.description="NetLens app server (Streamlit) with the pinned requirements.txt"

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp MPLCONFIGDIR=/tmp/matplotlib STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

COPY requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r /app/requirements.txt

COPY .streamlit /app/.streamlit
COPY analysis /app/analysis
COPY dashboard /app/dashboard
COPY pages /app/pages

RUN useradd --uid 10001 --user-group --no-create-home --home-dir /tmp --shell /usr/sbin/nologin netlens
USER 10001:10001
WORKDIR /app
EXPOSE 8501
CMD ["python", "-m", "streamlit", "run", "dashboard/app.py", "--server.address", "0.0.0.0", "--server.port", "8501", \
     "--server.headless", "true", "--server.fileWatcherType", "none"]
