"""LIT inference runtime: turns Lambda events into model inputs and back.

Runs inside the function image. Never imports the `lit` CLI package.
"""
