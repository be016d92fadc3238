"""Shop data shared by several services and the load generator."""

from __future__ import annotations

ITEMS: list[tuple[str, str, int]] = [
    ("vegan-kale", "Vegan Kale Smoothie", 650),
    ("green-glow", "Green Glow", 590),
    ("spirulina-shot", "Spirulina Shot", 250),
    ("oat-latte", "Oat Latte", 420),
    ("acai-bowl", "Açaí Bowl", 890),
    ("chia-pudding", "Chia Pudding", 480),
]
SKUS = [sku for sku, _, _ in ITEMS]
OUTFITS = ["linen", "hoodie", "suit", "tracksuit", "pyjamas", "cape"]
USERS = range(1000, 1100)
ZONES = ["north", "south", "east", "west", "centre"]
