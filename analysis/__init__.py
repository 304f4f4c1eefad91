"""NetLens analysis: pure Python (no Streamlit). Images, kernels, convolution,
datasets, models, training, embeddings and metrics."""
