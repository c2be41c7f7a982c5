"""web checks; each module imported here registers its checks."""
