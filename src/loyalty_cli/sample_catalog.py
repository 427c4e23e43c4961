"""The synthetic shop's catalogue: its categories (SKU prefix, number of SKUs, median price, share of favourites,
rate and dropout multipliers), each SKU's product name, and the sales channels. :mod:`loyalty_cli.sample` draws
the customers, orders, surveys and contacts from it (see its module doc)."""

from __future__ import annotations

import numpy as np

# category, SKU prefix, number of SKUs, median price, share of favourites, rate and dropout multipliers
# (in SKU text order: SKU numbers then sort like SKU names)
CATALOG = (
    ("Accessories", "ACC", 10, 18.0, 0.17, 0.9, 1.0),
    ("Coffee", "COF", 12, 12.0, 0.38, 1.1, 1.0),
    ("Equipment", "EQP", 8, 120.0, 0.08, 0.6, 1.3),
    ("Gifts", "GFT", 6, 35.0, 0.10, 0.5, 1.5),
    ("Subscriptions", "SUB", 3, 29.0, 0.10, 1.8, 0.6),
    ("Tea", "TEA", 10, 8.5, 0.17, 1.0, 1.0),
)
CATEGORY_SHARE = np.array([c[4] for c in CATALOG]) / sum(c[4] for c in CATALOG)
# Each SKU's name (the ``product_name`` column), in SKU order per category. Not drawn at random: a column added
# after the others, that changes none of them (nor any figure the README quotes).
PRODUCT_NAMES = {
    "Accessories": (
        "Ceramic mug",
        "Travel tumbler",
        "Milk frother",
        "Paper filters 100",
        "Reusable filter",
        "Coffee scoop",
        "Tea infuser",
        "Storage canister",
        "Cleaning tablets",
        "Descaler",
    ),
    "Coffee": (
        "House blend 250 g",
        "House blend 1 kg",
        "Espresso roast 250 g",
        "Espresso roast 1 kg",
        "Colombia Supremo 250 g",
        "Ethiopia Yirgacheffe 250 g",
        "Brazil Santos 250 g",
        "Guatemala Antigua 250 g",
        "Decaf blend 250 g",
        "Kenya AA 250 g",
        "Sumatra Mandheling 250 g",
        "Cold brew blend 500 g",
    ),
    "Equipment": (
        "Burr grinder",
        "Pour-over kit",
        "French press",
        "Moka pot",
        "Gooseneck kettle",
        "Espresso machine",
        "Scale and timer",
        "Cold brew maker",
    ),
    "Gifts": (
        "Gift card",
        "Tasting box",
        "Coffee lover's gift set",
        "Tea lover's gift set",
        "Advent calendar",
        "Mug and beans set",
    ),
    "Subscriptions": ("Monthly coffee box", "Monthly tea box", "Espresso subscription"),
    "Tea": (
        "English breakfast 100 g",
        "Earl Grey 100 g",
        "Sencha green 100 g",
        "Jasmine pearls 50 g",
        "Chamomile 50 g",
        "Peppermint 50 g",
        "Rooibos 100 g",
        "Chai masala 100 g",
        "Darjeeling 100 g",
        "Oolong 50 g",
    ),
}
CHANNELS = ("web", "app", "store")
