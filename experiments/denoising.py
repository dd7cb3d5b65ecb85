"""Moved: the stability study is one experiment, :mod:`experiments.stability`; this
command is ``python -m experiments.stability camera`` (:mod:`experiments.stability.camera`).

``python -m experiments.denoising ...`` still runs it, and says so."""

import sys

if __name__ == "__main__":
    from .stability.__main__ import main

    notice = "experiments.denoising is now `python -m experiments.stability camera`"
    print(notice, file=sys.stderr)
    main(["camera", *sys.argv[1:]])
else:
    raise ImportError("experiments.denoising moved to experiments.stability.camera")
