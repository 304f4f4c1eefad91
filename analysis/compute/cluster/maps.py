"""The map command line (the cluster back end's entrypoint for a t-SNE or PCA map, and for one
layer's map over training):

    python -m analysis.compute.cluster.maps --config '{"features": "<sha256>", "labels": "<sha256>", "method": "tsne",
                                       "perplexity": 30, "n_iter": 750, "seed": 0}' --store DIR --key KEY
    python -m analysis.compute.cluster.maps --replay --config '{"recording": "<sha256>", "layer": "logits",
                                                "config": {"method": "tsne", "seed": 0}}' --store DIR --key KEY

The features (an (n, d) float32 array: one layer's outputs for the sampled digits) and the labels
are read from the store by content hash (analysis.compute.store): the app server that asked for the map
has them already, so the same command maps any model's layer (trained, stopped, uploaded) and the
cluster never rebuilds a model or sees a user's data as anything but arrays. With ``--replay`` the
store holds a training's recording (every layer after every epoch; analysis.recording) and the
command computes the aligned frames of one layer (analysis.replay). Prints one JSON line per
progress step, writes the result under the job key, then one final JSON line. Exit status 2 for
bad settings, 3 when it stopped because no app server watched it.
No Streamlit, no Ray here.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.compute.cluster.job import STOPPED_EXIT, emit, map_job, replay_job, same_version, set_threads
from analysis.compute.jobspec import parse_map_spec, parse_replay_spec
from analysis.compute.store import Store


def main(argv=None) -> int:

    parser = argparse.ArgumentParser(prog="python -m analysis.compute.cluster.maps",
                                     description="A t-SNE or PCA map of features stored by content hash, or "
                                                 "(--replay) one layer's map over training.")
    parser.add_argument("--config", metavar="JSON", required=True,
                        help='{"features": sha256, "labels": sha256, "method": "tsne"|"pca", "perplexity": 30, '
                             '"n_iter": 750, "seed": 0}; with --replay {"recording": sha256, "layer": name, '
                             '"config": {ReplayConfig fields}}')
    parser.add_argument("--replay", action="store_true", help="map one recorded layer over training")
    parser.add_argument("--store", type=Path, metavar="DIR", required=True, help="the shared store")
    parser.add_argument("--key", metavar="KEY", required=True, help="the job key to write the result under")
    parser.add_argument("--code-version", metavar="HASH", help="the app server's code version (checked first)")
    args = parser.parse_args(argv)
    if (mismatch := same_version(args.code_version)) is not None:
        return mismatch
    try:
        parse, job = (parse_replay_spec, replay_job) if args.replay else (parse_map_spec, map_job)
        spec = parse(args.config)
        store = Store(str(args.store))
        set_threads()
        done = job(spec, store, args.key)
    except ValueError as e:
        parser.error(str(e))
    if not done:
        emit("stopped", message="stopped: no app server watches this job any more")
        return STOPPED_EXIT
    emit("done", key=args.key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
