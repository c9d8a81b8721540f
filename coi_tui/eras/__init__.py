"""COI's two eras, each whole in its own package; `seam` is what the layers above see."""
