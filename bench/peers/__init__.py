"""What users would run instead of kanserve, measured side by side with it by bench/serving.py."""
