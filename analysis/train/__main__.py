"""python -m analysis.train: the training command line (analysis/compute/cluster/train_cli.py), which is
also what the cluster back end runs for a training job. An entry point: it may import any layer."""
import sys

from analysis.compute.cluster.train_cli import main

sys.exit(main())
