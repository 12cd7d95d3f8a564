"""The running pipeline: perception paths, engine and publishing, live or from recordings."""
