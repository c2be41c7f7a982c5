"""python checks; each module imported here registers its checks."""
