"""Code that runs inside emitted modules; its source is copied into them, so it imports only torch (and torchvision.ops)."""
