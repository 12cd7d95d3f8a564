"""`moodsense eval`: score a model on a labelled manifest of recordings or images."""
