"""ts.torch_handler: BaseHandler only (the built-in image/text handlers need PyTorch)."""
