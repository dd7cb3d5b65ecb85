"""The stability study: when do recurrent video denoisers go unstable, and what prevents it?

One experiment with three commands, ``python -m experiments.stability <command> ...``:

* ``untrained`` (:mod:`.backbones`): the study's backbones (VDnCNN, VResNet) with every way
  of recurring, untrained, run on random input for thousands of frames (Tanay et al.'s
  Fig. 2);
* ``camera`` (:mod:`.camera`): the same models trained on natural images under synthetic
  camera motion, then run over long sequences: PSNR, instability onsets, temporal
  receptive field, and the cures (SRN, SRN-C, dampening, the unitary recurrences);
* ``small`` (:mod:`.small`): a small feature-recurrent denoiser on noisy Moving-MNIST,
  unconstrained against SRN-C and a rotation conv-GRU (the first, quick comparison).

``python -m experiments.stability --help`` lists them; each command takes ``--help``.
The former ``experiments.denoisers`` and ``experiments.denoising`` commands still run
(they name the command to use instead).
"""
