"""Tail sampling: which whole traces to keep once their spans have arrived.

``policies`` holds the policy functions and their registry, ``config`` the policy file and
``--tail-sampling-rate``; the stage that applies them is ``pipeline/tail_sampler.py``.
"""
