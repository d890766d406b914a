"""Small helpers shared by training and tools: image conversion and atomic file writes."""
