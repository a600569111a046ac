"""Research probes of the AHD and of track-based alternatives (not part of the product).

Each module answers one question about what limits the AHD; research/README.md gives the
question, the answer and the command (``python -m research.<probe> ...`` from the repository
root). Product code (``tvau_ros``) and its tests never import this package.
"""
