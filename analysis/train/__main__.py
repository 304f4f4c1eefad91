"""python -m analysis.train: see analysis/train/cli.py."""
import sys

from analysis.train.cli import main

sys.exit(main())
