"""Moved: the stability study is one experiment, :mod:`experiments.stability`; this
command is ``python -m experiments.stability untrained`` (:mod:`experiments.stability.backbones`).

``python -m experiments.denoisers ...`` still runs it, and says so."""

import sys

if __name__ == "__main__":
    from .stability.__main__ import main

    notice = "experiments.denoisers is now `python -m experiments.stability untrained`"
    print(notice, file=sys.stderr)
    main(["untrained", *sys.argv[1:]])
else:
    raise ImportError("experiments.denoisers moved to experiments.stability.backbones")
