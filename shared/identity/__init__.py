"""Who is calling: token verification, the caller's principal, and what it may see."""
